"""NNBYOL: BYOL whose targets are nearest neighbours in a support set, as in NNCLR (Dwibedi et al., "With a Little
Help from My Friends: Nearest-Neighbor Contrastive Learning of Visual Representations", ICCV 2021, section 4.4).

BYOL (zoo.methods.byol) with NNCLR's support set (zoo.methods.nnclr) in place of the target projection: the online
prediction of one view regresses onto the nearest neighbour, in a queue of past momentum projections, of the other
view's momentum projection. As in solo-learn (solo/methods/nnbyol.py) both views look up their neighbours in the
queue as it was before this step, then the first view's momentum projections are enqueued (of every rank under
data-parallel training); the queue starts as random unit vectors. The loss is BYOL's (solo-learn uses
solo/losses/byol.py): 2 - 2 cos per direction, summed over both directions.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/nnbyol.yaml): projector and
predictor Linear-BN-ReLU-Linear 4096 hidden, 256 out, support set of 65536, EMA momentum 0.99 -> 1.0 on a cosine
schedule.
Recipe: optim=lars lr=1.0 wd=1e-5 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn nnbyol.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.models.modules.nn_memory_bank import NNMemoryBankModule
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import persist_bank
from zoo.methods.byol import BYOL


@register_method("nnbyol")
class NNBYOL(BYOL):
    """An online network predicts the support-set neighbour of an EMA target network's projection of the other view."""

    family = "distillation"
    paper = "Dwibedi et al., NNCLR (NNBYOL variant), ICCV 2021"
    default_augment = "solo-asymmetric"
    defaults = {
        **BYOL.defaults,
        "queue_size": 65536,
        "gather_distributed": True,  # under torchrun: the global batch is enqueued, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.support_set = persist_bank(NNMemoryBankModule(size=(h["queue_size"], h["proj_output_dim"])))
        self.support_set.gather_distributed = h["gather_distributed"]

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        p1, p2 = self.encode(views[:2], self.backbone, self.projector, self.predictor)
        with torch.no_grad():
            t1, t2 = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
            nn2 = self.support_set(t2, update=False)
            nn1 = self.support_set(t1, update=True)  # both look-ups see the queue before this update
        return self.criterion(p1, nn2) + self.criterion(p2, nn1)
