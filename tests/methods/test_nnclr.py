"""NNCLR: the loss on support-set neighbours and predictions (lightly's NT-Xent variant), the support set's state."""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules.nn_memory_bank import NNMemoryBankModule

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64}


def test_ntxent_variant_equals_lightly_on_nearest_neighbours(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("nnclr", backbone=TINY_BACKBONE, queue_size=64, temperature=0.3, loss="ntxent", **SMALL)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    reference = NNMemoryBankModule(size=(64, 32))
    reference.bank.copy_(method.support_set.bank)
    z1, z2 = (method.projector(method.backbone(v)) for v in views32)
    p1, p2 = method.predictor(z1), method.predictor(z2)
    nn1, nn2 = reference(z1.detach()), reference(z2.detach())
    ntxent = NTXentLoss(temperature=0.3)
    torch.testing.assert_close(method.loss(views32), 0.5 * (ntxent(nn1, p2) + ntxent(nn2, p1)))


def test_support_set_fills_with_the_first_view_and_rolls(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("nnclr", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    method.eval()
    bank = method.support_set
    initial = bank.bank.clone()
    with torch.no_grad():
        z1 = method.projector(method.backbone(views32[0]))
    method.loss(views32)
    assert int(bank.bank_ptr) == 8
    torch.testing.assert_close(bank.bank[:8], z1)
    assert torch.equal(bank.bank[8:], initial[8:])
    method.loss(views32)
    assert int(bank.bank_ptr) == 0  # 16 entries: full, the pointer wraps
    torch.testing.assert_close(bank.bank[8:], z1)
    with torch.no_grad():
        assert torch.equal(bank(z1), z1)  # each projection's nearest neighbour is now its own earlier copy
    method.loss([v.flip(0) for v in views32])
    assert int(bank.bank_ptr) == 8
    torch.testing.assert_close(bank.bank[:8], z1.flip(0))


def test_support_set_is_in_the_state_dict() -> None:
    a = zoo.create_method("nnclr", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    a.loss([torch.randn(8, 3, 32, 32), torch.randn(8, 3, 32, 32)])
    assert {"support_set.bank", "support_set.bank_ptr"} <= a.state_dict().keys()
    b = zoo.create_method("nnclr", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    reload_state(a, b)
    assert torch.equal(a.support_set.bank, b.support_set.bank) and int(b.support_set.bank_ptr) == 8
