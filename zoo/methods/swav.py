"""SwAV (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments", NeurIPS 2020).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/swav.yaml and
solo/methods/swav.py): projector 2048 -> 128, 3000 prototypes, temperature 0.1, 3 Sinkhorn iterations at
epsilon 0.05, two global 32 px views (no multi-crop on CIFAR), prototypes frozen for the first 2 epochs, a queue of
3840 past projections per global view that joins the Sinkhorn codes from epoch 50 on (queue_size=0 turns it off).
Under data-parallel training each rank queues its own projections, queue_size / world size of them, and Sinkhorn
normalises over all ranks' codes (official SwAV main_swav.py: the queue is split over the GPUs).
Epoch counts are given as optimiser steps at solo-learn's batch of 256 on CIFAR-10's 50 000 images (195 steps per
epoch). The prototypes are a bias-free linear layer, weight-normalised with the norm fixed at 1 (official SwAV and
solo-learn; lightly's SwaVPrototypes has a bias). lightly's SwaVLoss and Sinkhorn compute solo-learn's values
(solo/losses/swav.py, solo/utils/sinkhorn_knopp.py).

Recipe: optim=lars lr=0.6 wd=1e-6 batch=256 momentum=0.9 eta=0.02 clip_lr=true warmup_epochs=10 epochs=1000
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.loss import SwaVLoss
from lightly.models.modules.heads import SwaVProjectionHead
from lightly.models.modules.memory_bank import MemoryBankModule
from lightly.utils import dist
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, persist_bank, unit_prototypes


@register_method("swav")
class SwAV(Method):
    """Swapped prediction: each view predicts the Sinkhorn cluster codes of the other view over learned prototypes."""

    family = "clustering"
    paper = "Caron et al., SwAV, NeurIPS 2020"
    default_augment = "solo-symmetric"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 128,
        "num_prototypes": 3000,
        "temperature": 0.1,
        "sinkhorn_iterations": 3,
        "sinkhorn_epsilon": 0.05,
        "freeze_prototypes_steps": 390,  # 2 epochs
        "queue_size": 3840,
        "queue_start_steps": 9750,  # 50 epochs
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = SwaVProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.prototypes = unit_prototypes(h["proj_output_dim"], h["num_prototypes"])
        self.criterion = Float32Loss(
            SwaVLoss(h["temperature"], h["sinkhorn_iterations"], h["sinkhorn_epsilon"], h["gather_distributed"])
        )
        n_queues = self.n_views if h["queue_size"] > 0 else 0
        self.queues = nn.ModuleList(
            persist_bank(
                MemoryBankModule((h["queue_size"] // dist.world_size(), h["proj_output_dim"]), feature_dim_first=False)
            )
            for _ in range(n_queues)
        )
        self.freeze_for_steps(self.prototypes, "freeze_prototypes_steps")

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z = [F.normalize(x, dim=1) for x in self.encode(views, self.backbone, self.projector)]
        scores = [self._scores(x) for x in z]
        queued = self._queue_scores(z[: self.n_views])
        return self.criterion(scores[: self.n_views], scores[self.n_views :], queued).squeeze(0)  # lightly: shape (1,)

    @torch.no_grad()
    def _queue_scores(self, z: list[Tensor]) -> list[Tensor] | None:
        """Prototype scores of earlier batches' projections (per global view), then this batch is enqueued."""
        if not self.queues:
            return None
        queued = [queue(x, update=True)[1] for queue, x in zip(self.queues, z, strict=True)]
        if self.step_count < self.hparams["queue_start_steps"]:
            return None
        return [self._scores(q) for q in queued]

    def _scores(self, z: Tensor) -> Tensor:
        """Prototype scores in float32 even under mixed precision: Sinkhorn takes exp(score / epsilon)."""
        with torch.autocast(z.device.type, enabled=False):
            return self.prototypes(z.float())
