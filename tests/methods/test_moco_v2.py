"""MoCo v2: lightly's NT-Xent with a queue on the same projections, the two queues, and their state."""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32}


def _keys(method: zoo.Method, views: list[torch.Tensor]) -> list[torch.Tensor]:
    with torch.no_grad():
        return [method.projector_momentum(method.backbone_momentum(v)) for v in views]


def test_loss_equals_lightly_ntxent_with_a_queue(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, queue_size=64, temperature=0.3, **SMALL)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    references = []
    for criterion in method.criteria:
        reference = NTXentLoss(temperature=0.3, memory_bank_size=(64, 32))
        reference.memory_bank.bank.copy_(criterion.criterion.memory_bank.bank)
        references.append(reference)
    q1, q2 = (method.projector(method.backbone(v)) for v in views32)
    k1, k2 = _keys(method, views32)
    expected = 0.5 * (references[0](q1, k2) + references[1](q2, k1))
    torch.testing.assert_close(method.loss(views32), expected)


def test_each_view_has_its_own_queue_that_fills_and_rolls(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    method.eval()
    banks = [criterion.criterion.memory_bank for criterion in method.criteria]
    initial = banks[0].bank.clone()
    k1, k2 = (torch.nn.functional.normalize(k, dim=1) for k in _keys(method, views32))
    method.loss(views32)
    assert [int(b.bank_ptr) for b in banks] == [8, 8]
    torch.testing.assert_close(banks[0].bank[:8], k2)  # negatives of view-1 queries are past view-2 keys
    torch.testing.assert_close(banks[1].bank[:8], k1)
    assert torch.equal(banks[0].bank[8:], initial[8:])
    method.loss(views32)
    method.loss(views32)
    assert int(banks[0].bank_ptr) == 0  # 24 keys: full, the pointer wraps
    assert not torch.equal(banks[0].bank[16:], initial[16:])
    shifted = [v.roll(1, dims=0) for v in views32]
    method.loss(shifted)
    assert int(banks[0].bank_ptr) == 8
    torch.testing.assert_close(banks[0].bank[:8], torch.nn.functional.normalize(_keys(method, shifted)[1], dim=1))


def test_queues_are_in_the_state_dict() -> None:
    a = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    a.eval()
    a.loss([torch.randn(8, 3, 32, 32), torch.randn(8, 3, 32, 32)])
    state = a.state_dict()
    assert {"criteria.0.criterion.memory_bank.bank", "criteria.1.criterion.memory_bank.bank_ptr"} <= state.keys()
    b = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, queue_size=24, **SMALL)
    reload_state(a, b)
    for ca, cb in zip(a.criteria, b.criteria, strict=True):
        assert torch.equal(ca.criterion.memory_bank.bank, cb.criterion.memory_bank.bank)
        assert int(cb.criterion.memory_bank.bank_ptr) == 8


def test_loss_decreases_on_a_fixed_batch_against_a_fixed_queue(views32: list[torch.Tensor]) -> None:
    """The method learns; on a repeated batch the queue would fill with copies of the positives, so hold it fixed."""
    method = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, queue_size=256, **SMALL)
    banks = [criterion.criterion.memory_bank for criterion in method.criteria]
    saved = [b.bank.clone() for b in banks]
    optimizer = torch.optim.AdamW(method.param_groups(), lr=1e-3, weight_decay=0.0)
    losses = []
    for step in range(10):
        loss = method.loss(views32)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.step_end(step / 10)
        for bank, bank0 in zip(banks, saved, strict=True):
            bank.bank.copy_(bank0)
            bank.bank_ptr.zero_()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_momentum_follows_the_solo_learn_schedule() -> None:
    method = zoo.create_method("moco-v2", backbone=TINY_BACKBONE, **SMALL)
    assert method.momentum_at(0.0) == 0.99
    assert abs(method.momentum_at(1.0) - 0.999) < 1e-9
