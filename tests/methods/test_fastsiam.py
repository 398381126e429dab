"""FastSiam: the loss against lightly's FastSiam example written out, four views, SimSiam's heads and predictor lr."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from tests.conftest import TINY_BACKBONE

SMALL = {"proj_hidden_dim": 32, "proj_output_dim": 16, "pred_hidden_dim": 8}


def _lightly_example_loss(method: zoo.Method, views: list[torch.Tensor]) -> torch.Tensor:
    """lightly examples/pytorch/fastsiam.py: each view through the model on its own, z detached, the target of view
    i the mean of the other views' z (a boolean mask there), -cos(p_i, target) summed over views / the view count."""
    features = []
    for view in views:
        z = method.projector(method.backbone(view))
        features.append((z.detach(), method.predictor(z)))
    zs = torch.stack([z for z, _ in features])
    ps = torch.stack([p for _, p in features])
    loss = 0.0
    for i in range(len(views)):
        mask = torch.arange(len(views)) != i
        loss = loss - F.cosine_similarity(ps[i], zs[mask].mean(dim=0), dim=1).mean() / len(views)
    return loss


def _views(n: int = 4, batch: int = 8) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    return [torch.randn(batch, 3, 32, 32, generator=g) for _ in range(n)]


def test_loss_and_gradients_equal_lightlys_example() -> None:
    method = zoo.create_method("fastsiam", backbone=TINY_BACKBONE, **SMALL)
    method.eval()  # running BatchNorm statistics: one pass per view and one batched pass agree
    views = _views()
    params = [p for p in method.parameters() if p.requires_grad]
    got = method.loss(views)
    expected = _lightly_example_loss(method, views)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # same gradients: the targets are detached in both (a target with gradient would change them)
    for a, b in zip(torch.autograd.grad(got, params), torch.autograd.grad(expected, params), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_four_views_and_simsiams_heads() -> None:
    method = zoo.create_method("fastsiam", backbone=TINY_BACKBONE)
    assert method.view_sizes() == [32, 32, 32, 32]
    assert method.hparams == {"proj_hidden_dim": 2048, "proj_output_dim": 2048, "pred_hidden_dim": 512}
    assert method.default_augment == "solo-symmetric-weak"
    (predictor_group,) = [g for g in method.param_groups() if g.get("static_lr") and g["params"][0].ndim > 1]
    assert {id(p) for p in predictor_group["params"]} <= {id(p) for p in method.predictor.parameters()}


def test_with_two_views_it_is_simsiam() -> None:
    """K = 1: the mean of the other views is the other view, and the loss is SimSiam's."""
    fast = zoo.create_method("fastsiam", backbone=TINY_BACKBONE, **SMALL)
    simsiam = zoo.create_method("simsiam", backbone=TINY_BACKBONE, **SMALL)
    simsiam.load_state_dict(fast.state_dict())
    fast.n_views = 2
    views = _views(2)
    torch.testing.assert_close(fast.loss(views), simsiam.loss(views))
