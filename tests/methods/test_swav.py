"""SwAV: lightly's loss on the same scores, bias-free unit prototypes, prototype freezing, the queue, resume."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.loss import SwaVLoss

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 16, "num_prototypes": 32}


def _scores(method: zoo.Method, views: list[torch.Tensor]) -> list[torch.Tensor]:
    return [method.prototypes(F.normalize(method.projector(method.backbone(v)), dim=1)) for v in views]


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE)
    assert method.prototypes.weight.shape == (3000, 128) and method.prototypes.bias is None
    assert method.n_views == 2 and method.n_local_views == 0 and len(method.queues) == 2
    assert method.queues[0].bank.shape == (3840, 128) and method.hparams["queue_start_steps"] == 50 * 195
    assert method.hparams["freeze_prototypes_steps"] == 2 * 195


def test_loss_equals_lightly_swav_loss(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, temperature=0.2, **SMALL)
    method.eval()
    expected = SwaVLoss(temperature=0.2)(_scores(method, views32), [])
    torch.testing.assert_close(method.loss(views32), expected.squeeze(0))


def test_local_views_are_predictors_only() -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, **SMALL)
    method.eval()
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(8, 3, s, s, generator=g) for s in (32, 32, 16, 16)]
    scores = _scores(method, views)
    torch.testing.assert_close(method.loss(views), SwaVLoss()(scores[:2], scores[2:]).squeeze(0))


def test_prototypes_are_weight_normalised_with_norm_fixed_at_one() -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, **SMALL)
    direction = method.prototypes.parametrizations.weight.original1
    with torch.no_grad():
        direction.mul_(3.0)
    norms = method.prototypes.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert not method.prototypes.parametrizations.weight.original0.requires_grad


def test_prototypes_frozen_for_the_first_steps(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, freeze_prototypes_steps=2, **SMALL)
    for step in range(3):
        method.zero_grad()
        method.loss(views32).backward()
        direction = method.prototypes.parametrizations.weight.original1
        assert (not direction.grad.any()) == (step < 2), f"step {step}"
        assert direction.requires_grad
        assert method.projector.layers[0].weight.grad.any()
        method.step_end(step / 3)


def test_step_counter_survives_a_checkpoint(views32: list[torch.Tensor]) -> None:
    a = zoo.create_method("swav", backbone=TINY_BACKBONE, freeze_prototypes_steps=2, **SMALL)
    for _ in range(2):
        a.step_end(0.0)
    b = zoo.create_method("swav", backbone=TINY_BACKBONE, freeze_prototypes_steps=2, **SMALL)
    reload_state(a, b)
    assert int(b.steps_done) == 2
    b.loss(views32).backward()
    assert b.prototypes.parametrizations.weight.original1.grad.any(), "resumed run froze the prototypes again"


def test_queue_fills_and_rolls_and_is_checkpointed() -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, queue_size=20, queue_start_steps=100, **SMALL)
    assert len(method.queues) == 2 and "queues.0.bank" in method.state_dict()
    queue = method.queues[0]
    g = torch.Generator().manual_seed(3)
    batches = [[torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)] for _ in range(4)]
    initial = queue.bank.clone()
    with torch.no_grad():
        method.loss(batches[0])
        assert int(queue.bank_ptr) == 8 and torch.equal(queue.bank[8:], initial[8:])
        first = queue.bank[:8].clone()
        assert not torch.equal(first, initial[:8])
        method.loss(batches[1])
        assert int(queue.bank_ptr) == 16
        method.loss(batches[2])  # 24 entries into 20 slots: the pointer wraps to 0
        assert int(queue.bank_ptr) == 0 and not torch.equal(queue.bank[16:], initial[16:])
        method.loss(batches[3])  # the oldest batch is replaced
        assert int(queue.bank_ptr) == 8 and not torch.equal(queue.bank[:8], first)
    b = zoo.create_method("swav", backbone=TINY_BACKBONE, queue_size=20, queue_start_steps=100, **SMALL)
    reload_state(method, b)
    assert torch.equal(b.queues[1].bank, method.queues[1].bank) and int(b.queues[1].bank_ptr) == 8


def test_queue_joins_the_codes_once_started(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, queue_size=16, queue_start_steps=1, **SMALL)
    method.eval()
    scores = _scores(method, views32)
    assert torch.allclose(method.loss(views32), SwaVLoss()(scores, []).squeeze(0)), "queue used before its start"
    method.step_end(0.0)
    queued = [method.prototypes(q.bank.clone()) for q in method.queues]
    expected = SwaVLoss()(scores, [], queued).squeeze(0)
    torch.testing.assert_close(method.loss(views32), expected)


def test_scores_and_loss_in_float32_under_mixed_precision(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("swav", backbone=TINY_BACKBONE, **SMALL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = F.normalize(method.projector(method.backbone(views32[0])), dim=1)
        assert z.dtype == torch.bfloat16 and method._scores(z).dtype == torch.float32
        loss = method.loss(views32)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
