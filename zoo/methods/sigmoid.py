"""sigmoid: SigLIP's pairwise sigmoid loss between two image views, a composition of zoo's own.

Zhai, Mustafa, Kolesnikov, Beyer, "Sigmoid Loss for Language Image Pre-Training", ICCV 2023 (arXiv 2303.15343),
eq. 1 and Algorithm 1, applied to the two augmented views of an image instead of an image and its caption: no
published method trains images against images with this loss, so every choice below is zoo's and is stated.

Like mi-binary (MIO) it classifies pairs one by one with a logistic loss instead of a softmax over the batch, hence
the family "binary-contrastive"; unlike mi-binary it learns the logit scale and bias, compares only cross-view
pairs, and sums (not averages) over the negatives.

- Loss (paper eq. 1): z1, z2 L2-normalised, logits = exp(t') z1 @ z2.T + b, label +1 on the diagonal (two views of
  one image), -1 elsewhere, loss = -(1/N) sum_ij log sigmoid(label_ij logit_ij).
- Views: only the N x N cross-view matrix, as the paper has only image-text pairs. z2 @ z1.T is its transpose, with
  the same sum and the same gradients, so one matrix covers both directions and symmetrising would add nothing.
- Learnable t' (init log 10) and b (init -10): the paper's initialisation (sec. 3.2), which keeps the loss small at
  the start when almost every pair is negative. Both sit with the biases (no weight decay, no LARS adaptation) in a
  group of their own at learning rate `scale_bias_lr` = 1e-3, whatever the recipe's optimiser: zoo's choice, not the
  paper's. The paper trains them with the rest of the model under an Adam-family optimiser, whose steps do not grow
  with the gradient; under SGD at a backbone's rate (lr 0.3, batch 128) the gradient on t', summed over the N - 1
  negatives of every anchor, drove the logit scale to zero within 7 steps on Fashion-MNIST (t' = -48): stalled.
- Data-parallel: each rank's z1 rows meet the z2 of every rank (gathered with gradients, as mi-binary and lightly's
  losses do); summed over ranks this is the global N x N matrix. The paper's chunked exchange of text embeddings
  between devices computes the same sum with less memory: an implementation detail a gather replaces.
- Projector and CIFAR recipe: mi-binary's (projector 512 -> 2048 -> 128 with BatchNorm after every linear, PAPER.md),
  and MIO's protocol (augmentation, LARS, schedule) so the binary-contrastive family compares on equal terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightly.utils import dist
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Method, split_decay
from zoo.methods.mi_binary import MIBinaryProjectionHead


class SigmoidLoss(nn.Module):
    """SigLIP's pairwise sigmoid loss (Zhai et al., ICCV 2023, eq. 1) between two views, in float32.

    Args:
        log_scale_init: initial t'; the logits are scaled by t = exp(t') (the paper: log 10).
        bias_init: initial bias b added to every logit (the paper: -10).
        gather_distributed: compare this rank's first views with the second views of all data-parallel ranks.

    `forward(z1, z2)` takes two (N, D) projections of the same N images; row i of z1 and row i of z2 are the
    positive pair. t' (`log_scale`) and b (`bias`) are learnable 0-d parameters of the loss.
    """

    def __init__(
        self, log_scale_init: float = math.log(10), bias_init: float = -10.0, gather_distributed: bool = False
    ):
        super().__init__()
        # shape (1,): optimisers treat them as biases (no weight decay; LARS does not adapt them)
        self.log_scale = nn.Parameter(torch.tensor([float(log_scale_init)]))
        self.bias = nn.Parameter(torch.tensor([float(bias_init)]))
        self.gather_distributed = gather_distributed

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        if z1.shape != z2.shape or z1.ndim != 2:
            raise ValueError(f"SigmoidLoss needs two (N, D) tensors, got {tuple(z1.shape)}, {tuple(z2.shape)}")
        with torch.autocast(z1.device.type, enabled=False):  # logits in float32 even under mixed precision
            dtype = torch.promote_types(z1.dtype, torch.float32)
            u1, u2 = F.normalize(z1.to(dtype), dim=1), F.normalize(z2.to(dtype), dim=1)
            keys, offset = u2, 0
            if self.gather_distributed and dist.world_size() > 1:
                keys, offset = torch.cat(dist.gather(u2)), dist.rank() * z1.shape[0]
            logits = self.log_scale.to(dtype).exp() * (u1 @ keys.T) + self.bias.to(dtype)
            rows = torch.arange(z1.shape[0], device=z1.device)
            labels = torch.full_like(logits, -1.0)
            labels[rows, rows + offset] = 1.0  # integer indices: no host sync, unlike a boolean mask
            return -F.logsigmoid(labels * logits).sum() / z1.shape[0]


@register_method("sigmoid")
class Sigmoid(Method):
    """SigLIP's sigmoid loss between the two views' projections; one network on both views, no momentum."""

    family = "binary-contrastive"
    paper = "Zhai et al., SigLIP, ICCV 2023 (zoo's two-view composition)"
    default_augment = "mio"
    defaults = {
        "log_scale_init": math.log(10),
        "bias_init": -10.0,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 128,
        "proj_layers": 2,
        "scale_bias_lr": 1e-3,
        "gather_distributed": True,  # under torchrun: the global batch, as the paper
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = MIBinaryProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], h["proj_layers"]
        )
        self.criterion = SigmoidLoss(h["log_scale_init"], h["bias_init"], h["gather_distributed"])

    def param_groups(self, exclude_bias_n_norm: bool = True) -> list[dict[str, Any]]:
        """The base groups, t' and b apart at their own learning rate `scale_bias_lr`, without weight decay."""
        scalars = [self.criterion.log_scale, self.criterion.bias]
        rest = [p for p in self.parameters() if p.requires_grad and all(p is not s for s in scalars)]
        group = {"params": scalars, "lr": self.hparams["scale_bias_lr"], "weight_decay": 0.0}
        return [*split_decay(rest, exclude_bias_n_norm), group]

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.criterion(z1, z2)
