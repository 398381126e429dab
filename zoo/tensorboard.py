"""TensorBoard event files in the run folder (`[run] tensorboard = true`): the training scalars at every logging
interval (by step), the epoch records (by epoch) and the recipe as text. `tensorboard --logdir runs` shows them.

The tensorboard package is an optional dependency (`pip install 'ssl-zoo[tensorboard]'`); a recipe asking for it
without the package fails before the run folder is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError

FOLDER = "tensorboard"  # inside the run folder
MISSING = "[run] tensorboard = true needs the tensorboard package: pip install 'ssl-zoo[tensorboard]'"


class TensorBoardLogger:
    """Writes nothing unless enabled; the trainer calls it the same way either way."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._writer: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: F401 (imports tensorboard)
            except ImportError:
                raise ZooError(MISSING) from None

    def open(self, run_dir: Path, recipe_toml: str, step: int = 0) -> None:
        """Start the run's log, or continue it at `step` on resume; the recipe goes in as text.

        On resume, events of steps after the checkpoint's (written by the interrupted process) are purged, so the
        curves show each step once. Epoch events are numbered by epoch, never above the step, so they stay.
        """
        if not self.enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(run_dir / FOLDER), purge_step=step + 1 if step else None)
        if not step:
            self._writer.add_text("recipe", "```toml\n" + recipe_toml + "\n```")  # markdown: shown as a code block

    def interval(self, step: int, scalars: dict[str, float]) -> None:
        """The values of one logging interval ("train/loss", "train/lr", "train/images_per_s") at `step`."""
        if self._writer is not None:
            for name, value in scalars.items():
                self._writer.add_scalar(f"train/{name}", value, step)

    def epoch(self, record: dict[str, Any]) -> None:
        """An epoch's record (loss, kNN and online linear top-1, speed, ...) at its epoch number."""
        if self._writer is not None:
            for name, value in record.items():
                if name not in ("epoch", "step") and isinstance(value, int | float):
                    self._writer.add_scalar(f"epoch/{name}", value, record["epoch"])
            self._writer.flush()  # an epoch is written as soon as it ends, so a live TensorBoard shows it

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
