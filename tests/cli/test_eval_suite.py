"""Linear evaluation through the trainer, `zoo eval` and `zoo suite` (interrupted and resumed), on tiny runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo.suite
from zoo.cli import main
from zoo.methods import get_method_class
from zoo.report import compare, to_json
from zoo.suite import run_suite
from zoo.train import TrainingInterrupted, train

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
TINY = [
    "method.proj_hidden_dim=64",
    "method.proj_output_dim=32",
    "data.fraction=0.02",
    "schedule.epochs=2",
    "schedule.batch_size=50",
    "schedule.warmup_epochs=1",
    "schedule.log_every=4",
    "eval.knn_k=20",
    "eval.linear_epochs=3",
    "eval.linear_augment=false",
]


def _metrics(run_dir: Path, drop: tuple[str, ...] = ()) -> list[dict]:
    skip = ("images_per_s", "seconds", *drop)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in skip} for line in lines]


def test_online_probe_leaves_training_unchanged_and_labels_stay_out_of_the_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = get_method_class("mi-binary")
    seen: list[object] = []
    loss = cls.loss
    monkeypatch.setattr(cls, "loss", lambda self, views, labels=None: seen.append(labels) or loss(self, views, labels))
    base = [*TINY, f'run.out_dir="{tmp_path}"', "eval.linear_epochs=0", "schedule.epochs=1"]
    with_probe = train(QUICKSTART, [*base, "run.name=probe"]).run_dir
    without = train(QUICKSTART, [*base, "run.name=none", "eval.online_linear=false"]).run_dir
    assert seen and all(labels is None for labels in seen)
    assert _metrics(with_probe, ("online_linear_top1",)) == _metrics(without)
    assert "online_linear_top1" in _metrics(with_probe)[-1] and "online_linear_top1" not in _metrics(without)[-1]


def _suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    overrides = ", ".join(f"'{item}'" for item in TINY)
    path.write_text(
        f"[suite]\nname = 'tiny'\nout_dir = '{tmp_path / 'runs'}'\noverrides = [{overrides}]\n\n"
        f"[[run]]\nrecipe = '{QUICKSTART}'\nname = 'first'\n\n"
        f"[[run]]\nrecipe = '{QUICKSTART}'\nname = 'second'\noverrides = ['method.tau_neg=0.2']\n"
    )
    return path


def test_interrupted_suite_resumes_skipping_finished_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite, calls = _suite_file(tmp_path), []

    def interrupt_second(recipe, overrides=(), *, resume=None, console=None):
        calls.append(resume)
        if len(calls) == 1:
            return train(recipe, console=console)
        stopped = train(recipe, stop_after_epoch=1, console=console)
        raise TrainingInterrupted(stopped.run_dir)

    monkeypatch.setattr(zoo.suite, "train", interrupt_second)
    with pytest.raises(TrainingInterrupted):
        run_suite(suite)
    first, second = tmp_path / "runs" / "tiny" / "first", tmp_path / "runs" / "tiny" / "second"
    assert (first / "summary.json").is_file() and not (second / "summary.json").exists()
    rows = compare([first, second])  # one unfinished run does not fail the table
    assert rows[0]["complete"] and rows[1]["epochs"] == "1/2 (unfinished)"

    def spy(recipe, overrides=(), *, resume=None, console=None):
        calls.append(resume)
        return train(recipe, resume=resume, console=console)

    calls.clear()
    monkeypatch.setattr(zoo.suite, "train", spy)
    result = run_suite(suite)
    assert calls == [second]  # the finished run is skipped, the interrupted one resumed
    assert (result.folder / "comparison.json").read_text() == to_json(compare([first, second]))
    assert "| run | method |" in (result.folder / "comparison.md").read_text()
    page = (result.folder / "comparison.html").read_text()  # the suite's HTML report, settings side by side
    assert '<tr class="differs"><td class="text">method.tau_neg</td>' in page

    capsys.readouterr()  # the CLI: every run finished, so nothing trains and the table is printed
    assert main(["suite", str(suite)]) == 0
    assert "first" in capsys.readouterr().out

    before = json.loads((first / "summary.json").read_text())
    assert main(["eval", str(first), "--knn"]) == 0  # the same numbers again: the init is rebuilt exactly
    after = json.loads((first / "summary.json").read_text())
    for key in ("knn_top1", "knn_top1_init", "knn_top1_pixels", "linear_top1"):
        assert after[key] == before[key], key
    assert main(["eval", str(first), "--linear", "--set", "eval.linear_epochs=1"]) == 0  # another protocol
    results = json.loads((first / "eval.json").read_text())
    assert results["linear"]["protocol"]["epochs"] == 1 == after["linear_protocol"]["epochs"] - 2
    assert json.loads((first / "summary.json").read_text())["linear_protocol"]["epochs"] == 1
    assert results["knn"]["top1"] == before["knn_top1"]
