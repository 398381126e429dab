"""SimSiam against lightly's negative cosine similarity, and its stop-gradient."""

from __future__ import annotations

import torch
from lightly.loss import NegativeCosineSimilarity

import zoo
from tests.conftest import TINY_BACKBONE


def _reference(method: zoo.Method, views: list[torch.Tensor], stop_gradient: bool) -> torch.Tensor:
    z1, z2 = (method.projector(method.backbone(v)) for v in views)
    p1, p2 = method.predictor(z1), method.predictor(z2)
    t1, t2 = (z1.detach(), z2.detach()) if stop_gradient else (z1, z2)
    ncs = NegativeCosineSimilarity()
    return 0.5 * (ncs(p1, t2) + ncs(p2, t1))


def test_simsiam_loss_is_symmetrised_negative_cosine(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("simsiam", backbone=TINY_BACKBONE)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    torch.testing.assert_close(method.loss(views32), _reference(method, views32, stop_gradient=True))


def test_simsiam_targets_get_no_gradient(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("simsiam", backbone=TINY_BACKBONE)
    method.eval()
    params = list(method.projector.parameters())

    def grads(loss: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.autograd.grad(loss, params, allow_unused=True))

    got = grads(method.loss(views32))
    stopped = grads(_reference(method, views32, stop_gradient=True))
    unstopped = grads(_reference(method, views32, stop_gradient=False))
    for g, s in zip(got, stopped, strict=True):
        torch.testing.assert_close(g, s)
    assert any(not torch.allclose(g, u) for g, u in zip(got, unstopped, strict=True))


def test_simsiam_heads_follow_defaults() -> None:
    method = zoo.create_method("simsiam", backbone=TINY_BACKBONE, proj_output_dim=64, pred_hidden_dim=16)
    z = method.projector(method.backbone(torch.randn(4, 3, 32, 32)))
    assert z.shape == (4, 64) and method.predictor(z).shape == (4, 64)
    assert method.predictor.layers[0].out_features == 16
