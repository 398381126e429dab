"""Checkpoints that are never half-written: write a temporary file beside the target, then rename it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never a torn one


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)


def keeps_checkpoint(keep: int | list[int], epoch: int) -> bool:
    """Whether `[run] keep_checkpoints` (every N epochs, or a list of epochs; 0 or [] for none) keeps `epoch`."""
    return epoch in keep if isinstance(keep, list) else keep > 0 and epoch % keep == 0


def copy_checkpoint(source: Path, target: Path) -> None:
    """A copy of a written checkpoint (e.g. last.pt -> epoch-10.pt), never half-written either."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
