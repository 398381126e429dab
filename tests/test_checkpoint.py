"""Checkpoints: format and version inside, the previous one kept and used, a full disk named, one lock per run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.checkpoint import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, load_latest_checkpoint, save_checkpoint
from zoo.errors import ZooError
from zoo.run_folder import RunLock


def _payload(step: int) -> dict:
    return {"method": {"w": torch.full((3,), float(step))}, "state": {"step": step}}


def test_save_records_format_and_version_and_keeps_the_previous(tmp_path: Path) -> None:
    last = tmp_path / "last.pt"
    save_checkpoint(last, _payload(1))
    save_checkpoint(last, _payload(2))
    assert load_checkpoint(last)["state"]["step"] == 2
    assert load_checkpoint(tmp_path / "previous.pt")["state"]["step"] == 1
    raw = torch.load(last, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["zoo_version"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "previous.pt"]


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_an_unreadable_last_falls_back_to_previous(tmp_path: Path, damage: str) -> None:
    last = tmp_path / "last.pt"
    save_checkpoint(last, _payload(1))
    save_checkpoint(last, _payload(2))
    data = last.read_bytes()
    last.write_bytes({"truncated": data[: len(data) // 2], "random": os.urandom(500), "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=f"checkpoint {last} is unreadable"):
        load_checkpoint(last)
    lines: list[str] = []
    assert load_latest_checkpoint(last, log=lines.append)["state"]["step"] == 1
    assert len(lines) == 1 and str(last) in lines[0] and "previous.pt" in lines[0]
    (tmp_path / "previous.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="previous.pt is unreadable"):
        load_latest_checkpoint(last, log=lines.append)


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save({**_payload(1), "format": CHECKPOINT_FORMAT + 1, "zoo_version": "9.0"}, path)
    with pytest.raises(CheckpointError, match=r"format 2 \(written by zoo 9.0\); this zoo .* reads format 1"):
        load_checkpoint(path)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fill a disk")
def test_a_full_disk_names_the_last_good_checkpoint_and_removes_the_temp(tmp_path: Path) -> None:
    last = tmp_path / "last.pt"
    save_checkpoint(last, _payload(1))
    (tmp_path / "last.pt.tmp").symlink_to("/dev/full")  # every write into the temporary file fails with ENOSPC
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(last, _payload(2))
    assert str(caught.value) == f"no space left on device while saving checkpoint {last}; last good checkpoint: {last}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert load_checkpoint(last)["state"]["step"] == 1


def test_a_run_lock_refuses_a_second_holder_and_takes_over_a_dead_ones(tmp_path: Path) -> None:
    holder = rf"in use by process {os.getpid()}@{socket.gethostname()}"
    with RunLock(tmp_path), pytest.raises(ZooError, match=holder):
        RunLock(tmp_path).acquire()
    assert not (tmp_path / "lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "lock").write_text(f"{dead.stdout.strip()}@{socket.gethostname()}")
    with RunLock(tmp_path) as lock:  # the pid has exited: a stale lock does not block
        assert (tmp_path / "lock").read_text() == lock.owner
    (tmp_path / "lock").write_text("123@another-host")
    with pytest.raises(ZooError, match="123@another-host .*delete the lock file"):
        RunLock(tmp_path).acquire()
