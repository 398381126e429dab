"""Checkpoints that are never half-written and never the only copy.

A save writes a temporary file beside the target, fsyncs it, moves the current `last.pt` to `previous.pt`, renames
the temporary file to `last.pt` and fsyncs the folder, so a crash or power loss at any point leaves at least one
complete checkpoint (the rename pattern of SQLite and ext4's data=ordered advice; see `man 2 fsync`). A full disk
removes the temporary file and names the last good checkpoint. Loading checks the format version and falls back to
`previous.pt` when `last.pt` cannot be read.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError

CHECKPOINT_FORMAT = 1  # raise when the payload's layout changes; older zoo versions then refuse newer files
PREVIOUS_NAME = "previous.pt"


class CheckpointError(ZooError):
    """A checkpoint that cannot be written, read, or used for this run."""


def _zoo_version() -> str:
    from zoo import __version__

    return __version__


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` (plus format and zoo version) to `path`, keeping the file it replaces as `previous.pt`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:  # a file object: a full disk surfaces as OSError(ENOSPC), not a torch error
            torch.save({**payload, "format": CHECKPOINT_FORMAT, "zoo_version": _zoo_version()}, f)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(_save_failure(err, path)) from None
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS_NAME))
    os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never a torn one
    _fsync_dir(path.parent)


def _save_failure(err: OSError, path: Path) -> str:
    what = "no space left on device" if err.errno == errno.ENOSPC else (err.strerror or str(err))
    good = [p for p in (path, path.with_name(PREVIOUS_NAME)) if p.is_file()]
    kept = f"last good checkpoint: {good[0]}" if good else "no checkpoint written yet"
    return f"{what} while saving checkpoint {path}; {kept}"


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (a directory fsync; not possible on every platform or file system)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The payload of one checkpoint file; a file that is unreadable or of a newer format is a `CheckpointError`."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} not found") from None
    except Exception as err:  # torch raises many types (UnpicklingError, RuntimeError, EOFError) for a broken file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or not a checkpoint: {first})") from None
    if not isinstance(payload, dict) or "method" not in payload or "state" not in payload:
        raise CheckpointError(f"checkpoint {path} is not a zoo training checkpoint")
    version = payload.get("format", CHECKPOINT_FORMAT)  # files from before versioning have format 1's layout
    if version != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {version} (written by zoo {payload.get('zoo_version', '?')}); "
            f"this zoo {_zoo_version()} reads format {CHECKPOINT_FORMAT}"
        )
    return payload


def load_latest_checkpoint(
    path: Path, device: torch.device | str = "cpu", log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`path` (last.pt), or the previous checkpoint beside it when `path` is unreadable (said in one line)."""
    try:
        return load_checkpoint(path, device)
    except CheckpointError as err:
        previous = path.with_name(PREVIOUS_NAME)
        if not previous.is_file():
            raise
        log(f"{err}; using the previous checkpoint {previous}")
        return load_checkpoint(previous, device)


def keeps_checkpoint(keep: int | list[int], epoch: int) -> bool:
    """Whether `[run] keep_checkpoints` (every N epochs, or a list of epochs; 0 or [] for none) keeps `epoch`."""
    return epoch in keep if isinstance(keep, list) else keep > 0 and epoch % keep == 0


def copy_checkpoint(source: Path, target: Path) -> None:
    """A copy of a written checkpoint (e.g. last.pt -> epoch-10.pt), never half-written either."""
    tmp = target.with_name(target.name + ".tmp")
    try:
        shutil.copyfile(source, tmp)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(_save_failure(err, source)) from None
    os.replace(tmp, target)
