"""Per-dataset normalisation statistics and the one deterministic image -> model-input conversion."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import RecipeError
from zoo.registry import unknown

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]

# Per-channel (mean, std) of the training images in [0, 1]: the values commonly used with each dataset.
NORMALIZATION: dict[str, Stats] = {
    # CIFAR: per-pixel statistics of the 50k training images (std over all pixels, not the mean per-image std).
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    # STL-10: the statistics usually quoted for its training split.
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    # Tiny-ImageNet (200 classes, 64 px): the statistics usually quoted for its training split.
    "tiny-imagenet": ((0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)),
    # ImageNet-1k: the torchvision / timm defaults.
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # Fashion-MNIST: the grey training statistics (0.2860, 0.3530), repeated for the 3-channel input models take.
    "fashion-mnist": ((0.2860, 0.2860, 0.2860), (0.3530, 0.3530, 0.3530)),
}


def resolve_normalization(spec: str | Sequence[Sequence[float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A dataset name from NORMALIZATION or an explicit (mean, std) pair -> (mean, std) as float tuples."""
    if isinstance(spec, str):
        if spec not in NORMALIZATION:
            raise unknown("normalization", spec, NORMALIZATION)
        return NORMALIZATION[spec]
    try:
        mean, std = (tuple(float(v) for v in part) for part in spec)
    except (TypeError, ValueError):
        raise RecipeError(f"normalize must be a dataset name or a (mean, std) pair, got {spec!r}") from None
    if len(mean) not in (1, 3) or len(std) != len(mean) or min(std) <= 0:
        raise RecipeError(f"normalize needs 1 or 3 means and as many positive stds, got {spec!r}")
    return mean, std


def to_unit_float(images: Tensor) -> Tensor:
    """(B, C, H, W) uint8 in 0..255 or float in 0..1 -> float32 in 0..1 with 3 channels (grey repeated)."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (B, 1 or 3, H, W), got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        images = images.to(torch.float32) / 255
    elif images.is_floating_point():
        images = images.to(torch.float32)
    else:
        raise TypeError(f"expected uint8 or float images, got {images.dtype}")
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def to_model_input(
    images: Tensor,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: int | tuple[int, int] | None = None,
) -> Tensor:
    """Un-augmented images -> normalised float32 model input on the same device, for evaluation.

    uint8 (0..255) or float (0..1) (B, C, H, W); one channel is repeated to three; `size` resizes (bilinear,
    antialiased) when the images are not already that size.
    """
    x = to_unit_float(images)
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(x.shape[-2:]) != hw:
            x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s
