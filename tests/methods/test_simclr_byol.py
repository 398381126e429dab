"""SimCLR and BYOL against lightly's reference losses on the same projections."""

from __future__ import annotations

import torch
from lightly.loss import NegativeCosineSimilarity, NTXentLoss

import zoo
from tests.conftest import TINY_BACKBONE


def test_simclr_loss_equals_lightly_ntxent(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("simclr", backbone=TINY_BACKBONE, temperature=0.3)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    z1, z2 = (method.projector(method.backbone(v)) for v in views32)
    expected = NTXentLoss(temperature=0.3)(z1, z2)
    torch.testing.assert_close(method.loss(views32), expected)


def test_byol_loss_sums_two_minus_two_cosine_over_both_directions(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("byol", backbone=TINY_BACKBONE)
    method.eval()
    p1, p2 = (method.predictor(method.projector(method.backbone(v))) for v in views32)
    t1, t2 = (method.projector_momentum(method.backbone_momentum(v)) for v in views32)
    ncs = NegativeCosineSimilarity()
    torch.testing.assert_close(method.loss(views32), (2 + 2 * ncs(p1, t2)) + (2 + 2 * ncs(p2, t1)))  # solo-learn


def test_byol_momentum_follows_cosine_schedule() -> None:
    method = zoo.create_method("byol", backbone=TINY_BACKBONE, momentum=0.99)
    assert method.momentum_at(0.0) == 0.99
    assert abs(method.momentum_at(0.5) - 0.995) < 1e-6
    assert method.momentum_at(1.0) == 1.0
