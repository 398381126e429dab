"""Whether a backbone takes images of a size, checked with one small forward pass before a run starts.

Many timm models downsample 32x (ConvNeXt, EfficientNet, ...): below some size a feature map shrinks to nothing and
the first training step fails deep inside a convolution. One forward of two blank images per view size, before the
run folder exists, turns that into a user error that names the backbone and the smallest size it takes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from zoo.errors import ZooError

_LARGEST_TRIED = 1024  # the search for the smallest size that works stops here


def check_input_sizes(backbone: nn.Module, name: str, sizes: Sequence[int], device: torch.device) -> None:
    """A `ZooError` if `backbone` (timm's `name`) cannot embed square images of every size in `sizes`."""
    for size in sizes:
        if not _runs_at(backbone, size, device):
            smallest = _smallest_size(backbone, size, device)
            takes = f"the smallest size it takes is {smallest} px" if smallest else "no size up to 1024 px works"
            raise ZooError(
                f"backbone {name!r} cannot embed {size} px images (its feature maps shrink to nothing); {takes}: "
                f"raise backbone.image_size or pick another backbone"
            )


def _runs_at(backbone: nn.Module, size: int, device: torch.device) -> bool:
    was_training = backbone.training
    backbone.eval()  # batch statistics of two blank images would fail for another reason
    try:
        with torch.no_grad():
            backbone(torch.zeros(2, _in_channels(backbone), size, size, device=device))
        return True
    except RuntimeError:
        return False
    finally:
        backbone.train(was_training)


def _smallest_size(backbone: nn.Module, failing: int, device: torch.device) -> int | None:
    """Doubling until a size works, then bisection (a size that works keeps working above it)."""
    low, high = failing, failing * 2
    while not _runs_at(backbone, high, device):
        if high >= _LARGEST_TRIED:
            return None
        low, high = high, min(high * 2, _LARGEST_TRIED)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _runs_at(backbone, middle, device) else (middle, high)
    return high


def _in_channels(backbone: nn.Module) -> int:
    first = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3
