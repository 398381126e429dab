"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/simclr.yaml and
solo/methods/simclr.py): projector Linear-ReLU-Linear 2048 -> 256 without BatchNorm, temperature 0.2, LARS lr 0.4 at
batch 256. `proj_batch_norm=True` selects lightly's SimCLRProjectionHead with BatchNorm after both linears instead.
solo-learn's loss (solo/losses/simclr.py) is NT-Xent over the 2N views, the mean over all 2N anchors: lightly's
NTXentLoss computes the same value.
"""

from __future__ import annotations

from collections.abc import Sequence

from lightly.models.modules.heads import SimCLRProjectionHead
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method
from zoo.methods.sync_free import NTXentLoss


@register_method("simclr")
class SimCLR(Method):
    """InfoNCE (NT-Xent) over the 2N views of a batch, one network on both views."""

    family = "contrastive"
    paper = "Chen et al., SimCLR, ICML 2020"
    default_augment = "solo-symmetric"
    defaults = {
        "temperature": 0.2,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "proj_batch_norm": False,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = SimCLRProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], batch_norm=h["proj_batch_norm"]
        )
        self.criterion = Float32Loss(self.build_criterion())

    def build_criterion(self) -> nn.Module:
        """The contrastive loss over the two views' projections; variants of SimCLR override only this."""
        h = self.hparams
        return NTXentLoss(temperature=h["temperature"], gather_distributed=h["gather_distributed"])

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.criterion(z1, z2)
