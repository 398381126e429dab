"""SupCon (Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020).

Every view of an image is an anchor; its positives are all other views in the batch with the same class label, its
contrast set every other view. The loss is L_out of the paper (eq. 2): the mean over anchors of the mean over
positives of -log softmax. lightly 1.6 has no SupCon loss, so `SupConLoss` is written here.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/supcon.yaml and
solo/methods/supcon.py): projector 2048 -> 256 without BatchNorm, temperature 0.2, two views.

Recipe: optim=sgd lr=0.4 wd=1e-5 batch=256 momentum=0.9 warmup_epochs=10 epochs=1000
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import SimCLRProjectionHead
from lightly.utils import dist
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Method


class SupConLoss(nn.Module):
    """Supervised contrastive loss L_out (Khosla et al., NeurIPS 2020, eq. 2), usable on its own like lightly's losses.

    Args:
        temperature: softmax temperature tau.
        gather_distributed: contrast against the views of all data-parallel ranks, with gradients.

    `forward(z, labels)` takes (M, D) projections of M views (all views of a batch, stacked) and their (M,) labels.
    Anchors without any positive are left out of the mean. Computed in float32 at least (also under autocast), stable
    at any temperature.
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ZooError(f"SupConLoss temperature must be > 0, got {temperature}")
        self.temperature, self.gather_distributed = temperature, gather_distributed

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        if z.ndim != 2 or labels.shape != z.shape[:1] or z.shape[0] < 2:
            raise ValueError(
                f"SupConLoss needs (M, D) projections with M >= 2 and (M,) labels, got {tuple(z.shape)}, "
                f"{tuple(labels.shape)}"
            )
        u = F.normalize(z.to(torch.promote_types(z.dtype, torch.float32)), dim=1)
        keys, key_labels, offset = u, labels, 0
        if self.gather_distributed and dist.world_size() > 1:
            keys, key_labels = torch.cat(dist.gather(u)), torch.cat(dist.gather(labels))
            offset = dist.rank() * u.shape[0]
        rows = torch.arange(u.shape[0], device=u.device)
        is_self = torch.zeros(u.shape[0], keys.shape[0], dtype=torch.bool, device=u.device)
        is_self[rows, rows + offset] = True
        with torch.autocast(u.device.type, enabled=False):  # mixed precision would run the product in 16 bits
            similarity = u @ keys.T
        logits = (similarity / self.temperature).masked_fill(is_self, -torch.inf)
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        positive = (labels[:, None] == key_labels[None, :]) & ~is_self
        n_positive = positive.sum(dim=1)
        anchor_loss = -log_prob.masked_fill(~positive, 0.0).sum(dim=1) / n_positive.clamp(min=1)
        has_positive = n_positive > 0
        return (anchor_loss * has_positive).sum() / has_positive.sum().clamp(min=1)


@register_method("supcon")
class SupCon(Method):
    """Contrastive learning where all views of the same class are positives; needs the batch's labels."""

    family = "supervised"
    paper = "Khosla et al., SupCon, NeurIPS 2020"
    default_augment = "simclr"
    requires_labels = True
    defaults = {"temperature": 0.2, "proj_hidden_dim": 2048, "proj_output_dim": 256, "gather_distributed": False}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = SimCLRProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], batch_norm=False
        )
        self.criterion = SupConLoss(h["temperature"], h["gather_distributed"])

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        if labels is None:
            raise ZooError("method 'supcon' is supervised: loss(views, labels) needs the batch's class labels")
        z = self.encode(views, self.backbone, self.projector)
        return self.criterion(torch.cat(z), labels.repeat(len(views)))
