"""mi-binary-moco: MIO's binary loss with MoCo's momentum encoder and queue of negatives, a composition of zoo's own.

The loss is mi-binary's (Manna et al., MIO, arXiv 2111.12664; PAPER.md, Jensen bound): for a query q with positive
key k+ and negatives k_1..k_K, all L2-normalised,

    softplus(-q.k+ / tau_pos) + softplus(logsumexp_k(q.k_k / tau_neg) - log K),

averaged over the queries. What changes is where the pairs come from, as in MoCo (He et al., CVPR 2020) in its v2
form (Chen et al., arXiv 2003.04297) that solo-learn trains on CIFAR (solo/methods/mocov2plus.py): queries from the
online network, the positive is the momentum encoder's key of the other view of the same image, the negatives are a
queue of K past keys (no in-batch negatives), and the loss is the mean of the two directions. As zoo's moco-v2, each
view has its own queue (with one shared queue the second direction would meet the key its own query's view just
enqueued, a false negative); queues start as random unit vectors and, under data-parallel training, take the keys of
every rank (lightly's MemoryBankModule).

Defaults: tau_pos = tau_neg = 0.5 and the projector (512 -> 2048 -> 128, BatchNorm after every linear) from MIO
(PAPER.md); queue of 32768 keys and EMA momentum 0.99 -> 0.999 (cosine) from solo-learn's MoCo v2+ CIFAR-10 recipe
(scripts/pretrain/cifar/mocov2plus.yaml). The CIFAR recipe is MIO's protocol (augmentation, LARS, schedule), as
mi-binary's, so the binary-contrastive family compares on equal terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.models.modules.memory_bank import MemoryBankModule
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Method, persist_bank
from zoo.methods.mi_binary import BOUNDS, Bound, MIBinaryProjectionHead, binary_loss


class MIBinaryQueueLoss(nn.Module):
    """MIO's binary loss (arXiv 2111.12664, PAPER.md's L_mm or L_naive) of queries against given keys, in float32.

    `forward(query, key, negatives)`: query (N, D) from the online network, key (N, D) its positive (row i of each
    is one image), negatives (K, D) shared by every query (a MoCo queue). All three are L2-normalised here; the loss
    is `binary_loss` of the N positive similarities and the (N, K) negative ones.
    """

    def __init__(self, tau_pos: float = 0.5, tau_neg: float = 0.5, bound: Bound = "jensen") -> None:
        super().__init__()
        if bound not in BOUNDS:
            raise ZooError(f"unknown bound {bound!r} for MIBinaryQueueLoss: valid: {', '.join(BOUNDS)}")
        self.tau_pos, self.tau_neg, self.bound = tau_pos, tau_neg, bound

    def forward(self, query: Tensor, key: Tensor, negatives: Tensor) -> Tensor:
        with torch.autocast(query.device.type, enabled=False):  # similarities in float32 even under mixed precision
            dtype = torch.promote_types(query.dtype, torch.float32)
            q, k, n = (F.normalize(x.to(dtype), dim=1) for x in (query, key, negatives))
            return binary_loss((q * k).sum(dim=1), q @ n.T, self.tau_pos, self.tau_neg, self.bound)


@register_method("mi-binary-moco")
class MIBinaryMoCo(Method):
    """mi-binary's loss on online queries against momentum keys of the other view and a per-view queue of past keys."""

    family = "binary-contrastive"
    paper = "Manna et al., MIO, arXiv 2111.12664 + Chen et al., MoCo v2, arXiv 2003.04297 (zoo's composition)"
    default_augment = "mio"
    sync_bn = False  # as zoo's moco-v2: MoCo shuffles BatchNorm across GPUs instead; per-rank statistics are closer
    positive = ("tau_pos", "tau_neg")
    defaults = {
        "tau_pos": 0.5,
        "tau_neg": 0.5,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 128,
        "proj_layers": 2,
        "queue_size": 32768,
        "momentum": 0.99,
        "momentum_end": 0.999,
        "gather_distributed": True,  # under torchrun: every rank's keys enter the queues, as MoCo
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = MIBinaryProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], h["proj_layers"]
        )
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        # queues[i] holds view (2 - i)'s past keys: the negatives of view (i + 1)'s queries
        self.queues = nn.ModuleList(
            persist_bank(
                MemoryBankModule(
                    (h["queue_size"], h["proj_output_dim"]),
                    gather_distributed=h["gather_distributed"],
                    feature_dim_first=False,
                )
            )
            for _ in range(2)
        )
        self.criterion = MIBinaryQueueLoss(h["tau_pos"], h["tau_neg"])

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        q1, q2 = self.encode(views[:2], self.backbone, self.projector)
        with torch.no_grad():
            keys = self.encode(views[:2], self.backbone_momentum, self.projector_momentum)
            k1, k2 = (F.normalize(k.float(), dim=1) for k in keys)
        # each queue is read before this batch's keys enter it; it is updated only when the loss will be trained on
        _, negatives1 = self.queues[0](k2, update=q1.requires_grad)
        _, negatives2 = self.queues[1](k1, update=q1.requires_grad)
        return 0.5 * (self.criterion(q1, k2, negatives1) + self.criterion(q2, k1, negatives2))
