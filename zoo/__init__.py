"""zoo: self-supervised representation learning around mi-binary (MIO), the binary mutual-information loss.

The public API is re-exported here and imported lazily, so `zoo --help` does not pay for torch, timm and kornia.
"""

from __future__ import annotations

import importlib
from typing import Any

from zoo.errors import DataError, PretrainedWeightsError, RecipeError, SuiteError, UnknownNameError, ZooError

__version__ = "0.1.0"

_LAZY = {
    "create_method": "zoo.methods",
    "list_methods": "zoo.methods",
    "register_method": "zoo.methods",
    "Method": "zoo.methods",
    "MIBinaryLoss": "zoo.methods.mi_binary",
    "mi_binary_grad": "zoo.methods.mi_binary",
    "create_backbone": "zoo.backbones",
    "list_backbones": "zoo.backbones",
    "create_augment": "zoo.augment",
    "list_augments": "zoo.augment",
    "create_dataset": "zoo.data",
    "list_datasets": "zoo.data",
    "load_recipe": "zoo.recipes",
    "train": "zoo.train",
    "compare": "zoo.report",
    "analyze_hessian": "zoo.analysis",
    "analyze_gradient": "zoo.analysis",
    "evaluate_linear": "zoo.evaluate",
    "evaluate_run": "zoo.evaluate.run",
    "run_suite": "zoo.suite",
    "export_backbone": "zoo.export",
    "load_backbone": "zoo.export",
}

__all__ = [
    "DataError",
    "PretrainedWeightsError",
    "RecipeError",
    "SuiteError",
    "UnknownNameError",
    "ZooError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
