"""MoCo v3: the symmetrised InfoNCE against momentum keys, its heads and its momentum schedule."""

from __future__ import annotations

import torch
from torch import nn

import zoo
from tests.conftest import TINY_BACKBONE
from zoo.methods.moco_v3 import MoCoV3Loss

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64}


def test_moco_v3_loss_is_2_tau_times_infonce_over_the_batch_keys() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    tau = 0.3
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    per_anchor = [-(qn[i] @ kn[i]) / tau + torch.logsumexp(kn @ qn[i] / tau, dim=0) for i in range(6)]
    expected = 2 * tau * torch.stack(per_anchor).mean()
    torch.testing.assert_close(MoCoV3Loss(temperature=tau)(q, k), expected)


def test_method_loss_is_symmetrised_over_predictions_and_momentum_keys(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("moco-v3", backbone=TINY_BACKBONE, temperature=0.3, **SMALL)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    q1, q2 = (method.predictor(method.projector(method.backbone(v))) for v in views32)
    k1, k2 = (method.projector_momentum(method.backbone_momentum(v)) for v in views32)
    criterion = MoCoV3Loss(temperature=0.3)
    torch.testing.assert_close(method.loss(views32), criterion(q1, k2) + criterion(q2, k1))


def test_heads_are_the_resnet_variant_of_the_paper() -> None:
    method = zoo.create_method("moco-v3", backbone=TINY_BACKBONE, **SMALL)
    linears = [m for m in [*method.projector.modules(), *method.predictor.modules()] if isinstance(m, nn.Linear)]
    assert len(linears) == 4 and all(m.bias is None for m in linears)
    projector_norms = [m for m in method.projector.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [m.affine for m in projector_norms] == [True, False]
    assert not isinstance(list(method.predictor.modules())[-1], nn.BatchNorm1d)


def test_momentum_goes_from_099_to_1() -> None:
    method = zoo.create_method("moco-v3", backbone=TINY_BACKBONE, **SMALL)
    assert method.momentum_at(0.0) == 0.99
    assert method.momentum_at(1.0) == 1.0
