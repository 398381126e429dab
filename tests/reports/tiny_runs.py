"""The tiny runs' settings: the suite tests' tiny quickstart, evaluated every epoch (curves), logged every 2 steps."""

from __future__ import annotations

from tests.cli.test_eval_suite import QUICKSTART
from tests.cli.test_eval_suite import TINY as SUITE_TINY

TINY = [*SUITE_TINY, "schedule.log_every=2", "eval.knn_every=1", "eval.linear_epochs=1"]
PAPER = ["paper.value=70.0", 'paper.metric="knn top-1"', 'paper.source="a test source"']
__all__ = ["PAPER", "QUICKSTART", "TINY"]
