"""TiCo (Zhu et al., "TiCo: Transformation Invariance and Covariance Contrast for Self-Supervised Visual
Representation Learning", arXiv 2206.10698, 2022).

The online network's projection of one view is pulled towards the momentum network's projection of the other
(transformation invariance) while its energy along a running covariance matrix C of past online projections is
penalised (covariance contrast: a MoCo-like memory of unlimited size, or a Barlow-Twins-like decorrelation).
No CIFAR recipe is published for TiCo, so the defaults are: beta 0.9 and rho 8 from the paper (lightly's TiCoLoss
defaults); projector 4096 -> 256 from the paper, which follows BYOL (lightly's TiCoProjectionHead, and solo-learn's
BYOL CIFAR-10 recipe uses the same sizes); EMA momentum 0.99 -> 1.0 on a cosine schedule as in lightly's TiCo
benchmark and solo-learn's BYOL CIFAR-10 recipe (scripts/pretrain/cifar/byol.yaml), whose optimiser settings
are borrowed below since TiCo trains with BYOL's setup. Online view 0 against momentum view 1, as in lightly's TiCo
example and the paper's algorithm 1.
Recipe: optim=lars lr=1.0 wd=1e-5 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn byol.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.loss import TiCoLoss
from lightly.models.modules.heads import TiCoProjectionHead
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method


class TiCoBufferedLoss(TiCoLoss):
    """lightly's `TiCoLoss` with its running covariance `C` held as a (dim, dim) buffer initialised to zeros.

    lightly keeps `C` as a plain attribute created on the first call; as a buffer it follows `.to(device)` and is
    saved in and restored from `state_dict`, so a resumed run continues with the same covariance estimate.
    """

    def __init__(self, dim: int, beta: float = 0.9, rho: float = 8.0, gather_distributed: bool = False) -> None:
        super().__init__(beta=beta, rho=rho, gather_distributed=gather_distributed)
        del self.C
        self.register_buffer("C", torch.zeros(dim, dim))


@register_method("tico")
class TiCo(Method):
    """Invariance to a momentum target plus a contrast against the running covariance of online projections."""

    family = "redundancy-reduction"
    paper = "Zhu et al., TiCo, arXiv 2206.10698"
    default_augment = "solo-asymmetric"
    defaults = {
        "proj_hidden_dim": 4096,
        "proj_output_dim": 256,
        "beta": 0.9,
        "rho": 8.0,
        "momentum": 0.99,
        "momentum_end": 1.0,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = TiCoProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        self.criterion = Float32Loss(
            TiCoBufferedLoss(h["proj_output_dim"], h["beta"], h["rho"], h["gather_distributed"])
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        (z,) = self.encode(views[:1], self.backbone, self.projector)
        with torch.no_grad():
            (t,) = self.encode(views[1:2], self.backbone_momentum, self.projector_momentum)
        # C moves only in training, like BatchNorm's running statistics
        return self.criterion(z, t, update_covariance_matrix=self.training)
