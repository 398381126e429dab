"""A recipe's every effective setting as one flat, ordered dict: what a run really trains with.

Method hyper-parameters are resolved against the method's defaults and the augmentation against its preset, view
by view ("augment.view2.solarize_p"), so two runs, or a run and a published reference, compare key by key. The
fidelity table (benchmarks/FIDELITY.md) and its test are built on this.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from zoo.recipes import Recipe

_VIEW_FIELDS = ("crop_scale", "crop_interpolation", "flip_p", "jitter", "jitter_p", "gray_p")


def resolved_settings(recipe: Recipe) -> dict[str, Any]:
    """Flat `section.key` -> value for everything but [run] and [paper]; tuples become lists (TOML's form)."""
    from zoo.augment import PRESETS
    from zoo.augment.pipeline import view_specs
    from zoo.methods import get_method_class
    from zoo.methods.base import resolve_hparams

    cls = get_method_class(recipe.method.name)
    out: dict[str, Any] = {"method.name": recipe.method.name}
    out.update({f"method.{k}": v for k, v in resolve_hparams(cls, recipe.method.hparams).items()})
    for section in ("backbone", "data", "schedule", "optim", "eval"):
        out.update({f"{section}.{k}": v for k, v in dataclasses.asdict(getattr(recipe, section)).items()})
    preset_name = recipe.augment.preset or cls.default_augment
    preset = dataclasses.replace(PRESETS.get(preset_name), **recipe.augment.overrides)
    out["augment.preset"] = preset_name
    size = recipe.backbone.image_size
    specs = view_specs(preset, size, cls.n_views, cls.n_local_views, max(8, round(size * cls.local_view_ratio)))
    for i, spec in enumerate(specs, start=1):
        view = f"augment.view{i}"
        out[f"{view}.size"] = spec.size
        out.update({f"{view}.{name}": getattr(preset, name) for name in _VIEW_FIELDS})
        out[f"{view}.crop_scale"] = spec.crop_scale
        out[f"{view}.blur_p"] = spec.blur_p
        out[f"{view}.blur_kernel"] = preset.blur_kernel(spec.size) if spec.blur_p > 0 else 0
        out[f"{view}.solarize_p"] = spec.solarize_p
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
