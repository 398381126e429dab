"""MoCo v3 (Chen, Xie, He, "An Empirical Study of Training Self-Supervised Vision Transformers", ICCV 2021).

No queue: the online network's prediction of each view is contrasted (InfoNCE) with the momentum network's keys of the
other view in the same batch, symmetrised. The heads are the paper's ResNet variant: a 2-layer projector with
BatchNorm on every layer (the last one without affine parameters) and a 2-layer predictor without a final BatchNorm,
all linears bias-free.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/mocov3.yaml): projector 4096 -> 256,
predictor 4096 hidden, temperature 0.2, EMA momentum 0.99 -> 1.0 (cosine). The loss is solo-learn's
(solo/losses/mocov3.py): cross-entropy scaled by 2 tau per direction, summed over the two directions.
Recipe: optim=lars lr=0.3 wd=1e-6 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn mocov3.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.models.modules.heads import ProjectionHead
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method
from zoo.methods.nnclr import NNCLRLoss


class MoCoV3Loss(NNCLRLoss):
    """InfoNCE of queries against the keys of the same batch, scaled by 2 tau (MoCo v3, algorithm 1).

    `forward(query, key)` takes (N, D) queries and their (N, D) positive keys; the other keys of the (global) batch
    are the negatives. It is NNCLR's one-way batch cross-entropy times 2 tau; lightly has no loss of this form: its
    NTXentLoss also contrasts a view with itself.
    """

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        return super().forward(query, key) * (2 * self.temperature)


@register_method("moco-v3")
class MoCoV3(Method):
    """A predictor on the online network learns to pick the momentum key of its image's other view among the batch."""

    family = "contrastive"
    paper = "Chen et al., MoCo v3, ICCV 2021"
    default_augment = "solo-asymmetric"
    defaults = {
        "temperature": 0.2,
        "proj_hidden_dim": 4096,
        "proj_output_dim": 256,
        "pred_hidden_dim": 4096,
        "momentum": 0.99,
        "momentum_end": 1.0,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        hidden, out, pred = h["proj_hidden_dim"], h["proj_output_dim"], h["pred_hidden_dim"]
        self.projector = ProjectionHead(
            [
                (self.num_features, hidden, nn.BatchNorm1d(hidden), nn.ReLU()),
                (hidden, out, nn.BatchNorm1d(out, affine=False), None),
            ]
        )
        self.predictor = ProjectionHead([(out, pred, nn.BatchNorm1d(pred), nn.ReLU()), (pred, out, None, None, False)])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        self.criterion = Float32Loss(MoCoV3Loss(h["temperature"], h["gather_distributed"]))

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        q1, q2 = self.encode(views[:2], self.backbone, self.projector, self.predictor)
        with torch.no_grad():
            k1, k2 = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
        return self.criterion(q1, k2) + self.criterion(q2, k1)
