"""NNCLR (Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning of Visual
Representations", ICCV 2021).

SimCLR's InfoNCE, but each view's positive is the nearest neighbour of its projection in a support set (a queue of
past projections) and the other view passes through a predictor; the loss is symmetrised. As in solo-learn
(solo/methods/nnclr.py) both views look up their neighbours in the queue as it was before this step, then the first
view's projections are enqueued; the queue starts as random unit vectors.

The default loss (`loss="solo"`) is solo-learn's (solo/losses/nnclr.py): a one-way N x N cross-entropy of each
neighbour against the predictions of the (global) batch, averaged over the two (neighbour, prediction) pairs.
`loss="ntxent"` uses lightly's NTXentLoss on the same pairs instead (2N x 2N, also within-view negatives).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/nnclr.yaml): projector
2048 -> 256 (3 layers, BatchNorm), predictor 4096 hidden, temperature 0.2, support set of 65536.
Recipe: optim=lars lr=0.4 wd=1e-5 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn nnclr.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import NNCLRPredictionHead, NNCLRProjectionHead
from lightly.models.modules.nn_memory_bank import NNMemoryBankModule
from lightly.utils import dist
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, persist_bank
from zoo.methods.sync_free import NTXentLoss

LOSSES: tuple[str, ...] = ("solo", "ntxent")


class NNCLRLoss(nn.Module):
    """InfoNCE of support-set neighbours against predictions, one way (solo-learn solo/losses/nnclr.py).

    `forward(nn, p)` takes (N, D) nearest neighbours of one view and the (N, D) predictions of the other view: row i
    of the logits normalize(nn_i) . normalize(p_j) / tau has its positive at j = i; the other predictions of the
    batch (of all ranks with `gather_distributed`, with gradients) are the negatives.
    """

    def __init__(self, temperature: float = 0.2, gather_distributed: bool = False) -> None:
        super().__init__()
        self.temperature, self.gather_distributed = temperature, gather_distributed

    def forward(self, nn: Tensor, p: Tensor) -> Tensor:
        nn, p = F.normalize(nn, dim=1), F.normalize(p, dim=1)
        labels = torch.arange(nn.shape[0], device=nn.device)
        if self.gather_distributed and dist.world_size() > 1:
            p = torch.cat(dist.gather(p))
            labels = labels + dist.rank() * nn.shape[0]
        return F.cross_entropy(nn @ p.T / self.temperature, labels)


@register_method("nnclr")
class NNCLR(Method):
    """The nearest neighbour of one view's projection in the support set is the positive of the other view."""

    family = "contrastive"
    paper = "Dwibedi et al., NNCLR, ICCV 2021"
    default_augment = "solo-asymmetric"
    defaults = {
        "temperature": 0.2,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "pred_hidden_dim": 4096,
        "queue_size": 65536,
        "loss": "solo",
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        if h["loss"] not in LOSSES:
            raise ZooError(f"method 'nnclr' hyper-parameter 'loss' must be one of {LOSSES}, got {h['loss']!r}")
        self.projector = NNCLRProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.predictor = NNCLRPredictionHead(h["proj_output_dim"], h["pred_hidden_dim"], h["proj_output_dim"])
        self.support_set = persist_bank(NNMemoryBankModule(size=(h["queue_size"], h["proj_output_dim"])))
        loss = NNCLRLoss if h["loss"] == "solo" else NTXentLoss
        self.criterion = Float32Loss(loss(temperature=h["temperature"], gather_distributed=h["gather_distributed"]))

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        p1, p2 = self.encode([z1, z2], self.predictor)
        nn2 = self.support_set(z2.detach(), update=False)
        nn1 = self.support_set(z1.detach(), update=True)  # both look-ups see the queue before this update
        return 0.5 * (self.criterion(nn1, p2) + self.criterion(nn2, p1))
