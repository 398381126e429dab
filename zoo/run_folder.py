"""The run folder on disk: where it may go, creating it without overwriting another, one process at a time, and
small files replaced atomically."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

LOCK_NAME = "lock"


def check_out_dir(out_dir: Path) -> None:
    """A user error now, before data and model are loaded, if runs cannot be created under `out_dir`."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ZooError(f"run.out_dir {str(out_dir)!r} cannot be created: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ZooError(f"run.out_dir {str(out_dir)!r} cannot be created: no permission to write in {str(existing)!r}")


def new_run_dir(out_dir: Path, name: str) -> Path:
    """`<out_dir>/<name>`, or `<name>-2`, `<name>-3`, ... if taken: a run never overwrites another."""
    out_dir.mkdir(parents=True, exist_ok=True)
    candidate, n = out_dir / name, 1
    while True:
        try:
            candidate.mkdir()  # exclusive: two runs started at once never share a folder
            break
        except FileExistsError:
            n += 1
            candidate = out_dir / f"{name}-{n}"
    (candidate / "checkpoints").mkdir()
    return candidate


def start_run_dir(out_dir: Path, name: str, run_dir: str | Path | None, recipe_text: str) -> Path:
    """A new run's folder with its recipe.toml: `run_dir` if given (`--run-dir`, which a restarted torchrun worker
    finds again), else the next free `<out_dir>/<name>`."""
    if run_dir is None:
        folder = new_run_dir(out_dir, name)
    else:
        folder = Path(run_dir)
        if folder.is_dir() and any(folder.iterdir()) and not (folder / "recipe.toml").is_file():
            raise ZooError(f"--run-dir {str(folder)!r} exists and is not a run folder (no recipe.toml)")
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        (folder / "metrics.jsonl").unlink(missing_ok=True)  # a start that died before its first checkpoint
    write_text_atomic(folder / "recipe.toml", recipe_text)
    return folder


def lock_on_main(run_dir: Path, is_main: bool) -> contextlib.AbstractContextManager[Any]:
    """The run folder's lock, held by rank 0 for the whole job (the other ranks would find it taken)."""
    return RunLock(run_dir) if is_main else contextlib.nullcontext()


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers (and a crash) see the old content or the new, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


class RunLock:
    """`<run_dir>/lock` holds "pid@host" while a process trains the run; a second one is refused naming the holder.

    A lock left by a process that died on this host is taken over; one from another host (a shared file system)
    can only be judged by the user, so the message says which file to delete.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self.owner = f"{os.getpid()}@{socket.gethostname()}"
        self.held = False

    def acquire(self) -> None:
        for _ in range(2):  # the second try follows the removal of a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not _is_stale(holder):
                    raise ZooError(
                        f"run folder {str(self.path.parent)!r} is in use by process {holder} (lock file "
                        f"{self.path}); wait for it, or delete the lock file if that process is gone"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(self.owner)
            self.held = True
            return
        raise ZooError(f"run folder {str(self.path.parent)!r}: could not take its lock file {self.path}")

    def release(self) -> None:
        if self.held and self._holder() == self.owner:
            self.path.unlink(missing_ok=True)
        self.held = False

    def _holder(self) -> str | None:
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _is_stale(holder: str) -> bool:
    pid, _, host = holder.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False
