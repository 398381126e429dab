"""Shared fixtures: tiny models keep the suite fast on a 2-core CPU."""

from __future__ import annotations

import pytest
import torch

TINY_BACKBONE = "test_resnet"  # timm's 0.4 M-parameter ResNet made for tests


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def views32() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]
