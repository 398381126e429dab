"""Augmentation presets as data: one frozen dataclass, one table row per preset.

A preset says what each view gets; `zoo.augment.pipeline` turns it into kornia pipelines. Size-dependent choices
(the papers' presets drop blur on 32 px CIFAR and add it on 96 px STL-10) are fields (`blur_min_size`,
`solarize_min_size`), never special cases on a preset's name. A new preset is one more row in `_TABLE`.

Two kinds of rows: the papers' own presets (`simclr`, `byol`, `mio`) and solo-learn's CIFAR augmentation files
(`solo-symmetric`, `solo-symmetric-weak`, `solo-asymmetric`, `solo-vicreg`), reproduced field by field: their
blur probabilities hold at 32 px, their blur is PIL's radius-sigma Gaussian (a 13-tap kernel covers 3 sigma at
sigma 2) and their crops are bicubic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from zoo.errors import RecipeError
from zoo.registry import Registry

_PAIRS = ("crop_scale", "crop_ratio", "local_crop_scale", "blur_sigma")
_PER_VIEW = ("blur_p", "solarize_p")
_PROBABILITIES = ("flip_p", "jitter_p", "gray_p", "local_blur_p", "local_solarize_p")
INTERPOLATIONS = ("bilinear", "bicubic")


@dataclass(frozen=True)
class AugmentPreset:
    """What every view of one preset gets; `blur_p` and `solarize_p` hold one probability per view, cycled.

    Lists (as TOML gives them) are turned into tuples and a bare number into a one-view tuple, so a preset built
    from a recipe compares equal to one written in Python. Bad values raise `RecipeError`.
    """

    description: str
    source: str
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    crop_interpolation: str = "bilinear"  # "bicubic" as torchvision/PIL in solo-learn (clamped to [0, 1])
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)  # brightness, contrast, saturation, hue
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: tuple[float, ...] = (0.0,)
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_frac: float = 0.1
    blur_kernel_size: int = 0  # > 0: this odd size at every view size; 0: `blur_kernel_frac` of the size
    blur_min_size: int = 96
    solarize_p: tuple[float, ...] = (0.0,)
    solarize_threshold: float = 0.5
    solarize_min_size: int = 0
    local_crop_scale: tuple[float, float] = (0.05, 0.4)
    local_blur_p: float = 0.5
    local_solarize_p: float = 0.0

    def __post_init__(self) -> None:
        for name in (*_PAIRS, "jitter", *_PER_VIEW):
            value = getattr(self, name)
            value = (value,) if isinstance(value, int | float) else value
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise RecipeError(f"augmentation field {name!r} must be a list of numbers, got {value!r}")
            object.__setattr__(self, name, tuple(_number(name, v) for v in value))
        for name in (*_PROBABILITIES, "blur_kernel_frac", "solarize_threshold"):
            object.__setattr__(self, name, _number(name, getattr(self, name)))
        if self.crop_interpolation not in INTERPOLATIONS:
            raise RecipeError(
                f"augmentation field 'crop_interpolation' must be one of {', '.join(INTERPOLATIONS)}, "
                f"got {self.crop_interpolation!r}"
            )
        for name in ("blur_min_size", "solarize_min_size", "blur_kernel_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RecipeError(f"augmentation field {name!r} must be a whole number of pixels, got {value!r}")
        self._validate()

    def _validate(self) -> None:
        for name in _PAIRS:
            pair = getattr(self, name)
            if len(pair) != 2 or not 0 <= pair[0] <= pair[1]:
                raise RecipeError(f"augmentation field {name!r} must be [low, high] with 0 <= low <= high")
        for name in ("crop_scale", "local_crop_scale"):
            if not 0 < getattr(self, name)[0] <= getattr(self, name)[1] <= 1:
                raise RecipeError(f"augmentation field {name!r} must lie in (0, 1], got {getattr(self, name)}")
        if len(self.jitter) != 4 or min(self.jitter) < 0 or self.jitter[3] > 0.5:
            raise RecipeError(
                "augmentation field 'jitter' must be [brightness, contrast, saturation, hue], all >= 0, "
                f"hue <= 0.5; got {self.jitter}"
            )
        for name in _PER_VIEW:
            if not getattr(self, name):
                raise RecipeError(f"augmentation field {name!r} needs at least one probability")
        for name in (*_PER_VIEW, *_PROBABILITIES, "solarize_threshold"):
            for p in _as_tuple(getattr(self, name)):
                if not 0 <= p <= 1:
                    raise RecipeError(f"augmentation field {name!r} must be in [0, 1], got {getattr(self, name)}")
        if self.blur_kernel_frac <= 0 or self.blur_sigma[0] <= 0 or self.crop_ratio[0] <= 0:
            raise RecipeError("augmentation fields 'blur_kernel_frac', 'blur_sigma', 'crop_ratio' must be positive")

    def blur_kernel(self, size: int) -> int:
        """The blur kernel for `size` px views: `blur_kernel_size` if set, else `blur_kernel_frac` of the size,
        made odd (SimCLR: 10 %, 23 at 224)."""
        kernel = self.blur_kernel_size or int(self.blur_kernel_frac * size)
        return max(3, kernel + 1 - kernel % 2)


def preset_fields() -> list[str]:
    """The field names an override may set."""
    return [f.name for f in fields(AugmentPreset)]


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecipeError(f"augmentation field {name!r} needs numbers, got {value!r}")
    return float(value)


def _as_tuple(value: float | tuple[float, ...]) -> tuple[float, ...]:
    return value if isinstance(value, tuple) else (value,)


# What every solo-learn CIFAR file shares beyond AugmentPreset's defaults: bicubic crops, blur at any size with
# PIL's radius = sigma in [0.1, 2] (solo-learn solo/data/pretrain_dataloader.py).
_SOLO: dict[str, Any] = {"crop_interpolation": "bicubic", "blur_min_size": 0, "blur_kernel_size": 13}

_TABLE: dict[str, AugmentPreset] = {
    "simclr": AugmentPreset(
        description="SimCLR: symmetric crop, flip, strong colour jitter, grey, blur from 96 px",
        source="Chen et al. 2020, A Simple Framework for Contrastive Learning (SimCLR), appendix A; "
        "blur dropped on CIFAR-10 as in its appendix B.9",
        blur_p=(0.5,),
    ),
    "byol": AugmentPreset(
        description="BYOL: asymmetric views, blur p 1.0/0.1 (from 96 px), solarize p 0.0/0.2",
        source="Grill et al. 2020, Bootstrap Your Own Latent (BYOL), table 6",
        jitter=(0.4, 0.4, 0.2, 0.1),
        blur_p=(1.0, 0.1),
        solarize_p=(0.0, 0.2),
    ),
    "mio": AugmentPreset(
        description="MIO: CIFAR crop 0.8-1 without blur or solarize; blur (9 px) p 0.5 and solarize p 0.2 from 96 px",
        source="Manna et al., Mutual Information Optimization using Self-Supervised Binary Contrastive Learning "
        "(arXiv 2111.12664) and the authors' 2021 code: CIFAR and STL-10 settings",
        crop_scale=(0.8, 1.0),
        blur_p=(0.5,),
        blur_kernel_size=9,
        solarize_p=(0.2,),
        solarize_min_size=96,
    ),
    "solo-symmetric": AugmentPreset(
        description="solo-learn CIFAR symmetric: jitter 0.8/0.8/0.8/0.2 p 0.8, grey 0.2, blur p 0.5 (SimCLR, SwAV, "
        "SupCon)",
        source="solo-learn scripts/pretrain/cifar/augmentations/symmetric.yaml",
        jitter=(0.8, 0.8, 0.8, 0.2),
        blur_p=(0.5,),
        **_SOLO,
    ),
    "solo-symmetric-weak": AugmentPreset(
        description="solo-learn CIFAR symmetric_weak: jitter 0.4/0.4/0.4/0.1 p 0.8, grey 0.2, blur p 0.5 (MoCo v2+, "
        "SimSiam)",
        source="solo-learn scripts/pretrain/cifar/augmentations/symmetric_weak.yaml",
        blur_p=(0.5,),
        **_SOLO,
    ),
    "solo-asymmetric": AugmentPreset(
        description="solo-learn CIFAR asymmetric: jitter 0.4/0.4/0.2/0.1 p 0.8, grey 0.2, no blur, solarize p 0/0.2 "
        "(BYOL, MoCo v3, NNCLR, Barlow Twins, DINO)",
        source="solo-learn scripts/pretrain/cifar/augmentations/asymmetric.yaml",
        jitter=(0.4, 0.4, 0.2, 0.1),
        solarize_p=(0.0, 0.2),
        **_SOLO,
    ),
    "solo-vicreg": AugmentPreset(
        description="solo-learn CIFAR VICReg: crop 0.2-1, jitter 0.4/0.4/0.2/0.1 p 0.8, grey 0.2, no blur, "
        "solarize p 0.1",
        source="solo-learn scripts/pretrain/cifar/vicreg.yaml (its augmentations block)",
        crop_scale=(0.2, 1.0),
        jitter=(0.4, 0.4, 0.2, 0.1),
        solarize_p=(0.1,),
        **_SOLO,
    ),
    "solo-reconstruction": AugmentPreset(
        description="solo-learn CIFAR reconstruction: crop 0.08-1 and flip only, no colour, blur or solarize (MAE)",
        source="solo-learn scripts/pretrain/cifar/augmentations/reconstruction.yaml",
        jitter_p=0.0,
        gray_p=0.0,
        **_SOLO,
    ),
    "msn": AugmentPreset(
        description="MSN: crop 0.3-1 (focal 0.05-0.3), jitter 0.4/0.4/0.4/0.1 p 0.8, grey 0.2, blur p 0.5 from 96 px",
        source="Assran et al. 2022, Masked Siamese Networks: the official src/data_manager.py (make_transforms) with "
        "configs/pretrain/msn_vits16.yaml (color_jitter_strength 0.5); blur dropped below 96 px as SimCLR on CIFAR-10",
        crop_scale=(0.3, 1.0),
        local_crop_scale=(0.05, 0.3),
        blur_p=(0.5,),
        local_blur_p=0.5,
    ),
}

PRESETS: Registry[AugmentPreset] = Registry("augmentation preset")
for _name, _preset in _TABLE.items():
    PRESETS.register(_name)(_preset)
