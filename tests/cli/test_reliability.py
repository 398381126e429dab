"""Nothing lost, nobody out of bounds: signals, resume rules, broken checkpoints, a full disk, locks, bad paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch

from tests.cli.test_train_cli import QUICKSTART, _run_cli, _sets
from zoo.cli import main
from zoo.train import train


def _epochs(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def _one_error_line(code: int, err: str, expected: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
    assert code == 2 and len(lines) == 1 and expected in lines[0], f"exit {code}: {err}"


def _start(tmp_path: Path, extra: list[str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "zoo", "train", QUICKSTART, *_sets(tmp_path, extra)]
    return subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_saves_a_checkpoint_and_resume_continues(tmp_path: Path, signum: int, code: int) -> None:
    proc = _start(tmp_path, ["schedule.epochs=200"])
    try:
        for line in proc.stderr:  # wait until training is under way
            if line.startswith("epoch 1/"):
                break
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == code
        assert "zoo train --resume" in proc.stderr.read()
    finally:
        proc.kill()
    run = tmp_path / "quickstart"
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["state"]
    assert saved["step"] > 8 and not (run / "lock").exists()
    train(None, resume=run, stop_after_epoch=saved["epoch"] + 1)
    assert _epochs(run) == list(range(1, saved["epoch"] + 2))


def test_ctrl_c_before_training_leaves_a_resumable_run_or_none(tmp_path: Path) -> None:
    proc = _start(tmp_path, ["schedule.epochs=200", "eval.linear_epochs=30"])  # a long initial evaluation
    run = tmp_path / "quickstart"
    try:
        deadline = time.monotonic() + 120
        while not (run / "recipe.toml").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # during the initial kNN / linear evaluation
        assert proc.wait(timeout=120) == 130
    finally:
        proc.kill()
    if run.exists():
        assert (run / "checkpoints" / "last.pt").is_file()
        train(None, resume=run, stop_after_epoch=1)
        assert _epochs(run) == [1]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", QUICKSTART, *_sets(out)]) == 0
    return out / "quickstart"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("method.name=mi-binary-naive", "--resume cannot change method.name ('mi-binary' -> 'mi-binary-naive')"),
        ("backbone.name=resnet10t", "--resume cannot change backbone.name"),
        ("optim.lr=0.01", "--resume cannot change optim.lr"),
        ("schedule.epochs=1", "schedule.epochs=1 is below the 2 epochs this run has done already"),
    ],
)
def test_resume_refuses_overrides_that_change_the_run(
    finished_run: Path, override: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = (finished_run / "recipe.toml").read_text()
    code, err = _run_cli("train", "--resume", str(finished_run), "--set", override, capsys=capsys)
    _one_error_line(code, err, expected)
    assert (finished_run / "recipe.toml").read_text() == recipe


def test_resume_refuses_a_held_run_and_a_checkpoint_of_another_run(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = finished_run / "lock"
    lock.write_text(f"{os.getpid()}@{os.uname().nodename}")  # a live process holds it
    try:
        code, err = _run_cli("train", "--resume", str(finished_run), capsys=capsys)
        _one_error_line(code, err, f"is in use by process {os.getpid()}@")
    finally:
        lock.unlink()
    other = tmp_path / "other"
    (other / "checkpoints").mkdir(parents=True)
    (other / "recipe.toml").write_text((finished_run / "recipe.toml").read_text().replace("seed = 0", "seed = 7"))
    (other / "checkpoints" / "last.pt").write_bytes((finished_run / "checkpoints" / "last.pt").read_bytes())
    code, err = _run_cli("train", "--resume", str(other), capsys=capsys)
    _one_error_line(code, err, "belongs to another run (run.seed = 0 there, 7 in this run's recipe.toml)")


def test_extending_a_run_then_a_full_disk_then_a_broken_checkpoint(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, checkpoints = finished_run, finished_run / "checkpoints"
    train(None, ["schedule.epochs=4"], resume=run, stop_after_epoch=3)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2, 3] and metrics[2]["lr"] > 0.01  # on the rebuilt schedule
    assert tomllib.loads((run / "recipe.toml").read_text())["schedule"]["epochs"] == 4
    assert (checkpoints / "epoch-2.pt").is_file() and not (run / "summary.json").exists()  # the old end, kept

    if Path("/dev/full").exists():
        (checkpoints / "last.pt.tmp").symlink_to("/dev/full")  # the disk is full when epoch 4 is saved
        code, err = _run_cli("train", "--resume", str(run), capsys=capsys)
        _one_error_line(code, err, f"no space left on device while saving checkpoint {checkpoints / 'last.pt'}")
        assert "last good checkpoint:" in err and not (checkpoints / "last.pt.tmp").exists()
        assert _epochs(run) == [1, 2, 3]  # the epoch whose save failed is not logged
    assert main(["train", "--resume", str(run)]) == 0
    assert _epochs(run) == [1, 2, 3, 4]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_done"] == 4 and summary["complete"] and summary["steps"] == 32

    last = checkpoints / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated
    code, err = _run_cli("train", "--resume", str(run), capsys=capsys)
    assert code == 0 and f"checkpoint {last} is unreadable" in err and "using the previous checkpoint" in err
    assert _epochs(run) == [1, 2, 3, 4]


def test_bad_places_and_sizes_stop_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, err = _run_cli("train", QUICKSTART, "--set", f'run.out_dir="{blocker / "runs"}"', capsys=capsys)
    _one_error_line(code, err, f"run.out_dir {str(blocker / 'runs')!r} cannot be created: {str(blocker)!r} is a file")
    sets = _sets(tmp_path, ["backbone.name=convnext_atto"])
    code, err = _run_cli("train", QUICKSTART, *sets, capsys=capsys)
    _one_error_line(code, err, "backbone 'convnext_atto' cannot embed 28 px images")
    assert "the smallest size it takes is 32 px" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_compare_on_broken_summaries_and_missing_folders(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for content, expected in (("{}", "lacks method"), ("[1, 2]", "expected a JSON object"), ("{", "not valid JSON")):
        run = tmp_path / "broken"
        run.mkdir(exist_ok=True)
        (run / "summary.json").write_text(content)
        code, err = _run_cli("compare", str(run), capsys=capsys)
        _one_error_line(code, err, f"{run / 'summary.json'} ")
        assert expected in err
    target = tmp_path / "missing" / "table.md"
    code, err = _run_cli("compare", str(finished_run), "--markdown", str(target), capsys=capsys)
    _one_error_line(code, err, f"No such file or directory: {target}")
