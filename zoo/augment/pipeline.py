"""Multi-view augmentation of a whole batch on its own device, with kornia.

Every view is random-resized-crop -> flip -> colour jitter -> grey -> blur -> solarize -> normalise, in the order
of SimCLR (Chen et al. 2020) and BYOL (Grill et al. 2020). Views with the same settings share one kornia pipeline
and run as one call on the batch repeated, so two symmetric SimCLR views cost one pass over 2B images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import kornia
import kornia.augmentation as K
import torch
from torch import Tensor, nn

from zoo.augment.normalize import to_model_input, to_unit_float
from zoo.augment.presets import AugmentPreset
from zoo.errors import RecipeError


@dataclass(frozen=True)
class ViewSpec:
    """The resolved settings of one view: what one kornia pipeline is built from."""

    size: int
    crop_scale: tuple[float, float]
    blur_p: float
    solarize_p: float


def view_specs(preset: AugmentPreset, image_size: int, n_views: int, n_local: int, local_size: int) -> list[ViewSpec]:
    """Global view i gets `blur_p[i % len]` and `solarize_p[i % len]`; local views get the `local_*` fields.

    Blur and solarize are dropped for every view when `image_size` is below `blur_min_size` or
    `solarize_min_size` (SimCLR drops blur on 32 px CIFAR-10; MIO adds it and solarize on 96 px STL-10).
    """
    blur_on = image_size >= preset.blur_min_size
    solarize_on = image_size >= preset.solarize_min_size
    specs = [
        ViewSpec(
            size=image_size,
            crop_scale=preset.crop_scale,
            blur_p=preset.blur_p[i % len(preset.blur_p)] if blur_on else 0.0,
            solarize_p=preset.solarize_p[i % len(preset.solarize_p)] if solarize_on else 0.0,
        )
        for i in range(n_views)
    ]
    local = ViewSpec(
        size=local_size,
        crop_scale=preset.local_crop_scale,
        blur_p=preset.local_blur_p if blur_on else 0.0,
        solarize_p=preset.local_solarize_p if solarize_on else 0.0,
    )
    return specs + [local] * n_local


def build_pipeline(
    preset: AugmentPreset,
    spec: ViewSpec,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    device: torch.device,
) -> nn.Sequential:
    """One view's kornia ops, random parameters sampled on `device`; ops with probability 0 are left out."""
    # The crop scale is a tensor on `device` so that kornia keeps the sampled crop boxes there; "resample" crops
    # the whole batch with one warp instead of one resize per image (kornia's default "slice" mode gives the
    # same pixels up to rounding, but loops over the images and reads the boxes back to the host).
    ops: list[nn.Module] = [
        K.RandomResizedCrop(
            (spec.size, spec.size),
            scale=torch.tensor(spec.crop_scale, device=device),
            ratio=preset.crop_ratio,
            resample=preset.crop_interpolation,
            cropping_mode="resample",
        )
    ]
    if preset.crop_interpolation == "bicubic":
        ops.append(_Clamp01())  # bicubic overshoots; PIL's and torchvision's uint8 results are clamped
    if preset.flip_p > 0:
        ops.append(K.RandomHorizontalFlip(p=preset.flip_p))
    if preset.jitter_p > 0 and any(preset.jitter):
        # ColorJitter follows torchvision's formulas (multiplicative brightness); ColorJiggle does not.
        ops.append(ColorJitter(*preset.jitter, p=preset.jitter_p))
    if preset.gray_p > 0:
        ops.append(K.RandomGrayscale(p=preset.gray_p))
    if spec.blur_p > 0:
        kernel = preset.blur_kernel(spec.size)
        ops.append(K.RandomGaussianBlur((kernel, kernel), preset.blur_sigma, p=spec.blur_p))
    if spec.solarize_p > 0:
        # kornia reads a scalar threshold as a half-width around 0.5 and adds a random shift by default:
        # a (t, t) range and zero additions give the fixed threshold of BYOL (pixels >= t become 1 - pixel).
        # As a tensor on `device` it also keeps the drawn thresholds there.
        t = preset.solarize_threshold
        thresholds = torch.tensor([t, t], device=device)
        ops.append(K.RandomSolarize(thresholds=thresholds, additions=0.0, p=spec.solarize_p))
    ops.append(K.Normalize(mean=torch.tensor(mean, device=device), std=torch.tensor(std, device=device)))
    for op in ops:
        if isinstance(op, K.AugmentationBase2D):
            op.set_rng_device_and_dtype(device, torch.float32)
    return nn.Sequential(*ops)


