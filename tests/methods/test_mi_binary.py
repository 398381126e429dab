"""mi-binary: PAPER.md's worked example, invariances, majoriser property, closed-form gradient vs autograd."""

from __future__ import annotations

import pytest
import torch

import zoo
from tests.distributed import run_on_ranks
from zoo.errors import ZooError
from zoo.methods.mi_binary import MIBinaryLoss, mi_binary_grad

Z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
Z2 = torch.tensor([[1.0, 0.0], [0.6, 0.8]])


@pytest.mark.parametrize(
    ("bound", "l2_weight", "expected"),
    [("none", 0.0, 1.233629), ("none", 1.0, 1.333629), ("jensen", 0.0, 1.269817), ("jensen", 1.0, 1.369817)],
)
def test_worked_example(bound: str, l2_weight: float, expected: float) -> None:
    loss = MIBinaryLoss(tau_pos=0.5, tau_neg=0.5, bound=bound, l2_weight=l2_weight)(Z1, Z2)
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_worked_example_terms() -> None:
    # positive term alone: tau_neg huge makes every negative logit ~0, softplus(0) = log 2
    pos_only = MIBinaryLoss(tau_pos=0.5, tau_neg=1e9, bound="none")(Z1, Z2) - torch.log(torch.tensor(2.0))
    assert pos_only.item() == pytest.approx(0.155414, abs=1e-5)


@pytest.mark.parametrize("bound", ["none", "jensen"])
def test_invariant_to_positive_row_scaling(bound: str) -> None:
    loss = MIBinaryLoss(bound=bound, l2_weight=1.0)
    scale1, scale2 = torch.tensor([[3.0], [0.2]]), torch.tensor([[7.0], [0.5]])
    assert loss(Z1 * scale1, Z2 * scale2).item() == pytest.approx(loss(Z1, Z2).item(), abs=1e-6)


def test_jensen_majorises_naive() -> None:
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        n, d = torch.randint(2, 33, (2,), generator=g).tolist()
        z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
        tau = float(torch.empty(1).uniform_(0.05, 1.0, generator=g))
        jensen = MIBinaryLoss(tau, tau, bound="jensen")(z1, z2)
        naive = MIBinaryLoss(tau, tau, bound="none")(z1, z2)
        assert jensen >= naive - 1e-6


@pytest.mark.parametrize("bound", ["none", "jensen"])
@pytest.mark.parametrize("l2_weight", [0.0, 0.7])
@pytest.mark.parametrize(("n", "d"), [(2, 2), (3, 5), (7, 16), (16, 3)])
def test_closed_form_gradient_matches_autograd(bound: str, l2_weight: float, n: int, d: int) -> None:
    g = torch.Generator().manual_seed(n * 100 + d)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    kwargs = {"tau_pos": 0.3, "tau_neg": 0.7, "bound": bound, "l2_weight": l2_weight}
    MIBinaryLoss(**kwargs)(z1, z2).backward()
    g1, g2 = mi_binary_grad(z1.detach(), z2.detach(), **kwargs)
    torch.testing.assert_close(g1, z1.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(g2, z2.grad, rtol=1e-9, atol=1e-12)


def test_low_precision_input_computes_in_float32() -> None:
    z1, z2 = torch.randn(6, 8).bfloat16(), torch.randn(6, 8).bfloat16()
    loss = MIBinaryLoss()(z1, z2)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(MIBinaryLoss()(z1.float(), z2.float()).item(), abs=1e-6)


def test_float32_similarities_under_autocast() -> None:
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = MIBinaryLoss()(z1, z2)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(MIBinaryLoss()(z1, z2).item(), abs=1e-6)


def test_any_batch_size_and_mask_cache() -> None:
    loss = MIBinaryLoss()
    for n in (2, 5, 2, 9):
        assert torch.isfinite(loss(torch.randn(n, 4), torch.randn(n, 4)))
    assert len(loss._index_cache) == 3


def test_numerically_stable_at_tiny_temperature() -> None:
    z = torch.randn(8, 16, requires_grad=True)
    loss = MIBinaryLoss(tau_pos=1e-3, tau_neg=1e-3)(z, -z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_bad_arguments() -> None:
    with pytest.raises(ZooError, match="bound"):
        MIBinaryLoss(bound="upper")
    with pytest.raises(ZooError, match="temperature"):
        MIBinaryLoss(tau_pos=0.0)
    with pytest.raises(ValueError, match="N >= 2"):
        MIBinaryLoss()(torch.randn(1, 4), torch.randn(1, 4))


def test_exported_at_top_level() -> None:
    assert zoo.MIBinaryLoss is MIBinaryLoss


def test_registered_methods_use_their_bound() -> None:
    assert zoo.create_method("mi-binary", backbone="test_resnet").criterion.bound == "jensen"
    naive = zoo.create_method("mi-binary-naive", backbone="test_resnet", tau_pos=0.2)
    assert naive.criterion.bound == "none" and naive.criterion.tau_pos == 0.2


def test_projector_has_batchnorm_after_every_linear() -> None:
    method = zoo.create_method("mi-binary", backbone="test_resnet")
    layers = list(method.projector.layers)
    linears = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Linear)]
    assert [layers[0].in_features, layers[0].out_features, layers[linears[-1]].out_features] == [96, 2048, 128]
    for i in linears:
        assert layers[i].bias is None and isinstance(layers[i + 1], torch.nn.BatchNorm1d)


def _rank_loss(rank: int, world: int, z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, ...]:
    n = z1.shape[0] // world
    a = z1[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    b = z2[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    loss = MIBinaryLoss(tau_pos=0.4, tau_neg=0.6, gather_distributed=True)(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad


def test_gather_distributed_equals_global_batch() -> None:
    world = 2
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    out = run_on_ranks(_rank_loss, world, z1, z2)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    full = MIBinaryLoss(tau_pos=0.4, tau_neg=0.6)(a, b)
    full.backward()
    assert torch.stack([o[0] for o in out]).mean().item() == pytest.approx(full.item(), abs=1e-6)
    # data-parallel training averages rank gradients; the gather layer already summed over ranks
    torch.testing.assert_close(torch.cat([o[1] for o in out]) / world, a.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(torch.cat([o[2] for o in out]) / world, b.grad, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("bound", "l2_weight"), [("none", 0.0), ("jensen", 0.0), ("jensen", 0.5)])
def test_gradient_parts_add_up_and_positive_part_matches_autograd(bound: str, l2_weight: float) -> None:
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    u1, u2 = torch.nn.functional.normalize(z1, dim=1), torch.nn.functional.normalize(z2, dim=1)
    s = (u1 * u2).sum(dim=1) / 0.3
    positive = torch.nn.functional.softplus(-torch.cat([s, s])).mean() + l2_weight * (u1 - u2).pow(2).mean()
    positive.backward()
    kwargs = {"tau_pos": 0.3, "tau_neg": 0.7, "bound": bound, "l2_weight": l2_weight}
    pos = mi_binary_grad(z1.detach(), z2.detach(), part="positive", **kwargs)
    neg = mi_binary_grad(z1.detach(), z2.detach(), part="negative", **kwargs)
    both = mi_binary_grad(z1.detach(), z2.detach(), **kwargs)
    torch.testing.assert_close(pos, (z1.grad, z2.grad), rtol=1e-9, atol=1e-12)
    for p, n, b in zip(pos, neg, both, strict=True):
        torch.testing.assert_close(p + n, b, rtol=1e-9, atol=1e-12)
