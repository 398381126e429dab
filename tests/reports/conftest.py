"""Two tiny real runs (the quickstart recipe, shrunk) that the report, show, export and TensorBoard tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.tiny_runs import PAPER, QUICKSTART, TINY
from zoo.train import train


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run "a" (with a paper number, TensorBoard on) and run "b" (another tau_neg), finished."""
    out = tmp_path_factory.mktemp("runs")
    common = [*TINY, f'run.out_dir="{out}"']
    a = train(QUICKSTART, [*common, "run.name=a", "run.tensorboard=true", *PAPER]).run_dir
    b = train(QUICKSTART, [*common, "run.name=b", "method.tau_neg=0.2"]).run_dir
    return a, b