class ColorJitter(K.ColorJitter):
    """kornia's ColorJitter (torchvision's formulas, a random order per call) without its host synchronisation.

    kornia skips a step whose factors are all neutral with a Python `if (factor != neutral).any()`, which waits for
    the device when the factors were drawn there. Here every step runs and `torch.where` on that same condition, kept
    on the device, keeps the step's result or its input: the same images, no sync.
    """

    _NEUTRAL = (1.0, 1.0, 1.0, 0.0)  # brightness, contrast, saturation factors; hue shift

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        steps = (
            kornia.enhance.adjust_brightness_accumulative,
            kornia.enhance.adjust_contrast_with_mean_subtraction,
            kornia.enhance.adjust_saturation_with_gray_subtraction,
            lambda x, factor: kornia.enhance.adjust_hue(x, factor * 2 * math.pi),
        )
        factors = [params[f"{name}_factor"] for name in ("brightness", "contrast", "saturation", "hue")]
        x = input.clamp(0.0, 1.0)
        for i in params["order"].tolist():  # drawn on the host by kornia
            x = torch.where((factors[i] != self._NEUTRAL[i]).any(), steps[i](x, factors[i]), x)
        return x.clamp(0.0, 1.0)


class _Clamp01(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.clamp(0.0, 1.0)


class MultiViewAugment(nn.Module):
    """uint8 or float (B, C, H, W) -> `n_views` global views at `image_size` + `n_local` local views.

    Every view is normalised float32 on the input's device, with its random parameters drawn there, so
    `torch.manual_seed(s)` before a call reproduces the views. Multi-crop local views follow SwAV (Caron et al.
    2020). `prepare` is the deterministic counterpart for evaluation: same normalisation, no randomness.
    """

    def __init__(
        self,
        preset: AugmentPreset,
        *,
        image_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        n_views: int = 2,
        n_local: int = 0,
        local_size: int | None = None,
    ) -> None:
        super().__init__()
        if n_views < 1 or n_local < 0 or image_size < 1 or (local_size is not None and local_size < 1):
            raise RecipeError(
                f"augmentation needs n_views >= 1, n_local >= 0 and positive sizes; got n_views={n_views}, "
                f"n_local={n_local}, image_size={image_size}, local_size={local_size}"
            )
        self.preset = preset
        self.image_size = image_size
        # The default local size keeps DINO's ratio of 96 px local to 224 px global crops.
        self.local_size = local_size if local_size is not None else max(1, round(image_size * 96 / 224))
        self.n_views = n_views
        self.n_local = n_local
        self.mean = tuple(mean)
        self.std = tuple(std)
        specs = view_specs(preset, image_size, n_views, n_local, self.local_size)
        self.specs: tuple[ViewSpec, ...] = tuple(dict.fromkeys(specs))
        self._groups = tuple(tuple(v for v, s in enumerate(specs) if s == spec) for spec in self.specs)
        self.pipelines = nn.ModuleList()
        self._device: torch.device | None = None
        self._build(torch.device("cpu"))

    def _build(self, device: torch.device) -> None:
        self.pipelines = nn.ModuleList(
            build_pipeline(self.preset, spec, self.mean, self.std, device) for spec in self.specs
        )
        self._device = device

    def pipeline(self, view: int) -> nn.Sequential:
        """The kornia pipeline that makes view `view` (globals first, then locals)."""
        for pipe, views in zip(self.pipelines, self._groups, strict=True):
            if view in views:
                return cast(nn.Sequential, pipe)
        raise IndexError(f"view {view} out of range: there are {self.n_views + self.n_local} views")

    @torch.no_grad()
    def forward(self, images: Tensor) -> list[Tensor]:
        x = to_unit_float(images)
        if x.device != self._device:
            self._build(x.device)
        views: list[Tensor] = [x] * (self.n_views + self.n_local)
        for pipe, group in zip(self.pipelines, self._groups, strict=True):
            batch = x.repeat(len(group), 1, 1, 1) if len(group) > 1 else x
            for view, out in zip(group, pipe(batch).chunk(len(group)), strict=True):
                views[view] = out
        return views

    def prepare(self, images: Tensor) -> Tensor:
        """Un-augmented images -> normalised float32 input at `image_size`, as the views are normalised."""
        return to_model_input(images, mean=self.mean, std=self.std, size=self.image_size)

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, n_views={self.n_views}, n_local={self.n_local}, "
            f"local_size={self.local_size}, mean={self.mean}, std={self.std}"
        )
