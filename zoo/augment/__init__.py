"""Multi-view augmentation on the batch's device; presets are data (see `presets.py`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from zoo.augment.normalize import NORMALIZATION, resolve_normalization, to_model_input
from zoo.augment.pipeline import MultiViewAugment
from zoo.augment.presets import PRESETS, AugmentPreset, preset_fields
from zoo.registry import unknown

__all__ = [
    "NORMALIZATION",
    "PRESETS",
    "AugmentPreset",
    "MultiViewAugment",
    "create_augment",
    "list_augments",
    "to_model_input",
]


def create_augment(
    preset: str,
    *,
    image_size: int,
    n_views: int = 2,
    n_local: int = 0,
    local_size: int | None = None,
    normalize: str | Sequence[Sequence[float]] = "cifar10",
    **overrides: Any,
) -> MultiViewAugment:
    """The multi-view augmentation of preset `preset` (see `list_augments()`), any field replaced by `overrides`.

    `normalize` is a NORMALIZATION dataset name or an explicit (mean, std) pair.
    """
    base = PRESETS.get(preset)
    valid = preset_fields()
    for name in overrides:
        if name not in valid:
            raise unknown("augmentation field", name, valid)
    mean, std = resolve_normalization(normalize)
    return MultiViewAugment(
        dataclasses.replace(base, **overrides),
        image_size=image_size,
        n_views=n_views,
        n_local=n_local,
        local_size=local_size,
        mean=mean,
        std=std,
    )


def list_augments(pattern: str | None = None) -> list[str]:
    """Registered augmentation preset names, optionally filtered by an fnmatch pattern such as "sim*"."""
    return PRESETS.list(pattern)
