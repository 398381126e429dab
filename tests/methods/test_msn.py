"""MSN: the loss against the official code re-written in plain torch, the masking of anchors only, the prototypes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from tests.conftest import TINY_VIT

SMALL_HEAD = {"proj_hidden_dim": 32, "proj_output_dim": 16, "num_prototypes": 10}


def official_msn_loss(anchors, targets, prototypes, tau=0.1, sharpen_t=0.25, me_max_weight=1.0, iterations=3):
    """facebookresearch/msn src/losses.py (init_msn_loss), one process: snn, sharpen, distributed_sinkhorn, me-max."""
    n_views = len(anchors) // len(targets)
    protos = F.normalize(prototypes)

    def snn(query: torch.Tensor) -> torch.Tensor:
        return torch.softmax(F.normalize(query) @ protos.T / tau, dim=1) @ torch.eye(len(prototypes))

    probs = snn(anchors)
    with torch.no_grad():
        t = snn(targets) ** (1.0 / sharpen_t)
        t = t / t.sum(dim=1, keepdim=True)
        q = t.T  # Sinkhorn: K x B, rows (prototypes) then columns (samples) made uniform
        q = q / q.sum()
        k, b = q.shape
        for _ in range(iterations):
            q = q / q.sum(dim=1, keepdim=True) / k
            q = q / q.sum(dim=0, keepdim=True) / b
        t = (q * b).T
        t = torch.cat([t] * n_views)
    loss = torch.mean(torch.sum(torch.log(probs ** (-t)), dim=1))
    avg = probs.mean(dim=0)
    return loss + me_max_weight * (-torch.sum(torch.log(avg ** (-avg))) + math.log(float(len(avg))))


def test_loss_is_the_official_one_and_teaches_the_prototypes() -> None:
    method = zoo.create_method("msn", backbone=TINY_VIT, image_size=32, **SMALL_HEAD)
    g = torch.Generator().manual_seed(0)
    anchors, targets = torch.randn(12, 16, generator=g), torch.randn(4, 16, generator=g)
    protos = method.prototypes.weight
    ours = method.criterion(anchors, targets, protos, target_sharpen_temperature=0.25)
    reference = official_msn_loss(anchors, targets, protos.detach().clone().requires_grad_())
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    ours.backward()
    assert protos.grad is not None and protos.grad.abs().sum() > 0  # learned, as in the official code


def test_anchors_are_masked_and_the_target_is_not() -> None:
    method = zoo.create_method("msn", backbone=TINY_VIT, image_size=32, **SMALL_HEAD)
    assert method.view_sizes() == [32, 32] + [16] * 10  # target, anchor, 10 focal views of 4x4 patches
    blocks: list[tuple[str, int]] = []
    for name, vit in (("online", method.backbone), ("target", method.backbone_momentum)):
        vit.blocks[0].register_forward_hook(lambda m, i, o, name=name: blocks.append((name, o.shape[1])))
    pooled: list[tuple[int, ...]] = []
    method.backbone.register_forward_hook(lambda m, i, o: pooled.append(tuple(i[0].shape)))  # as the online probe
    views = [torch.randn(4, 3, s, s) for s in method.view_sizes()]
    method.loss(views)
    # 15 % of 64 patches masked: 54 kept + the class token; focal: 13 of 16 + 1; the target sees all 64 + 1
    assert sorted(blocks) == [("online", 14), ("online", 55), ("target", 65)]
    assert pooled == [(4, 3, 32, 32), (40, 3, 16, 16)]  # the probe hook sees the anchor's 32 px view


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_mask_ratio_must_mask_and_keep(ratio: float) -> None:
    with pytest.raises(zoo.ZooError, match="mask_ratio.*'msn'"):
        zoo.create_method("msn", backbone=TINY_VIT, mask_ratio=ratio)


def test_needs_a_vit() -> None:
    with pytest.raises(zoo.ZooError, match="'msn' needs a Vision Transformer backbone, got 'resnet18'"):
        zoo.create_method("msn", backbone="resnet18")
