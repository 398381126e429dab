"""DeepCluster v2: the loss and k-means against solo-learn's written out, the memory bank over epochs, resume, no
host sync in the step, and the trainer's epoch hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import zoo
from tests.conftest import TINY_BACKBONE, reload_state
from tests.speed.test_no_host_sync import no_host_sync
from zoo.methods.deepclusterv2 import DeepClusterV2Loss, spherical_kmeans
from zoo.train import train

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 16, "num_prototypes": [4, 5, 3]}
# an epoch of two steps of 8 images, out of a dataset of 20 (0, 1, 2, 5 never come: dropped by the loader)
PLAN = torch.tensor([[7, 3, 19, 11, 4, 16, 9, 13], [8, 6, 18, 10, 17, 12, 15, 14]])


def _solo_loss(outputs: Tensor, assignments: Tensor, t: float) -> Tensor:
    """solo-learn solo/losses/deepclusterv2.py: outputs (P, V, N, C), assignments (P, N)."""
    loss = 0.0
    for h in range(outputs.size(0)):
        scores = outputs[h].reshape(-1, outputs.size(-1)) / t
        loss = loss + F.cross_entropy(scores, assignments[h].repeat(outputs.size(1)), ignore_index=-1)
    return loss / outputs.size(0)


def _solo_kmeans(x: Tensor, centroids: Tensor, iterations: int) -> tuple[Tensor, Tensor]:
    """solo-learn solo/utils/kmeans.py cluster_memory on one process, one loop per cluster as its sparse helper."""
    centroids = centroids.clone()
    for n_iter in range(iterations + 1):
        assignment = (x @ centroids.T).max(dim=1)[1]
        if n_iter == iterations:
            break
        for k in range(len(centroids)):
            members = [i for i in range(len(x)) if assignment[i] == k]
            if members:
                centroids[k] = x[members].sum(0) / len(members)
        centroids = F.normalize(centroids, dim=1)
    return centroids, assignment


def _method(**hparams: object) -> zoo.Method:
    return zoo.create_method("deepclusterv2", backbone=TINY_BACKBONE, **{**SMALL, **hparams})


def _views(step: int) -> list[Tensor]:
    g = torch.Generator().manual_seed(step)
    return [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]


def _projections(method: zoo.Method, views: list[Tensor]) -> list[Tensor]:
    with torch.no_grad():
        return [F.normalize(method.projector(method.backbone(v)), dim=1) for v in views]


def _epoch(method: zoo.Method, epoch: int, steps: int = 2) -> list[Tensor]:
    method.epoch_start(epoch, PLAN)
    losses = []
    for step in range(steps):
        losses.append(method.loss(_views(10 * epoch + step)).detach())
        method.step_end(0.0)
    return losses


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("deepclusterv2", backbone=TINY_BACKBONE)
    assert [p.weight.shape for p in method.prototypes] == [(3000, 128)] * 3
    assert method.hparams["temperature"] == 0.1 and method.hparams["kmeans_iters"] == 10
    assert [type(m).__name__ for m in method.projector.layers] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert method.projector.layers[0].out_features == 2048
    assert not any(p is w for p in method.parameters() for w in [q.weight for q in method.prototypes])


def test_loss_equals_solo_learn() -> None:
    g = torch.Generator().manual_seed(0)
    z = [F.normalize(torch.randn(6, 8, generator=g), dim=1).requires_grad_() for _ in range(2)]
    prototypes = [F.normalize(torch.randn(5, 8, generator=g), dim=1) for _ in range(3)]
    targets = torch.randint(-1, 5, (3, 6), generator=g)
    targets[:, 0] = 2  # at least one target per clustering
    got = DeepClusterV2Loss(0.1)(z, prototypes, targets)
    outputs = torch.stack([torch.stack([v @ p.T for v in z]) for p in prototypes])
    expected = _solo_loss(outputs, targets, 0.1)
    torch.testing.assert_close(got, expected)
    for a, b in zip(torch.autograd.grad(got, z), torch.autograd.grad(expected, z), strict=True):
        torch.testing.assert_close(a, b)


def test_loss_without_targets_is_zero_not_nan() -> None:
    z = [F.normalize(torch.randn(4, 8), dim=1).requires_grad_() for _ in range(2)]
    loss = DeepClusterV2Loss(0.1)(z, [F.normalize(torch.randn(3, 8), dim=1)], torch.full((1, 4), -1))
    assert loss.item() == 0.0
    assert all(torch.equal(g, torch.zeros_like(g)) for g in torch.autograd.grad(loss, z))


def test_kmeans_equals_solo_learn() -> None:
    x = F.normalize(torch.randn(200, 8), dim=1)
    centroids, assignment = spherical_kmeans(x, 7, 10, torch.Generator().manual_seed(3))
    start = x[torch.randperm(200, generator=torch.Generator().manual_seed(3))[:7]]
    expected_centroids, expected_assignment = _solo_kmeans(x, start, 10)
    torch.testing.assert_close(centroids, expected_centroids)
    assert torch.equal(assignment, expected_assignment)


def test_kmeans_keeps_the_centroid_of_an_empty_cluster() -> None:
    x = F.normalize(torch.randn(12, 4), dim=1)
    picked = torch.randperm(12, generator=torch.Generator().manual_seed(0))[:5]
    x[picked[1]] = x[picked[0]]  # two equal start centroids: the second (a tie lost) has no member
    centroids, assignment = spherical_kmeans(x, 5, 1, torch.Generator().manual_seed(0))
    expected_centroids, expected_assignment = _solo_kmeans(x, x[picked], 1)
    torch.testing.assert_close(centroids, expected_centroids)
    assert torch.equal(assignment, expected_assignment)
    torch.testing.assert_close(centroids[1], x[picked[1]])


def test_first_epoch_fills_the_bank_without_targets() -> None:
    method = _method()
    method.eval()  # fixed BatchNorm statistics: the bank holds what `_projections` computes
    losses = _epoch(method, 0)
    assert all(loss.item() == 0.0 for loss in losses)
    for step in range(2):
        expected = torch.stack(_projections(method, _views(step)))
        torch.testing.assert_close(method.bank[:, 8 * step : 8 * step + 8], expected)
    assert torch.equal(method.bank_index, PLAN.flatten())


def test_epoch_start_clusters_the_bank_and_targets_follow_the_images() -> None:
    method = _method()
    method.eval()
    _epoch(method, 0)
    bank = method.bank.clone()
    method.epoch_start(1, PLAN.flip(1))  # the next epoch's order differs
    for h, k in enumerate(SMALL["num_prototypes"]):
        start = bank[h % 2][torch.randperm(16, generator=torch.Generator().manual_seed(1_000_003 + h))[:k]]
        centroids, assignment = _solo_kmeans(bank[h % 2], start, 10)
        torch.testing.assert_close(method.prototypes[h].weight, centroids)
        expected = torch.full((20,), -1)
        expected[PLAN.flatten()] = assignment
        assert torch.equal(method.assignments[h], expected)
    views = _views(5)
    z = _projections(method, views)
    index = PLAN.flip(1)[0]
    expected = DeepClusterV2Loss(0.1)(z, [p.weight for p in method.prototypes], method.assignments[:, index])
    loss = method.loss(views)
    assert loss.item() > 0
    torch.testing.assert_close(loss, expected)


def test_resume_inside_an_epoch_does_not_cluster_again() -> None:
    a = _method()
    _epoch(a, 0)
    _epoch(a, 1, steps=1)
    b = _method()
    reload_state(a, b)
    for name in ("bank", "bank_index", "assignments"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    b.epoch_start(1, PLAN)  # the trainer calls it again on resume
    assert all(torch.equal(p.weight, q.weight) for p, q in zip(a.prototypes, b.prototypes, strict=True))
    assert torch.equal(a.assignments, b.assignments)
    views = _views(11)
    torch.testing.assert_close(a.loss(views), b.loss(views))
    assert torch.equal(a.bank, b.bank)  # the same slot (step 2 of the epoch) written


def test_too_many_prototypes_for_the_epoch_is_a_user_error() -> None:
    method = _method(num_prototypes=[17])
    _epoch(method, 0)  # the first epoch clusters nothing: it trains
    with pytest.raises(zoo.ZooError, match="num_prototypes.*16 images"):
        method.epoch_start(1, PLAN)


def test_step_with_targets_has_no_host_sync() -> None:
    method = _method()
    _epoch(method, 0)
    method.epoch_start(1, PLAN)
    with no_host_sync(torch.device("cpu")):
        method.loss(_views(3)).backward()
        method.step_end(0.5)
        method.loss(_views(4)).backward()


def test_the_trainer_calls_epoch_start_with_the_loader_batches(tmp_path: Path) -> None:
    sets = [
        "method.name=deepclusterv2", "method.num_prototypes=[10, 10]", "data.fraction=0.02",
        "schedule.batch_size=50", "schedule.epochs=2", "eval.linear_epochs=0", f"run.out_dir={tmp_path}",
    ]  # fmt: skip
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "simclr_fashion_mnist_small.toml"
    run_dir = train(recipe, sets).run_dir
    losses = [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert losses[0] == 0.0 and losses[1] > 0.0  # targets from the k-means of epoch 1's bank
