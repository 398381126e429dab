"""VICReg against lightly's VICRegLoss on the same projections (solo-learn's variance sum: twice lightly's mu)."""

from __future__ import annotations

import torch
from lightly.loss import VICRegLoss

import zoo
from tests.conftest import TINY_BACKBONE


def _projections(method: zoo.Method, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    z1, z2 = (method.projector(method.backbone(v)) for v in views)
    return z1, z2


def test_vicreg_loss_equals_lightly_with_published_weights(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("vicreg", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    expected = VICRegLoss(lambda_param=25.0, mu_param=50.0, nu_param=1.0)(*_projections(method, views32))
    torch.testing.assert_close(method.loss(views32), expected)
    official = zoo.create_method(
        "vicreg", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32, variance="mean"
    ).eval()
    expected = VICRegLoss(lambda_param=25.0, mu_param=25.0, nu_param=1.0)(*_projections(official, views32))
    torch.testing.assert_close(official.loss(views32), expected)


def test_vicreg_weights_reach_the_loss(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method(
        "vicreg",
        backbone=TINY_BACKBONE,
        proj_hidden_dim=64,
        proj_output_dim=32,
        sim_loss_weight=1.0,
        var_loss_weight=2.0,
        cov_loss_weight=3.0,
    )
    method.eval()
    expected = VICRegLoss(lambda_param=1.0, mu_param=4.0, nu_param=3.0)(*_projections(method, views32))
    torch.testing.assert_close(method.loss(views32), expected)


def test_vicreg_projector_depth() -> None:
    method = zoo.create_method("vicreg", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32, proj_layers=2)
    linears = [m for m in method.projector.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [64, 32]
