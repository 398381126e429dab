"""Barlow Twins against lightly's BarlowTwinsLoss on the same projections."""

from __future__ import annotations

import torch
from lightly.loss import BarlowTwinsLoss

import zoo
from tests.conftest import TINY_BACKBONE


def _projections(method: zoo.Method, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    z1, z2 = (method.projector(method.backbone(v)) for v in views)
    return z1, z2


def test_barlow_twins_loss_equals_scaled_lightly_loss(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("barlow-twins", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    expected = 0.1 * BarlowTwinsLoss(lambda_param=0.0051)(*_projections(method, views32))
    torch.testing.assert_close(method.loss(views32), expected)


def test_barlow_twins_hparams_reach_the_loss(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method(
        "barlow-twins", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32, lambda_param=0.1, scale_loss=1
    )
    method.eval()
    expected = BarlowTwinsLoss(lambda_param=0.1)(*_projections(method, views32))
    torch.testing.assert_close(method.loss(views32), expected)
