"""timm models as headless feature extractors (`num_classes=0`), one uniform interface for all of them.

Small images get a small stem: ResNets a 3x3 stride-1 first convolution, Vision Transformers 4 px patches (see
`create_backbone` for the rules). `vit_tiny` and `vit_small` are short names of timm's ViT-Ti/16 and ViT-S/16.
"""

from __future__ import annotations

import fnmatch
import os
import socket
from unittest import mock

import timm
from huggingface_hub import constants as hf_constants
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from zoo.errors import PretrainedWeightsError
from zoo.registry import unknown

SMALL_STEM_MAX_SIZE = 32  # CIFAR stem (3x3 stride 1, no max-pool) up to this size
POOLED_STEM_MAX_SIZE = 96  # above CIFAR size up to STL-10's 96 px: 3x3 stride 1 but keep the max-pool
SMALL_PATCH_SIZE = 4  # ViT patches up to SMALL_STEM_MAX_SIZE: 8x8 = 64 tokens at 32 px (solo-learn's CIFAR ViTs)
# short names (the names solo-learn's recipes use) for timm's ViTs; the patch size follows the rules below
ALIASES = {"vit_tiny": "vit_tiny_patch16_224", "vit_small": "vit_small_patch16_224"}
# timm modules whose every model is a `VisionTransformer` (or a subclass) that takes `patch_size`
_VIT_MODULES = ("timm.models.vision_transformer", "timm.models.deit")
_HUB_HOST = ("huggingface.co", 443)


def list_backbones(pattern: str | None = None) -> list[str]:
    """Every timm architecture name, and zoo's short names, matching the fnmatch `pattern` (all when None), sorted."""
    aliases = {a for a in ALIASES if fnmatch.fnmatch(a, pattern or "*")}
    return sorted(set(timm.list_models(pattern or "*")) | aliases)


def timm_name(name: str) -> str:
    """The timm architecture behind a backbone name (zoo's short names resolved)."""
    return ALIASES.get(name, name)


def is_vit(name: str) -> bool:
    """Whether backbone `name` is one of timm's Vision Transformers, the kind masked-token methods (MAE, MSN) need."""
    name = timm_name(name)
    return timm.is_model(name) and timm.models.model_entrypoint(name).__module__ in _VIT_MODULES


def create_backbone(
    name: str,
    *,
    image_size: int = 32,
    small_stem: bool | None = None,
    pretrained: bool = False,
    in_chans: int = 3,
) -> tuple[nn.Module, int]:
    """A timm model without classifier and its feature width.

    Vision Transformers (timm's `VisionTransformer` family, e.g. `vit_small`) get 4 px patches when
    `image_size <= 32` unless `small_stem` says otherwise: 64 tokens (8x8) at 32 px, as solo-learn's CIFAR ViTs
    (scripts/pretrain/cifar/mae.yaml: patch_size 4, img_size 32), instead of timm's 16 px patches that would leave
    2x2 tokens; above 32 px they keep timm's patches (16 px: 4x4 tokens at 64, 6x6 at 96). `small_stem=True` forces
    4 px patches, False timm's. Their positional embedding is sized for `image_size` and resampled for views of
    other sizes (multi-crop), which are padded to whole patches (14 px: 4x4 patches of 4 px); their features are
    timm's pooling: the class token for `vit_tiny` and `vit_small`.

    ResNet-family models get the CIFAR stem of SimCLR's CIFAR experiments (Chen et al., 2020, appendix B.9) when
    `image_size <= 32` unless `small_stem` says otherwise: a 3x3 stride-1 convolution and no max-pool, so a 32 px
    image is not shrunk to 8 px before the first block. Between 33 and 96 px (Tiny-ImageNet 64, STL-10 96) the
    convolution is 3x3 stride 1 and the max-pool stays, as in W-MSE's encoder for those datasets (Ermolov et al.
    2021), the benchmark MIO reports them on. `small_stem=True` forces the CIFAR stem, False the ImageNet one.
    """
    arch = timm_name(name)
    if not timm.is_model(arch):
        raise unknown("backbone", name, [*timm.list_models(), *ALIASES])
    if pretrained:
        _check_weights_reachable(arch)
    vit_options = {}
    if is_vit(arch):  # decided before building: a ViT's patch size is a constructor argument
        # views of any size (multi-crop, the size check): padded to whole patches, positions resampled
        vit_options.update(dynamic_img_size=True, dynamic_img_pad=True)
        if _use_small_stem(image_size, small_stem):
            vit_options["patch_size"] = SMALL_PATCH_SIZE
    model = _create(arch, image_size=image_size, pretrained=pretrained, in_chans=in_chans, **vit_options)
    stem = backbone_stem(model, image_size, small_stem)
    if stem in ("small", "small-pooled"):
        _make_small_stem(model, in_chans, keep_pool=stem == "small-pooled")
    # models with a conv head after pooling (MobileNetV3, ...) output head_hidden_size features, not num_features
    return model, int(getattr(model, "head_hidden_size", None) or model.num_features)


def backbone_stem(model: nn.Module, image_size: int, small_stem: bool | None) -> str:
    """Which stem `create_backbone` gives the model: "timm" (the architecture's own), "small" (3x3 stride 1, no
    max-pool), "small-pooled" (3x3 stride 1, max-pool kept) or "small-patch" (a ViT with 4 px patches, which
    `timm.create_model(name, patch_size=4, img_size=...)` rebuilds). Only "timm" loads into plain `timm.create_model`.
    """
    use_small_stem = _use_small_stem(image_size, small_stem)
    if isinstance(model, VisionTransformer):
        return "small-patch" if use_small_stem else "timm"
    if not _is_resnet(model):
        return "timm"
    if use_small_stem:
        return "small"
    return "small-pooled" if small_stem is None and image_size <= POOLED_STEM_MAX_SIZE else "timm"


def _use_small_stem(image_size: int, small_stem: bool | None) -> bool:
    return image_size <= SMALL_STEM_MAX_SIZE if small_stem is None else small_stem


def _create(name: str, *, image_size: int, pretrained: bool, in_chans: int, **options: object) -> nn.Module:
    kwargs = {"pretrained": pretrained, "num_classes": 0, "in_chans": in_chans, **options}
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
