"""DCL and DCLW against lightly's DCLLoss and DCLWLoss on the same projections."""

from __future__ import annotations

import torch
from lightly.loss import DCLLoss, DCLWLoss, NTXentLoss

import zoo
from tests.conftest import TINY_BACKBONE

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32}


def _projections(method: zoo.Method, views: list[torch.Tensor]) -> list[torch.Tensor]:
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    return [method.projector(method.backbone(v)) for v in views]


def test_dcl_loss_equals_lightly_dcl(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("dcl", backbone=TINY_BACKBONE, temperature=0.2, **SMALL)
    z1, z2 = _projections(method, views32)
    torch.testing.assert_close(method.loss(views32), DCLLoss(temperature=0.2)(z1, z2))


def test_dclw_loss_equals_lightly_dclw(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("dclw", backbone=TINY_BACKBONE, temperature=0.2, sigma=0.3, **SMALL)
    z1, z2 = _projections(method, views32)
    torch.testing.assert_close(method.loss(views32), DCLWLoss(temperature=0.2, sigma=0.3)(z1, z2))


def test_dcl_is_infonce_without_the_positive_in_the_denominator() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    assert DCLLoss(temperature=0.5)(z1, z2) < NTXentLoss(temperature=0.5)(z1, z2)


def test_defaults_are_the_papers() -> None:
    dcl = zoo.create_method("dcl", backbone=TINY_BACKBONE, **SMALL)
    dclw = zoo.create_method("dclw", backbone=TINY_BACKBONE, **SMALL)
    assert dcl.hparams["temperature"] == dclw.hparams["temperature"] == 0.1
    assert dclw.hparams["sigma"] == 0.5 and "sigma" not in dcl.hparams
    assert dcl.family == dclw.family == "contrastive"
