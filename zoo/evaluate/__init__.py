"""Evaluation of representations: kNN (`knn.py`), the offline linear probe (`linear.py`), the online probe trained
beside pre-training (`online.py`) and the evaluation of a whole run folder (`run.py`, `zoo eval`)."""

from __future__ import annotations

from zoo.evaluate.knn import embed_all, evaluate_knn, extract_features, knn_top1, pixels
from zoo.evaluate.linear import LinearProtocol, LinearResult, evaluate_linear, train_linear_probe
from zoo.evaluate.online import OnlineLinearProbe

__all__ = [
    "LinearProtocol",
    "LinearResult",
    "OnlineLinearProbe",
    "embed_all",
    "evaluate_knn",
    "evaluate_linear",
    "extract_features",
    "knn_top1",
    "pixels",
    "train_linear_probe",
]
