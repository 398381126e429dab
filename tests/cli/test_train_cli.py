"""End to end through the CLI: train on the embedded data, resume, compare, and user errors (exit 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.train import TrainingDiverged, train

QUICK = [
    "method.proj_hidden_dim=64",
    "method.proj_output_dim=32",
    "backbone.name=test_resnet",
    "backbone.image_size=28",
    "backbone.small_stem=false",
    "data.fraction=0.04",
    "schedule.epochs=2",
    "schedule.batch_size=50",
    "schedule.warmup_epochs=1",
    "schedule.log_every=2",
    "eval.knn_k=20",
    "eval.linear_epochs=2",
    "eval.linear_augment=false",
]
QUICKSTART = str(Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml")


def _sets(out_dir: Path, extra: list[str] = ()) -> list[str]:
    args = []
    for item in [*QUICK, f'run.out_dir="{out_dir}"', *extra]:
        args += ["--set", item]
    return args


def test_train_then_compare_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", QUICKSTART, *_sets(tmp_path)]) == 0
    run = tmp_path / "quickstart"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "eval.json",
        "metrics.jsonl",
        "recipe.toml",
        "summary.json",
    ]
    assert (run / "checkpoints" / "last.pt").is_file()
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all(m["loss"] > 0 and m["images_per_s"] > 0 and m["seconds"] > 0 for m in metrics)
    assert "knn_top1" in metrics[-1] and "online_linear_top1" in metrics[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "mi-binary" and summary["complete"] and summary["steps"] == 16
    keys = ("knn_top1", "knn_top1_init", "knn_top1_pixels", "online_linear_top1")
    for key in (*keys, "linear_top1", "linear_top5", "linear_top1_init", "linear_top1_pixels"):
        assert 0.0 <= summary[key] <= 100.0
    assert summary["gain_over_init"] == pytest.approx(summary["knn_top1"] - summary["knn_top1_init"])
    capsys.readouterr()

    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    assert main(["compare", str(run), "--markdown", str(md), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "mi-binary" in out and "test_resnet" in out
    assert md.read_text().startswith("| run | method |")
    assert json.loads(js.read_text())[0]["knn_top1"] == summary["knn_top1"]

    assert main(["train", QUICKSTART, *_sets(tmp_path)]) == 0  # a second run never overwrites the first
    assert (tmp_path / "quickstart-2" / "summary.json").is_file()


def test_resumed_run_ends_like_an_uninterrupted_one(tmp_path: Path) -> None:
    overrides = [*QUICK, f'run.out_dir="{tmp_path}"']
    whole = train(QUICKSTART, overrides)
    first = train(QUICKSTART, overrides, stop_after_epoch=1)
    assert not (first.run_dir / "summary.json").exists()
    resumed = train(None, resume=first.run_dir)
    volatile = ("images_per_s", "wall_s")
    for key, value in whole.summary.items():
        if key not in volatile:
            assert resumed.summary[key] == value, key
    strip = lambda path: [  # noqa: E731
        {k: v for k, v in json.loads(line).items() if k not in ("images_per_s", "seconds")}
        for line in path.read_text().splitlines()
    ]
    assert strip(resumed.run_dir / "metrics.jsonl") == strip(whole.run_dir / "metrics.jsonl")


def _run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`zoo ARGS` in this process (fast); the exit code as the console script would return it."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    return code, capsys.readouterr().err


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_user_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad_toml = _write(tmp_path / "bad.toml", "[run\nname = 'x'\n")
    cases = {
        "malformed TOML": (["train", bad_toml], "malformed TOML"),
        "unknown method": (["train", QUICKSTART, "--set", "method.name=simclrr"], "unknown method 'simclrr'"),
        "misspelt key": (["train", QUICKSTART, "--set", "schedule.epoch=3"], "unknown key schedule.epoch"),
        "wrong type": (["train", QUICKSTART, "--set", "schedule.epochs=ten"], "expected int"),
        "negative epochs": (["train", QUICKSTART, "--set", "schedule.epochs=-2"], "schedule.epochs"),
        "zero batch": (["train", QUICKSTART, "--set", "schedule.batch_size=0"], "schedule.batch_size"),
        "unknown dataset": (["train", QUICKSTART, "--set", "data.dataset=cifar11"], "unknown dataset 'cifar11'"),
        "missing data": (
            ["train", QUICKSTART, "--set", "data.dataset=cifar10", "--set", f'data.root="{tmp_path / "none"}"'],
            "not found",
        ),
        "bad --set": (["train", QUICKSTART, "--set", "optim.lr"], "expected section.key=value"),
        "missing recipe": (["train", str(tmp_path / "nope.toml")], "not found"),
        "unknown verb": (["fly"], "invalid choice"),
        "compare non-run": (["compare", str(tmp_path)], "no summary.json"),
        "resume non-run": (["train", "--resume", str(tmp_path)], "not a run folder"),
        "eval non-run": (["eval", str(tmp_path)], "not a run folder"),
        "eval bad --set": (["eval", str(tmp_path), "--set", "optim.lr=1"], "[eval] keys only"),
        "missing suite": (["suite", str(tmp_path / "nope.toml")], "not found"),
        "suite bad key": (["suite", _write(tmp_path / "s.toml", "[[run]]\nrecipy = 'a.toml'\n")], "unknown key"),
        "suite bad recipe": (
            ["suite", _write(tmp_path / "t.toml", f"[[run]]\nrecipe = '{QUICKSTART}'\noverrides = ['eval.knn_k=0']\n")],
            "run 'quickstart'",
        ),
    }
    for name, (args, expected) in cases.items():
        code, err = _run_cli(*args, capsys=capsys)
        lines = err.strip().splitlines()
        assert code == 2, f"{name}: exit {code}: {err}"
        assert len(lines) == 1 and expected in lines[0], f"{name}: {err}"
    assert not (tmp_path / "runs").exists(), "a failed start must not leave a run folder"


def test_console_script_exit_code_and_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "train", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"zoo: error: recipe file {str(tmp_path / 'nope.toml')!r} not found"]


@pytest.mark.parametrize("what", ["methods", "datasets", "recipes", "augments"])
def test_list(what: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    assert {"methods": "mi-binary", "datasets": "fashion-mnist-small", "recipes": "quickstart", "augments": "mio"}[
        what
    ] in out


def test_list_backbones_with_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backbones", "resnet1*"]) == 0
    assert "resnet18" in capsys.readouterr().out


def test_non_finite_loss_stops_naming_the_step(tmp_path: Path) -> None:
    overrides = [*QUICK, f'run.out_dir="{tmp_path}"', "optim.lr=1e30", "schedule.warmup_epochs=0"]
    with pytest.raises(TrainingDiverged, match=r"non-finite at step \d+ \(epoch 1\)"):
        train(QUICKSTART, overrides)
    assert not (tmp_path / "quickstart" / "summary.json").exists()
