"""Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/barlow.yaml): projector
2048 -> 2048 (three layers), loss scaled by 0.1, off-diagonal weight lambda 0.0051 (the paper's value, solo-learn's
default), asymmetric BYOL-style augmentations. lightly's BarlowTwinsLoss computes solo-learn's loss
(solo/losses/barlow.py) before the scale: both standardise each dimension over the batch (biased variance, eps 1e-5),
divide the cross-correlation by N (averaged over ranks) and weight the squared off-diagonal terms by lambda.
Recipe: optim=lars lr=0.3 wd=1e-4 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn barlow.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

from lightly.loss import BarlowTwinsLoss
from lightly.models.modules.heads import BarlowTwinsProjectionHead
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method


@register_method("barlow-twins")
class BarlowTwins(Method):
    """Drive the cross-correlation matrix of the two views' standardised projections towards the identity."""

    family = "redundancy-reduction"
    paper = "Zbontar et al., Barlow Twins, ICML 2021"
    default_augment = "byol"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 2048,
        "lambda_param": 0.0051,
        "scale_loss": 0.1,
        "gather_distributed": False,
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = BarlowTwinsProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.criterion = Float32Loss(
            BarlowTwinsLoss(lambda_param=h["lambda_param"], gather_distributed=h["gather_distributed"])
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.hparams["scale_loss"] * self.criterion(z1, z2)
