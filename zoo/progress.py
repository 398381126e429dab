"""Progress display for long work: a rich bar on a terminal, one plain line per epoch elsewhere (logs, CI)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    """Shows epoch, loss, lr, images/s and ETA; `update` is called once per logging interval, not per step."""

    def __init__(self, console: Console, total_steps: int, done_steps: int, epochs: int) -> None:
        self.console, self.epochs = console, epochs
        self.live = console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[ips]} img/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.live,
        )
        self._task = self._progress.add_task(
            "train", total=total_steps, completed=done_steps, epoch=0, epochs=epochs, loss="-", lr="-", ips="-"
        )

    def __enter__(self) -> TrainProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def update(self, *, step: int, epoch: int, loss: float, lr: float, images_per_s: float) -> None:
        self._progress.update(
            self._task, completed=step, epoch=epoch, loss=f"{loss:.4f}", lr=f"{lr:.3g}", ips=f"{images_per_s:.0f}"
        )

    def epoch_done(self, record: dict) -> None:
        knn = f"  kNN top-1 {record['knn_top1']:.2f}" if "knn_top1" in record else ""
        line = (
            f"epoch {record['epoch']}/{self.epochs}  loss {record['loss']:.4f}  lr {record['lr']:.3g}  "
            f"{record['images_per_s']:.0f} img/s  {record['seconds']:.1f} s{knn}"
        )
        self.console.print(line, highlight=False)  # above the live bar on a terminal, a log line elsewhere


@contextmanager
def work_progress(console: Console | None, description: str, total: int) -> Iterator[Callable[[], None]]:
    """A rich bar for long work besides training (linear probes); yields `advance()`. Silent off a terminal."""
    progress = Progress(
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=console is None or not console.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)
