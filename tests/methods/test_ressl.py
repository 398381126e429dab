"""ReSSL: the relational loss against a literal loop over the paper's equation, the queue, the teacher, the state."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from tests.conftest import TINY_BACKBONE, reload_state
from zoo.methods.ressl import ReSSLLoss

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32}


def _ressl_loop(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, tq: float, tk: float) -> float:
    """The ReSSL loss sample by sample in float64: -sum_j t_ij log p_ij, with p from the normalised query at tq and t
    from the normalised key at tk, both softmaxes over the queue; the mean over the batch."""
    total = 0.0
    for qi, ki in zip(q.double().tolist(), k.double().tolist(), strict=True):
        qn, kn = math.sqrt(sum(a * a for a in qi)), math.sqrt(sum(a * a for a in ki))
        sq = [sum(a * b for a, b in zip(qi, u, strict=True)) / qn / tq for u in queue.double().tolist()]
        sk = [sum(a * b for a, b in zip(ki, u, strict=True)) / kn / tk for u in queue.double().tolist()]
        zq, zk = sum(math.exp(s) for s in sq), sum(math.exp(s) for s in sk)
        total -= sum(math.exp(b) / zk * (a - math.log(zq)) for a, b in zip(sq, sk, strict=True))
    return total / len(q)


def test_loss_equals_the_papers_equation_sample_by_sample() -> None:
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    queue = F.normalize(torch.randn(20, 5, generator=g), dim=1)
    got = ReSSLLoss(0.1, 0.04)(q, k, queue)
    assert math.isclose(got.item(), _ressl_loop(q, k, queue, 0.1, 0.04), rel_tol=1e-5)
    # a temperature swap changes the value: the test tells the student's from the teacher's
    assert not math.isclose(ReSSLLoss(0.04, 0.1)(q, k, queue).item(), got.item(), rel_tol=1e-3)


def test_gradient_reaches_the_student_only() -> None:
    g = torch.Generator().manual_seed(4)
    q, k = torch.randn(6, 5, generator=g).requires_grad_(), torch.randn(6, 5, generator=g).requires_grad_()
    queue = F.normalize(torch.randn(20, 5, generator=g), dim=1)
    ReSSLLoss()(q, k, queue).backward()
    assert q.grad.abs().sum() > 0 and k.grad is None


def test_method_compares_view_one_with_the_teacher_on_view_two_before_enqueueing(views32: list) -> None:
    method = zoo.create_method("ressl", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    method.eval()  # fixed BatchNorm statistics (none in this projector) so both computations see the same outputs
    queue = method.queue.bank.clone()
    q = method.projector(method.backbone(views32[0]))
    with torch.no_grad():
        k = F.normalize(method.projector_momentum(method.backbone_momentum(views32[1])), dim=1)
    expected = ReSSLLoss(0.1, 0.04)(q, k, queue)
    method.train()
    method.backbone.eval()  # the test backbone's BatchNorm: same statistics as above
    method.backbone_momentum.eval()
    torch.testing.assert_close(method.loss(views32), expected)
    assert method.queue.host_ptr == 8 and int(method.queue.bank_ptr) == 8
    torch.testing.assert_close(method.queue.bank[:8], k)
    assert torch.equal(method.queue.bank[8:], queue[8:])


def test_queue_rolls_and_only_training_enqueues(views32: list) -> None:
    method = zoo.create_method("ressl", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    method.loss(views32)
    method.loss(views32)
    assert int(method.queue.bank_ptr) == 0  # 16 keys: full, the pointer wraps
    method.eval()
    before = method.queue.bank.clone()
    method.loss(views32)
    assert torch.equal(method.queue.bank, before) and int(method.queue.bank_ptr) == 0


def test_queue_is_in_the_state_dict(views32: list) -> None:
    a = zoo.create_method("ressl", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    a.loss(views32)
    b = zoo.create_method("ressl", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    reload_state(a, b)
    assert torch.equal(a.queue.bank, b.queue.bank) and b.queue.host_ptr == 8


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("ressl", backbone=TINY_BACKBONE)
    h = method.hparams
    assert (h["temperature_q"], h["temperature_k"], h["queue_size"]) == (0.1, 0.04, 65536)
    assert (h["momentum"], h["momentum_end"]) == (0.99, 1.0)
    linears = [m for m in method.projector.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(method.num_features, 4096), (4096, 256)]
    assert all(m.bias is not None for m in linears)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in method.projector.modules())
    assert tuple(method.queue.bank.shape) == (65536, 256)
    torch.testing.assert_close(method.queue.bank.norm(dim=1), torch.ones(65536))
