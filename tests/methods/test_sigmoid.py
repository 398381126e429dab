"""sigmoid: SigLIP's loss against a literal double loop over its equation, its learnable t' and b, the global batch."""

from __future__ import annotations

import math

import pytest
import torch

import zoo
from tests.conftest import TINY_BACKBONE
from tests.distributed import run_on_ranks
from zoo.methods.sigmoid import SigmoidLoss


def _paper_loss(z1: torch.Tensor, z2: torch.Tensor, t_prime: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Zhai et al. 2023, eq. 1, term by term: -(1/|B|) sum_i sum_j log 1 / (1 + exp(z_ij (-t x_i.y_j + b)))."""
    n = z1.shape[0]
    x = [z1[i] / z1[i].norm() for i in range(n)]
    y = [z2[j] / z2[j].norm() for j in range(n)]
    total = torch.zeros((), dtype=z1.dtype)
    for i in range(n):
        for j in range(n):
            label = 1.0 if i == j else -1.0
            logit = torch.exp(t_prime) * torch.dot(x[i], y[j]) + b
            total = total + torch.log(1.0 / (1.0 + torch.exp(-label * logit)))
    return -total / n


@pytest.mark.parametrize(
    ("n", "d", "t_prime", "b"), [(2, 3, math.log(10), -10.0), (5, 4, 1.3, -2.0), (7, 16, 0.0, 0.5)]
)
def test_loss_and_gradients_equal_the_papers_equation(n: int, d: int, t_prime: float, b: float) -> None:
    g = torch.Generator().manual_seed(n * 10 + d)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    loss_fn = SigmoidLoss(log_scale_init=t_prime, bias_init=b).double()
    loss = loss_fn(z1, z2)
    loss.backward()
    # the parameters as stored (float32 at creation), so both sides start from the same numbers
    t_ref = loss_fn.log_scale.detach()[0].clone().requires_grad_(True)
    b_ref = loss_fn.bias.detach()[0].clone().requires_grad_(True)
    z1_ref, z2_ref = z1.detach().clone().requires_grad_(True), z2.detach().clone().requires_grad_(True)
    expected = _paper_loss(z1_ref, z2_ref, t_ref, b_ref)
    expected.backward()
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-12)
    for ours, ref in [(z1.grad, z1_ref.grad), (z2.grad, z2_ref.grad)]:
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(loss_fn.log_scale.grad[0], t_ref.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(loss_fn.bias.grad[0], b_ref.grad, rtol=1e-9, atol=1e-12)


def test_the_transposed_matrix_gives_the_same_loss() -> None:
    """Why one cross-view matrix covers both directions: swapping the views changes nothing."""
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    loss = SigmoidLoss(log_scale_init=1.0, bias_init=-1.0)
    torch.testing.assert_close(loss(z1, z2), loss(z2, z1))


def test_paper_initialisation_and_no_weight_decay_on_t_and_b() -> None:
    method = zoo.create_method("sigmoid", backbone=TINY_BACKBONE)
    criterion = method.criterion
    assert criterion.log_scale.shape == criterion.bias.shape == (1,)  # 1-D: biases to the optimisers
    assert criterion.log_scale.exp().item() == pytest.approx(10.0)
    assert criterion.bias.item() == -10.0
    for exclude in (True, False):
        *rest, scalars = method.param_groups(exclude_bias_n_norm=exclude)
        assert scalars == {"params": [criterion.log_scale, criterion.bias], "lr": 1e-3, "weight_decay": 0.0}
        assert all(p is not q for g in rest for p in g["params"] for q in scalars["params"])


def test_gradient_reaches_t_and_b_through_the_method(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("sigmoid", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=32)
    method.loss(views32).backward()
    assert method.criterion.log_scale.grad.abs().item() > 0
    assert method.criterion.bias.grad.abs().item() > 0


def test_float32_under_autocast() -> None:
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    loss = SigmoidLoss()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = loss(z1.bfloat16(), z2.bfloat16())
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(loss(z1.bfloat16().float(), z2.bfloat16().float()).item(), abs=1e-6)


def test_projector_is_mi_binarys() -> None:
    method = zoo.create_method("sigmoid", backbone=TINY_BACKBONE)
    reference = zoo.create_method("mi-binary", backbone=TINY_BACKBONE)
    assert str(method.projector) == str(reference.projector)


def _rank_loss(rank: int, world: int, z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, ...]:
    n = z1.shape[0] // world
    a = z1[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    b = z2[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    loss_fn = SigmoidLoss(log_scale_init=1.5, bias_init=-3.0, gather_distributed=True)
    loss = loss_fn(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad, loss_fn.log_scale.grad, loss_fn.bias.grad


def test_gather_distributed_equals_global_batch() -> None:
    world = 2
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    out = run_on_ranks(_rank_loss, world, z1, z2)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    loss_fn = SigmoidLoss(log_scale_init=1.5, bias_init=-3.0)
    full = loss_fn(a, b)
    full.backward()
    # data-parallel training averages the ranks' gradients; the gather layer already summed the keys' over ranks
    assert torch.stack([o[0] for o in out]).mean().item() == pytest.approx(full.item(), abs=1e-5)
    torch.testing.assert_close(torch.cat([o[1] for o in out]) / world, a.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(torch.cat([o[2] for o in out]) / world, b.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(torch.stack([o[3] for o in out]).mean(0), loss_fn.log_scale.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(torch.stack([o[4] for o in out]).mean(0), loss_fn.bias.grad, atol=1e-6, rtol=1e-5)
