"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/byol.yaml and
solo/methods/byol.py): projector and predictor Linear-BN-ReLU-Linear 4096 hidden, 256 out, EMA momentum 0.99 -> 1.0
on a cosine schedule, LARS lr 1.0 at batch 256. The loss is solo-learn's (solo/losses/byol.py): 2 - 2 cos per
direction, summed over both directions (paper eq. 2 and its symmetrisation), four times the gradient of a mean of
-cos, which matters for the parameters LARS does not rescale (biases and norms).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method


class BYOLLoss(NegativeCosineSimilarity):
    """Mean over the batch of 2 - 2 cos(p, z), the squared distance of the normalised vectors (BYOL eq. 2).

    `forward(p, z)` takes the online predictions and the target projections, both (N, D); solo-learn
    solo/losses/byol.py.
    """

    def forward(self, x0: Tensor, x1: Tensor) -> Tensor:
        return 2 + 2 * super().forward(x0, x1)


@register_method("byol")
class BYOL(Method):
    """An online network predicts an EMA target network's projection of the other view."""

    family = "distillation"
    paper = "Grill et al., BYOL, NeurIPS 2020"
    default_augment = "byol"
    defaults = {
        "proj_hidden_dim": 4096,
        "proj_output_dim": 256,
        "pred_hidden_dim": 4096,
        "momentum": 0.99,
        "momentum_end": 1.0,
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = BYOLProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.predictor = BYOLPredictionHead(h["proj_output_dim"], h["pred_hidden_dim"], h["proj_output_dim"])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        self.criterion = Float32Loss(BYOLLoss())

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        p1, p2 = self.encode(views[:2], self.backbone, self.projector, self.predictor)
        with torch.no_grad():
            t1, t2 = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
        return self.criterion(p1, t2) + self.criterion(p2, t1)
