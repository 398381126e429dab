"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/byol.yaml): projector and
predictor 4096 hidden, 256 out, EMA momentum 0.99 -> 1.0 on a cosine schedule, LARS lr 1.0 at batch 256.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Method


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
        self.criterion = NegativeCosineSimilarity()

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        p1, p2 = self.encode(views[:2], self.backbone, self.projector, self.predictor)
        with torch.no_grad():
            t1, t2 = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
        return 0.5 * (self.criterion(p1, t2) + self.criterion(p2, t1))
