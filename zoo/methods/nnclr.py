"""NNCLR (Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning of Visual
Representations", ICCV 2021).

SimCLR's InfoNCE, but each view's positive is the nearest neighbour of its projection in a support set (a queue of
past projections) and the other view passes through a predictor; the loss is symmetrised. The queue is filled with
the first view's projections, after the neighbours of this step have been looked up.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/nnclr.yaml): projector
2048 -> 256 (3 layers, BatchNorm), predictor 4096 hidden, temperature 0.2, support set of 65536.
Recipe: optim=lars lr=0.4 wd=1e-5 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn nnclr.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

from lightly.loss import NTXentLoss
from lightly.models.modules.heads import NNCLRPredictionHead, NNCLRProjectionHead
from lightly.models.modules.nn_memory_bank import NNMemoryBankModule
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Method, persist_bank


@register_method("nnclr")
class NNCLR(Method):
    """The nearest neighbour of one view's projection in the support set is the positive of the other view."""

    family = "contrastive"
    paper = "Dwibedi et al., NNCLR, ICCV 2021"
    default_augment = "byol"
    defaults = {
        "temperature": 0.2,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "pred_hidden_dim": 4096,
        "queue_size": 65536,
        "gather_distributed": False,
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = NNCLRProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.predictor = NNCLRPredictionHead(h["proj_output_dim"], h["pred_hidden_dim"], h["proj_output_dim"])
        self.support_set = persist_bank(NNMemoryBankModule(size=(h["queue_size"], h["proj_output_dim"])))
        self.criterion = NTXentLoss(temperature=h["temperature"], gather_distributed=h["gather_distributed"])

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        p1, p2 = self.encode([z1, z2], self.predictor)
        nn2 = self.support_set(z2.detach(), update=False)
        nn1 = self.support_set(z1.detach(), update=True)  # both look-ups see the queue before this update
        return 0.5 * (self.criterion(nn1, p2) + self.criterion(nn2, p1))
