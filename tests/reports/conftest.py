"""Two tiny real runs (the quickstart recipe, shrunk) that the report, show, export and TensorBoard tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.tiny_runs import PAPER, QUICKSTART, TINY
from zoo.train import train


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run "a" (with a paper number, TensorBoard on, trained in two chunks) and run "b" (another tau_neg)."""
    out = tmp_path_factory.mktemp("runs")
    common = [*TINY, f'run.out_dir="{out}"']
    a = train(QUICKSTART, [*common, "run.name=a", "run.tensorboard=true", *PAPER], stop_after_epoch=1).run_dir
    train(None, resume=a)  # in two chunks: TensorBoard's log continues in a second event file
    b = train(QUICKSTART, [*common, "run.name=b", "method.tau_neg=0.2"]).run_dir
    return a, b
