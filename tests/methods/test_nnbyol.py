"""NNBYOL: BYOL's loss on support-set neighbours of the momentum projections, the support set's order and state."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64}


def _solo_nnbyol(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor, queue: Tensor) -> Tensor:
    """solo-learn solo/methods/nnbyol.py training_step, in plain torch: momentum projections normalised, neighbours
    by the largest dot product with the (unit) queue, byol_loss_func(p, nn) = 2 - 2 mean cos, both directions."""
    queue = F.normalize(queue, dim=1)
    nn1 = queue[(F.normalize(z1, dim=1) @ queue.T).argmax(1)]
    nn2 = queue[(F.normalize(z2, dim=1) @ queue.T).argmax(1)]

    def byol(p: Tensor, z: Tensor) -> Tensor:
        return 2 - 2 * F.cosine_similarity(p, z, dim=1).mean()

    return byol(p1, nn2) + byol(p2, nn1)


def _parts(method: zoo.Method, views: list[Tensor]) -> tuple[Tensor, ...]:
    with torch.no_grad():
        p1, p2 = (method.predictor(method.projector(method.backbone(v))) for v in views)
        z1, z2 = (method.projector_momentum(method.backbone_momentum(v)) for v in views)
    return p1, p2, z1, z2


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("nnbyol", backbone=TINY_BACKBONE)
    h = method.hparams
    assert (h["proj_hidden_dim"], h["proj_output_dim"], h["pred_hidden_dim"]) == (4096, 256, 4096)
    assert (h["momentum"], h["momentum_end"], h["queue_size"]) == (0.99, 1.0, 65536)
    assert method.support_set.bank.shape == (65536, 256)
    assert method.support_set.gather_distributed


def test_loss_equals_solo_learn_on_a_random_queue(views32: list[Tensor]) -> None:
    method = zoo.create_method("nnbyol", backbone=TINY_BACKBONE, queue_size=64, **SMALL)
    method.eval()  # fixed BatchNorm statistics so both computations see the same projections
    queue = method.support_set.bank.clone()
    expected = _solo_nnbyol(*_parts(method, views32), queue)
    torch.testing.assert_close(method.loss(views32), expected)


def test_with_the_targets_in_the_queue_it_is_byol(views32: list[Tensor]) -> None:
    method = zoo.create_method("nnbyol", backbone=TINY_BACKBONE, queue_size=64, **SMALL)
    method.eval()
    p1, p2, z1, z2 = _parts(method, views32)
    method.support_set.bank[:16] = torch.cat([z1, z2])  # each target's nearest neighbour is itself
    byol = (2 - 2 * F.cosine_similarity(p1, z2).mean()) + (2 - 2 * F.cosine_similarity(p2, z1).mean())
    torch.testing.assert_close(method.loss(views32), byol)


def test_first_view_momentum_projections_are_enqueued_after_both_look_ups(views32: list[Tensor]) -> None:
    method = zoo.create_method("nnbyol", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    method.eval()
    bank = method.support_set
    initial = bank.bank.clone()
    parts = _parts(method, views32)
    z1 = parts[2]
    expected = _solo_nnbyol(*parts, initial)
    torch.testing.assert_close(method.loss(views32), expected)  # the look-ups did not see z1
    assert int(bank.bank_ptr) == 8
    torch.testing.assert_close(bank.bank[:8], z1)
    assert torch.equal(bank.bank[8:], initial[8:])
    method.loss(views32)
    assert int(bank.bank_ptr) == 0  # 16 entries: full, the pointer wraps
    torch.testing.assert_close(bank.bank[8:], z1)


def test_support_set_is_in_the_state_dict(views32: list[Tensor]) -> None:
    a = zoo.create_method("nnbyol", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    a.loss(views32)
    assert {"support_set.bank", "support_set.bank_ptr"} <= a.state_dict().keys()
    b = zoo.create_method("nnbyol", backbone=TINY_BACKBONE, queue_size=16, **SMALL)
    reload_state(a, b)
    assert torch.equal(a.support_set.bank, b.support_set.bank) and int(b.support_set.bank_ptr) == 8
