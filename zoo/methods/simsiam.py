"""SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/simsiam.yaml and
solo/methods/simsiam.py): projector 2048 -> 2048 (three layers, BN on every output), predictor bottleneck 512,
symmetric weak augmentations. The loss is solo-learn's and the paper's (solo/losses/simsiam.py, eq. 2): the mean of
-cos over the batch, averaged over the two directions.
Recipe: optim=sgd lr=0.5 wd=1e-5 batch=256 momentum=0.9 warmup_epochs=10 epochs=1000 (solo-learn simsiam.yaml)
The predictor keeps the base learning rate throughout (paper sec. 4.4; solo-learn marks its group `static_lr`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import SimSiamPredictionHead, SimSiamProjectionHead
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, split_decay


@register_method("simsiam")
class SimSiam(Method):
    """A predictor maps one view's projection onto the other's, which is held fixed by a stop-gradient."""

    family = "distillation"
    paper = "Chen & He, SimSiam, CVPR 2021"
    default_augment = "simclr"
    defaults = {"proj_hidden_dim": 2048, "proj_output_dim": 2048, "pred_hidden_dim": 512}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = SimSiamProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.predictor = SimSiamPredictionHead(h["proj_output_dim"], h["pred_hidden_dim"], h["proj_output_dim"])
        self.criterion = Float32Loss(NegativeCosineSimilarity())

    def param_groups(self, exclude_bias_n_norm: bool = True) -> list[dict[str, Any]]:
        """The base groups, with the predictor's apart and marked `static_lr`: no warm-up, no decay of its lr."""
        predictor = {id(p) for p in self.predictor.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        rest = [p for p in trainable if id(p) not in predictor]
        head = [p for p in trainable if id(p) in predictor]
        return split_decay(rest, exclude_bias_n_norm) + split_decay(head, exclude_bias_n_norm, static_lr=True)

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        p1, p2 = self.encode([z1, z2], self.predictor)
        # the stop-gradient on the targets is what prevents collapse (paper, sec. 4.1)
        return 0.5 * (self.criterion(p1, z2.detach()) + self.criterion(p2, z1.detach()))
