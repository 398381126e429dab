"""MoCo v2 (Chen et al., "Improved Baselines with Momentum Contrastive Learning", arXiv 2003.04297).

The MoCo v2+ form that solo-learn trains on CIFAR: a symmetric InfoNCE loss between online queries and the keys of a
momentum encoder, negatives drawn from a queue of past keys. There are two queues, one per view, as in solo-learn:
with one shared queue the second loss term would meet the keys that the first term just enqueued, among them the
momentum encoding of its own query's view (a false negative).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/mocov2plus.yaml): projector
2048 -> 256 without BatchNorm, temperature 0.2, queue of 32768 keys, EMA momentum 0.99 -> 0.999 (cosine). lightly's
NTXentLoss with a memory bank computes solo-learn's loss (solo/losses/mocov2plus.py): cross-entropy of the positive
key against the queue, the mean of the two directions; the queues start as random unit vectors, as in solo-learn.
Recipe: optim=sgd lr=0.3 wd=1e-4 batch=256 momentum=0.9 warmup_epochs=10 epochs=1000 (solo-learn mocov2plus.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.models.modules.heads import MoCoProjectionHead
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, persist_bank
from zoo.methods.sync_free import NTXentLoss


@register_method("moco-v2")
class MoCoV2(Method):
    """Queries of one view are contrasted with momentum keys of the other view and with a queue of past keys."""

    family = "contrastive"
    paper = "Chen et al., MoCo v2, arXiv 2003.04297"
    default_augment = "solo-symmetric-weak"
    sync_bn = False  # the reference shuffles BatchNorm across GPUs instead; per-rank statistics are closer to it
    defaults = {
        "temperature": 0.2,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "queue_size": 32768,
        "momentum": 0.99,
        "momentum_end": 0.999,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = MoCoProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        # criteria[i] holds the queue of view (2 - i)'s keys: the negatives of view (i + 1)'s queries
        self.criteria = nn.ModuleList(
            Float32Loss(
                NTXentLoss(
                    temperature=h["temperature"],
                    memory_bank_size=(h["queue_size"], h["proj_output_dim"]),
                    gather_distributed=h["gather_distributed"],
                )
            )
            for _ in range(2)
        )
        for criterion in self.criteria:
            persist_bank(criterion.criterion.memory_bank)

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        q1, q2 = self.encode(views[:2], self.backbone, self.projector)
        with torch.no_grad():
            k1, k2 = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
        return 0.5 * (self.criteria[0](q1, k2) + self.criteria[1](q2, k1))
