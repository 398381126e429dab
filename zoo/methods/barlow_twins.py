"""Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/barlow.yaml): projector
2048 -> 2048 (three layers), loss scaled by 0.1, off-diagonal weight lambda 0.0051 (the paper's value, solo-learn's
default), asymmetric BYOL-style augmentations. lightly's BarlowTwinsLoss computes solo-learn's loss
(solo/losses/barlow.py) before the scale: both standardise each dimension over the batch (biased variance, eps 1e-5),
divide the cross-correlation by N (averaged over ranks) and weight the squared off-diagonal terms by lambda.
Across data-parallel ranks zoo standardises with the global batch's statistics, as the official code does (its
BatchNorm is converted to SyncBatchNorm with the rest of the model); lightly and solo-learn standardise each rank's
share on its own, which is not the one-process loss.
Recipe: optim=lars lr=0.3 wd=1e-4 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn barlow.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as torch_dist
from lightly.loss import BarlowTwinsLoss
from lightly.models.modules.heads import BarlowTwinsProjectionHead
from torch import Tensor

from zoo.distributed import all_reduce_sum
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method


class GlobalBarlowTwinsLoss(BarlowTwinsLoss):
    """lightly's BarlowTwinsLoss with each dimension standardised over the global batch of all ranks.

    Mean and (biased) variance come from autograd-aware all-reduces of per-rank sums, so the loss and its gradient
    are those of one process on the whole batch (Zbontar et al., github.com/facebookresearch/barlowtwins main.py).
    """

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        world = torch_dist.get_world_size() if self.gather_distributed and torch_dist.is_initialized() else 1
        if world == 1:
            return super().forward(z_a, z_b)
        n = z_a.shape[0] * world
        a, b = _standardise(z_a, n), _standardise(z_b, n)
        c = all_reduce_sum(a.T @ b) / n
        on_diag = (torch.diagonal(c) - 1).pow(2).sum()
        off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
        return on_diag + self.lambda_param * off_diag


def _standardise(z: Tensor, n: int) -> Tensor:
    """z standardised per dimension over the n rows of all ranks (eps 1e-5, as lightly's batch norm)."""
    mean = all_reduce_sum(z.sum(0)) / n
    centred = z - mean
    var = all_reduce_sum(centred.pow(2).sum(0)) / n
    return centred / torch.sqrt(var + 1e-5)


@register_method("barlow-twins")
class BarlowTwins(Method):
    """Drive the cross-correlation matrix of the two views' standardised projections towards the identity."""

    family = "redundancy-reduction"
    paper = "Zbontar et al., Barlow Twins, ICML 2021"
    default_augment = "solo-asymmetric"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 2048,
        "lambda_param": 0.0051,
        "scale_loss": 0.1,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = BarlowTwinsProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.criterion = Float32Loss(
            GlobalBarlowTwinsLoss(lambda_param=h["lambda_param"], gather_distributed=h["gather_distributed"])
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.hparams["scale_loss"] * self.criterion(z1, z2)
