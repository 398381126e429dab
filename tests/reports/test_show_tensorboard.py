"""`zoo show RUN_DIR` (settings, summary, provenance, curves drawn with rich) and `[run] tensorboard = true`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reports.tiny_runs import QUICKSTART, TINY
from zoo.cli import main
from zoo.errors import ZooError
from zoo.show import column_chart
from zoo.train import train


def test_show_prints_settings_summary_provenance_and_curves(
    two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(two_runs[0])]) == 0
    out = capsys.readouterr().out
    for text in ("tau_neg = 0.1", "knn top-1", "provenance: zoo", "recipe hash", "pre-training loss", "kNN top-1"):
        assert text in out, text
    assert "epoch 1 .. 2" in out and any(block in out for block in "▁▂▃▄▅▆▇█")


def test_column_chart_draws_each_value_as_a_column() -> None:
    rows = column_chart([0.0, 1.0, 0.4], lo=0.0, hi=1.0, height=2)
    assert rows == [" █ ", "▁█▇"]  # top row first: the maximum fills both rows, the minimum keeps a sliver


def test_tensorboard_events_in_the_run_folder(two_runs: tuple[Path, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(two_runs[0] / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/images_per_s", "epoch/loss", "epoch/knn_top1"} <= scalars
    assert len(list((two_runs[0] / "tensorboard").glob("events.out.tfevents.*"))) == 2  # trained, then resumed
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6, 8]  # 4 steps an epoch, logged every 2
    assert [e.step for e in events.Scalars("epoch/knn_top1")] == [1, 2]
    (recipe,) = events.Tensors("recipe/text_summary")  # once, not again on resume
    assert "tau_neg = 0.1" in recipe.tensor_proto.string_val[0].decode()
    assert not (two_runs[1] / "tensorboard").exists()  # off by default


def test_tensorboard_missing_is_named_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(ZooError, match=r"ssl-zoo\[tensorboard\]"):
        train(QUICKSTART, [*TINY, f'run.out_dir="{tmp_path}"', "run.tensorboard=true"])
    assert not list(tmp_path.iterdir())
