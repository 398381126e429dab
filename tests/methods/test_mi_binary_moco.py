"""mi-binary-moco: MIO's bound of queries against momentum keys and a known queue, the queues filling and wrapping."""

from __future__ import annotations

import math

import pytest
import torch

import zoo
from tests.conftest import TINY_BACKBONE, reload_state
from zoo.methods.mi_binary_moco import MIBinaryQueueLoss

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32}


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _literal(query, key, queue, tau_pos: float, tau_neg: float, bound: str = "jensen") -> float:
    """PAPER.md's L_mm (or L_naive) with the queue as each query's negatives, written out in plain Python floats:
    mean_i [log(1 + e^(-s_i+ / tau_p)) + log(1 + (1/K) sum_k e^(s_ik / tau_n))]."""
    q = [_unit(r) for r in query.tolist()]
    k = [_unit(r) for r in key.tolist()]
    n = [_unit(r) for r in queue.tolist()]
    positive = sum(math.log(1 + math.exp(-_dot(qi, ki) / tau_pos)) for qi, ki in zip(q, k, strict=True)) / len(q)
    if bound == "jensen":
        per_query = [math.log(1 + sum(math.exp(_dot(qi, nk) / tau_neg) for nk in n) / len(n)) for qi in q]
    else:
        per_query = [sum(math.log(1 + math.exp(_dot(qi, nk) / tau_neg)) for nk in n) / len(n) for qi in q]
    return positive + sum(per_query) / len(q)


@pytest.mark.parametrize("bound", ["jensen", "none"])
@pytest.mark.parametrize(("n", "k", "d"), [(2, 3, 2), (5, 17, 8), (8, 64, 4)])
def test_queue_loss_equals_the_literal_formula(bound: str, n: int, k: int, d: int) -> None:
    g = torch.Generator().manual_seed(n + k + d)
    query, key, queue = (torch.randn(m, d, generator=g, dtype=torch.float64) * 3 for m in (n, n, k))
    loss = MIBinaryQueueLoss(tau_pos=0.3, tau_neg=0.7, bound=bound)(query, key, queue)
    assert loss.item() == pytest.approx(_literal(query, key, queue, 0.3, 0.7, bound), rel=1e-12)


def test_float32_under_autocast() -> None:
    query, key, queue = torch.randn(4, 8), torch.randn(4, 8), torch.randn(16, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = MIBinaryQueueLoss()(query.bfloat16(), key.bfloat16(), queue)
    assert loss.dtype == torch.float32


def _projections(method: zoo.Method, views: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    queries = [method.projector(method.backbone(v)) for v in views]
    with torch.no_grad():
        keys = [method.projector_momentum(method.backbone_momentum(v)) for v in views]
    return queries, keys


def test_method_loss_is_the_symmetric_formula_on_known_queues(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=40, **SMALL)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    g = torch.Generator().manual_seed(5)
    known = [torch.randn(40, 32, generator=g) for _ in range(2)]
    for queue, bank in zip(method.queues, known, strict=True):
        queue.bank.copy_(bank)
    (q1, q2), (k1, k2) = _projections(method, views32)
    expected = 0.5 * (_literal(q1, k2, known[0], 0.5, 0.5) + _literal(q2, k1, known[1], 0.5, 0.5))
    assert method.loss(views32).item() == pytest.approx(expected, rel=1e-5)


def test_each_view_has_its_own_queue_that_fills_and_wraps(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=20, **SMALL)
    method.eval()
    initial = method.queues[0].bank.clone()
    _, (k1, k2) = _projections(method, views32)
    k1, k2 = (torch.nn.functional.normalize(k, dim=1) for k in (k1, k2))
    method.loss(views32)
    assert [int(q.bank_ptr) for q in method.queues] == [8, 8]
    torch.testing.assert_close(method.queues[0].bank[:8], k2)  # negatives of view-1 queries: past view-2 keys
    torch.testing.assert_close(method.queues[1].bank[:8], k1)
    assert torch.equal(method.queues[0].bank[8:], initial[8:])
    method.loss(views32)
    assert int(method.queues[0].bank_ptr) == 16
    method.loss(views32)  # 16 + 8 >= 20: the first 4 keys fill the end, the pointer wraps to 0
    assert int(method.queues[0].bank_ptr) == 0
    torch.testing.assert_close(method.queues[0].bank[16:], k2[:4])
    shifted = [v.roll(1, dims=0) for v in views32]
    method.loss(shifted)
    assert int(method.queues[0].bank_ptr) == 8
    _, (_, k2_shifted) = _projections(method, shifted)
    torch.testing.assert_close(method.queues[0].bank[:8], torch.nn.functional.normalize(k2_shifted, dim=1))


def test_queue_is_read_before_this_batch_enters_it(views32: list[torch.Tensor]) -> None:
    """The first step's negatives are the queue's starting keys, not the batch's own keys."""
    method = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    method.eval()
    start = [q.bank.clone() for q in method.queues]
    (q1, q2), (k1, k2) = _projections(method, views32)
    expected = 0.5 * (_literal(q1, k2, start[0], 0.5, 0.5) + _literal(q2, k1, start[1], 0.5, 0.5))
    assert method.loss(views32).item() == pytest.approx(expected, rel=1e-5)


def test_no_queue_update_without_gradients(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    with torch.no_grad():
        method.loss(views32)
    assert [int(q.bank_ptr) for q in method.queues] == [0, 0]


def test_queues_are_in_the_state_dict(views32: list[torch.Tensor]) -> None:
    a = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    a.loss(views32)
    b = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    reload_state(a, b)
    for qa, qb in zip(a.queues, b.queues, strict=True):
        assert torch.equal(qa.bank, qb.bank) and qb.host_ptr == 8


def test_defaults_follow_mio_and_solo_learns_moco_v2_plus() -> None:
    method = zoo.create_method("mi-binary-moco", backbone=TINY_BACKBONE)
    assert method.queues[0].bank.shape == (32768, 128)
    assert method.momentum_at(0.0) == 0.99
    assert method.momentum_at(1.0) == pytest.approx(0.999)
    assert (method.criterion.tau_pos, method.criterion.tau_neg, method.criterion.bound) == (0.5, 0.5, "jensen")
    assert str(method.projector) == str(zoo.create_method("mi-binary", backbone=TINY_BACKBONE).projector)
