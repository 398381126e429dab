"""ReSSL (Zheng et al., "ReSSL: Relational Self-Supervised Learning with Weak Augmentation", NeurIPS 2021).

The relation of a sample to a queue of past keys is the softmax of its similarities to them. The momentum teacher
sees a weakly augmented view and sharpens its relation with a low temperature; the student, on a strongly augmented
view, matches it by cross-entropy. There are no positives and no negatives, so no false negatives.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/ressl.yaml, solo/methods/ressl.py,
solo/losses/ressl.py): projector Linear-ReLU-Linear 4096 -> 256 without BatchNorm (lightly's MoCoProjectionHead),
student temperature 0.1, teacher temperature 0.04, queue of 65536 keys (solo-learn's default, starting as random unit
vectors), EMA momentum 0.99 -> 1.0 (cosine). One direction only, as solo-learn: student on view 1, teacher on view 2,
whose keys are enqueued after the loss (lightly's MemoryBankModule).
Augmentation: solo-learn's augmentations/ressl.yaml gives view 1 colour jitter 0.4/0.4/0.2/0.1 p 0.8, grey 0.2 and
blur 0.5, and view 2 only the crop and flip. zoo's presets choose jitter and grey for all views alike, so the
closest is `solo-asymmetric` (that jitter and grey, bicubic crops 0.08-1) with blur 0.5/0 and no solarisation, as the
CIFAR recipe sets it: view 2 keeps jitter p 0.8 and grey p 0.2, stronger than the reference's weak view.
Recipe: optim=sgd lr=0.05 wd=1e-4 batch=256 momentum=0.9 warmup_epochs=10 epochs=1000 (solo-learn ressl.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import MoCoProjectionHead
from lightly.models.modules.memory_bank import MemoryBankModule
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, persist_bank


class ReSSLLoss(nn.Module):
    """Cross-entropy of the student's relation to the queue against the teacher's sharpened one (the ReSSL loss).

    `forward(q, k, queue)`: student projections q (N, D), teacher projections k (N, D), both L2-normalised here, and
    the queue (K, D) of normalised past keys; mean over the batch of
    -sum_j softmax(k . queue_j / temperature_k) log softmax(q . queue_j / temperature_q), the teacher's side detached.
    """

    def __init__(self, temperature_q: float = 0.1, temperature_k: float = 0.04) -> None:
        super().__init__()
        self.temperature_q = temperature_q
        self.temperature_k = temperature_k

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        target = F.softmax(k.detach() @ queue.T / self.temperature_k, dim=1)
        log_p = F.log_softmax(q @ queue.T / self.temperature_q, dim=1)
        return -(target * log_p).sum(dim=1).mean()


@register_method("ressl")
class ReSSL(Method):
    """A student matches a momentum teacher's sharpened similarities to a queue of past keys."""

    family = "distillation"
    paper = "Zheng et al., ReSSL, NeurIPS 2021"
    # closest preset to solo-learn's strong/weak pair; the CIFAR recipe sets blur 0.5/0 and no solarisation
    default_augment = "solo-asymmetric"
    defaults = {
        "proj_hidden_dim": 4096,
        "proj_output_dim": 256,
        "temperature_q": 0.1,
        "temperature_k": 0.04,
        "queue_size": 65536,
        "momentum": 0.99,
        "momentum_end": 1.0,
        "gather_distributed": True,  # under torchrun: the queue takes the global batch's keys, as the reference
    }
    positive = ("temperature_q", "temperature_k")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = MoCoProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        self.queue = persist_bank(
            MemoryBankModule(
                size=(h["queue_size"], h["proj_output_dim"]),
                gather_distributed=h["gather_distributed"],
                feature_dim_first=False,
            )
        )
        self.criterion = Float32Loss(ReSSLLoss(h["temperature_q"], h["temperature_k"]))

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        (q,) = self.encode(views[:1], self.backbone, self.projector)
        with torch.no_grad():
            (k,) = self.encode(views[1:2], self.backbone_momentum, self.projector_momentum)
            k = F.normalize(k.float(), dim=1)
        # the queue as it was before this batch's keys enter it (solo-learn enqueues after the loss)
        _, queue = self.queue(k, update=self.training)
        return self.criterion(q, k, queue)
