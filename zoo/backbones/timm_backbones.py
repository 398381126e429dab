"""timm models as headless feature extractors (`num_classes=0`), one uniform interface for all of them."""

from __future__ import annotations

import os
import socket
from unittest import mock

import timm
from huggingface_hub import constants as hf_constants
from torch import nn

from zoo.errors import PretrainedWeightsError
from zoo.registry import unknown

SMALL_STEM_MAX_SIZE = 32  # CIFAR stem (3x3 stride 1, no max-pool) up to this size
POOLED_STEM_MAX_SIZE = 96  # above CIFAR size up to STL-10's 96 px: 3x3 stride 1 but keep the max-pool
_HUB_HOST = ("huggingface.co", 443)


def list_backbones(pattern: str | None = None) -> list[str]:
    """Every timm architecture name matching the fnmatch `pattern` (all when None), sorted."""
    return sorted(timm.list_models(pattern or "*"))


def create_backbone(
    name: str,
    *,
    image_size: int = 32,
    small_stem: bool | None = None,
    pretrained: bool = False,
    in_chans: int = 3,
) -> tuple[nn.Module, int]:
    """A timm model without classifier and its feature width.

    ResNet-family models get the CIFAR stem of SimCLR's CIFAR experiments (Chen et al., 2020, appendix B.9) when
    `image_size <= 32` unless `small_stem` says otherwise: a 3x3 stride-1 convolution and no max-pool, so a 32 px
    image is not shrunk to 8 px before the first block. Between 33 and 96 px (Tiny-ImageNet 64, STL-10 96) the
    convolution is 3x3 stride 1 and the max-pool stays, as in W-MSE's encoder for those datasets (Ermolov et al.
    2021), the benchmark MIO reports them on. `small_stem=True` forces the CIFAR stem, False the ImageNet one.
    """
    if not timm.is_model(name):
        raise unknown("backbone", name, timm.list_models())
    if pretrained:
        _check_weights_reachable(name)
    model = _create(name, image_size=image_size, pretrained=pretrained, in_chans=in_chans)
    stem = backbone_stem(model, image_size, small_stem)
    if stem != "timm":
        _make_small_stem(model, in_chans, keep_pool=stem == "small-pooled")
    # models with a conv head after pooling (MobileNetV3, ...) output head_hidden_size features, not num_features
    return model, int(getattr(model, "head_hidden_size", None) or model.num_features)


def backbone_stem(model: nn.Module, image_size: int, small_stem: bool | None) -> str:
    """Which stem `create_backbone` gives the model: "timm" (the architecture's own), "small" (3x3 stride 1, no
    max-pool) or "small-pooled" (3x3 stride 1, max-pool kept). Only "timm" loads into plain `timm.create_model`."""
    use_small_stem = image_size <= SMALL_STEM_MAX_SIZE if small_stem is None else small_stem
    if not _is_resnet(model):
        return "timm"
    if use_small_stem:
        return "small"
    return "small-pooled" if small_stem is None and image_size <= POOLED_STEM_MAX_SIZE else "timm"


def _create(name: str, *, image_size: int, pretrained: bool, in_chans: int) -> nn.Module:
    kwargs = {"pretrained": pretrained, "num_classes": 0, "in_chans": in_chans}
    try:  # transformers and other size-aware models take the input size; convnets do not
        return timm.create_model(name, img_size=image_size, **kwargs)
    except TypeError:
        return timm.create_model(name, **kwargs)


def _is_resnet(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("conv1", "bn1", "maxpool"))


def _make_small_stem(model: nn.Module, in_chans: int, *, keep_pool: bool = False) -> None:
    model.conv1 = nn.Conv2d(in_chans, model.bn1.num_features, kernel_size=3, stride=1, padding=1, bias=False)
    if not keep_pool:
        model.maxpool = nn.Identity()


def _check_weights_reachable(name: str) -> None:
    """Fail fast, with a clear message, where pretrained weights cannot be downloaded (no 40 s hang)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _host_reachable(*_HUB_HOST):
        try:  # offline mode: a cached copy still works, anything else fails at once instead of retrying
            with mock.patch.object(hf_constants, "HF_HUB_OFFLINE", True):
                timm.create_model(name, pretrained=True, num_classes=0)
        except Exception as err:
            raise PretrainedWeightsError(
                f"pretrained weights for backbone {name!r} are not in the local cache and the model hub is "
                "unreachable: use pretrained = false, or fetch the weights once on a machine with a network"
            ) from err


def _host_reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
