"""Shared fixtures: tiny models keep the suite fast on a 2-core CPU."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

TINY_BACKBONE = "test_resnet"  # timm's 0.4 M-parameter ResNet made for tests
TINY_VIT = "test_vit"  # timm's 0.26 M-parameter ViT made for tests (4 px patches at 28-32 px)


def reload_state(source: nn.Module, target: nn.Module) -> None:
    """Load `source`'s state dict into `target` through bytes (`torch.save`, then `torch.load(weights_only=True)`), as
    a checkpoint travels: what a resumed run would see."""
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    target.load_state_dict(torch.load(buffer, weights_only=True))


def tiny_backbone(method: str) -> str:
    """The tiny backbone a method trains on in tests: a ViT for the methods that need one (`requires_vit`)."""
    from zoo.methods import get_method_class

    return TINY_VIT if get_method_class(method).requires_vit else TINY_BACKBONE


def tiny_backbone_settings(method: str) -> list[str]:
    """`backbone.*` overrides for a tiny run at 28 px: test_resnet with the ImageNet stem (fewer pixels to push),
    or test_vit with its 4 px patches (7x7 tokens; timm's 16 px patches would leave one)."""
    name = tiny_backbone(method)
    return [f"backbone.name={name}", f"backbone.small_stem={'true' if name == TINY_VIT else 'false'}"]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def views32() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]
