"""`zoo compare`: a paper number is compared only with our number of the same metric; unfinished runs are rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.report import compare, to_markdown

SUMMARY = {
    "method": "mi-binary",
    "backbone": "resnet18",
    "dataset": "cifar10",
    "epochs": 200,
    "epochs_done": 200,
    "complete": True,
    "knn_top1": 84.0,
    "online_linear_top1": 85.0,
    "linear_top1": 86.0,
}


def _run(tmp_path: Path, name: str, **changes: object) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(SUMMARY | changes))
    return run


def test_delta_only_between_the_same_metric(tmp_path: Path) -> None:
    paper = {"value": 86.36, "source": "MIO v3"}
    runs = [
        _run(tmp_path, "linear", paper=paper | {"metric": "linear top-1"}),
        _run(tmp_path, "online", paper=paper | {"metric": "online linear top-1"}),
        _run(tmp_path, "knn", paper=paper | {"metric": "knn top-1"}),
        _run(tmp_path, "unmeasured", paper=paper | {"metric": "linear top-1"}, linear_top1=None),
        _run(tmp_path, "no metric", paper=paper | {"metric": ""}),
    ]
    rows = compare(runs)
    assert [row["delta"] for row in rows[:3]] == pytest.approx([86.0 - 86.36, 85.0 - 86.36, 84.0 - 86.36])
    assert rows[3]["delta"] is None and rows[3]["cross_metric"]
    assert rows[4]["delta"] is None and rows[4]["cross_metric"]
    markdown = to_markdown(rows)
    assert "| -* |" in markdown and "only between the same metric" in markdown


def test_an_unfinished_run_is_listed_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = _run(tmp_path, "done")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "recipe.toml").write_text(
        '[method]\nname = "simclr"\n[backbone]\nname = "resnet18"\n[data]\ndataset = "cifar10"\n'
        "[schedule]\nepochs = 200\n"
    )
    (unfinished / "metrics.jsonl").write_text('{"epoch": 1, "seconds": 3.0, "knn_top1": 20.0}\n')
    assert main(["compare", str(done), str(unfinished)]) == 0
    rows = compare([done, unfinished])
    assert rows[1]["epochs"] == "1/200 (unfinished)" and rows[1]["knn_top1"] == 20.0
    assert "unfinished" in capsys.readouterr().out
