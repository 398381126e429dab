"""TiCo against lightly's TiCoLoss, its covariance buffer and its momentum schedule."""

from __future__ import annotations

import torch
from lightly.loss import TiCoLoss

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"backbone": TINY_BACKBONE, "proj_hidden_dim": 64, "proj_output_dim": 16}


def _projections(method: zoo.Method, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    z = method.projector(method.backbone(views[0]))
    t = method.projector_momentum(method.backbone_momentum(views[1]))
    return z, t


def test_tico_loss_equals_lightly(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("tico", **SMALL, beta=0.8, rho=4.0)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    expected = TiCoLoss(beta=0.8, rho=4.0)(*_projections(method, views32))
    torch.testing.assert_close(method.loss(views32), expected)


def test_tico_covariance_is_an_ema_updated_only_in_training(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("tico", **SMALL, beta=0.8)
    reference = TiCoLoss(beta=0.8)
    assert torch.equal(method.criterion.criterion.C, torch.zeros(16, 16))
    method.eval()
    method.loss(views32)
    assert torch.equal(method.criterion.criterion.C, torch.zeros(16, 16)), "eval-mode loss moved C"
    method.train()  # each branch sees one view's batch, so training-mode BatchNorm gives the same projections
    for _ in range(2):
        method.loss(views32)
        reference(*_projections(method, views32))
        torch.testing.assert_close(method.criterion.criterion.C, reference.C)
    assert method.criterion.criterion.C.abs().sum() > 0 and not method.criterion.criterion.C.requires_grad


def test_tico_covariance_round_trips_through_state_dict(views32: list[torch.Tensor]) -> None:
    a = zoo.create_method("tico", **SMALL)
    a.loss(views32)
    b = zoo.create_method("tico", **SMALL)
    reload_state(a, b)
    assert "criterion.criterion.C" in a.state_dict()
    assert torch.equal(b.criterion.criterion.C, a.criterion.criterion.C) and a.criterion.criterion.C.abs().sum() > 0


def test_tico_momentum_follows_cosine_schedule() -> None:
    method = zoo.create_method("tico", **SMALL)
    assert method.momentum_at(0.0) == 0.99
    assert abs(method.momentum_at(0.5) - 0.995) < 1e-6
    assert method.momentum_at(1.0) == 1.0
