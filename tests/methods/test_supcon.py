"""SupCon: hand-worked examples, an independent loop implementation of eq. 2, NT-Xent as the one-class-per-image case,
label use, numerical stability, distributed gather."""

from __future__ import annotations

import math

import pytest
import torch
from lightly.loss import NTXentLoss

import zoo
from tests.conftest import TINY_BACKBONE
from tests.distributed import run_on_ranks
from zoo.errors import ZooError
from zoo.methods.supcon import SupConLoss

# two images, two views each; rows are view-major: (img0 v1, img1 v1, img0 v2, img1 v2)
Z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])


def _loop_supcon(z: torch.Tensor, labels: list[int], tau: float) -> float:
    """Eq. 2 of Khosla et al. with plain Python loops, as written in the paper."""
    u = [[x / math.sqrt(sum(c * c for c in row)) for x in row] for row in z.tolist()]
    total, anchors = 0.0, 0
    for i in range(len(u)):
        positives = [p for p in range(len(u)) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        sims = [sum(a * b for a, b in zip(u[i], u[a_], strict=True)) / tau for a_ in range(len(u))]
        denominator = sum(math.exp(sims[a_]) for a_ in range(len(u)) if a_ != i)
        total += -sum(math.log(math.exp(sims[p]) / denominator) for p in positives) / len(positives)
        anchors += 1
    return total / anchors


def test_worked_example_one_class_per_image() -> None:
    # each anchor: one positive at cosine 1, two negatives at cosine 0 -> -log(e^(1/tau) / (e^(1/tau) + 2))
    loss = SupConLoss(temperature=0.5)(Z, torch.tensor([0, 1, 0, 1]))
    assert loss.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), abs=1e-6)  # 0.239563


def test_worked_example_one_class_for_all() -> None:
    # each anchor: positives at cosines 0, 1, 0 over the same denominator e^2 + 2 -> log(e^2 + 2) - 2/3
    loss = SupConLoss(temperature=0.5, variant="out")(Z, torch.tensor([7, 7, 7, 7]))
    assert loss.item() == pytest.approx(math.log(math.exp(2) + 2) - 2 / 3, abs=1e-6)  # 1.572897
    # solo-learn's form: every other view is a positive, so the positive mass is the whole denominator -> 0
    loss_in = SupConLoss(temperature=0.5, variant="in")(Z, torch.tensor([7, 7, 7, 7]))
    assert loss_in.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_matches_loop_implementation(tau: float) -> None:
    g = torch.Generator().manual_seed(4)
    z = torch.randn(10, 5, generator=g)
    labels = [0, 1, 2, 0, 3, 0, 1, 2, 0, 4]  # label 4 alone: an anchor without positives
    loss = SupConLoss(temperature=tau, variant="out")(z, torch.tensor(labels))
    assert loss.item() == pytest.approx(_loop_supcon(z, labels, tau), rel=1e-5)


def test_one_class_per_image_is_lightly_ntxent() -> None:
    g = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    labels = torch.arange(6).repeat(2)
    torch.testing.assert_close(SupConLoss(0.2)(torch.cat([z1, z2]), labels), NTXentLoss(temperature=0.2)(z1, z2))


def test_stable_at_tiny_temperature_and_low_precision() -> None:
    g = torch.Generator().manual_seed(6)
    z = torch.randn(8, 4, generator=g, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 3, 3])
    loss = SupConLoss(temperature=1e-4)(z, labels)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    low = z.detach().bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as in training: the similarities must stay in float32
        mixed = SupConLoss(0.2)(low, labels)
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(SupConLoss(0.2)(low.float(), labels).item(), abs=1e-6)


def test_invariant_to_row_scaling() -> None:
    g = torch.Generator().manual_seed(7)
    z = torch.randn(6, 4, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 2, 0])
    scaled = z * torch.tensor([[1.0], [3.0], [0.5], [2.0], [10.0], [0.1]])
    torch.testing.assert_close(SupConLoss()(z, labels), SupConLoss()(scaled, labels))


def test_bad_arguments() -> None:
    with pytest.raises(ZooError, match="temperature"):
        SupConLoss(temperature=0.0)
    with pytest.raises(ValueError, match="labels"):
        SupConLoss()(torch.randn(4, 3), torch.zeros(3, dtype=torch.long))


def test_method_uses_the_labels(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("supcon", backbone=TINY_BACKBONE, proj_hidden_dim=64, proj_output_dim=16)
    assert method.requires_labels and method.family == "supervised"
    method.eval()
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 3, 3])
    z = torch.cat([method.projector(method.backbone(v)) for v in views32])
    torch.testing.assert_close(method.loss(views32, labels), SupConLoss(0.2)(z, labels.repeat(2)))
    assert not torch.allclose(method.loss(views32, labels), method.loss(views32, torch.arange(8)))
    with pytest.raises(ZooError, match="labels"):
        method.loss(views32)


def _rank_loss(rank: int, world: int, z: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    n = z.shape[0] // world
    local = z[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    loss = SupConLoss(temperature=0.3, gather_distributed=True)(local, labels[rank * n : (rank + 1) * n])
    loss.backward()
    return loss.detach(), local.grad


def test_gather_distributed_equals_global_batch() -> None:
    world = 2
    z, labels = torch.randn(8, 5), torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    out = run_on_ranks(_rank_loss, world, z, labels)
    full_z = z.clone().requires_grad_(True)
    full = SupConLoss(temperature=0.3)(full_z, labels)
    full.backward()
    assert torch.stack([o[0] for o in out]).mean().item() == pytest.approx(full.item(), abs=1e-6)
    # data-parallel training averages rank gradients; the gather layer already summed over ranks
    torch.testing.assert_close(torch.cat([o[1] for o in out]) / world, full_z.grad, atol=1e-6, rtol=1e-5)
