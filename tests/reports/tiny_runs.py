"""The tiny runs' settings: the quickstart recipe shrunk to seconds on a CPU."""

from __future__ import annotations

from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
TINY = [
    "method.proj_hidden_dim=64",
    "method.proj_output_dim=32",
    "data.fraction=0.02",
    "schedule.epochs=2",
    "schedule.batch_size=50",
    "schedule.warmup_epochs=1",
    "schedule.log_every=2",
    "eval.knn_k=20",
    "eval.knn_every=1",
    "eval.linear_epochs=1",
    "eval.linear_augment=false",
]
PAPER = ["paper.value=70.0", 'paper.metric="knn top-1"', 'paper.source="a test source"']
