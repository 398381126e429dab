"""MSN (Assran et al., "Masked Siamese Networks for Label-Efficient Learning", ECCV 2022).

An anchor view with a fraction of its patches dropped, and small focal views also masked, must match the prototype
assignment an EMA target network gives the unmasked target view of the same image: cross-entropy between the
anchor's soft prototype assignment and the target's sharpened, Sinkhorn-balanced one, plus the mean-entropy
maximisation (me-max) regulariser that spreads the anchors over all prototypes.

There is no CIFAR reference (solo-learn has no MSN), so the defaults are the paper's ViT-S/16 settings (the official
configs/pretrain/msn_vits16.yaml and src/msn_train.py): 3-layer projector 2048 hidden with BatchNorm and GELU, 256
out (lightly's `MSNProjectionHead`), 1024 learned prototypes, temperature 0.1, target sharpening 0.25, 3 Sinkhorn
iterations, me-max weight 1, 15 % of the patches masked, EMA 0.996 -> 1.0, 1 anchor view and 10 focal views beside
the target view. Adapted to small images: the focal views are half the image size (16 px, 4x4 patches of 4 px at
32 px; the paper's are 96 of 224 px), and the EMA follows zoo's cosine schedule (the paper raises it linearly).
lightly's parts: `MSNLoss`, `MSNProjectionHead`, `random_token_mask`; the loss receives the learned prototypes (not
their `.data`, as lightly's example passes), so they learn as in the official code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.loss import MSNLoss
from lightly.models.modules.heads import MSNProjectionHead
from torch import Tensor, nn

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method
from zoo.methods.token_masking import MaskedTokens, check_mask_ratio


@register_method("msn")
class MSN(Method):
    """Masked anchor views match the prototype assignment of an EMA target's unmasked view."""

    family = "distillation"
    paper = "Assran et al., MSN, ECCV 2022"
    default_augment = "msn"
    requires_vit = True
    n_views = 2  # the target view, then the anchor view
    n_local_views = 10  # focal views, masked anchors too
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "num_prototypes": 1024,
        "mask_ratio": 0.15,
        "temperature": 0.1,
        "target_temperature": 0.25,
        "sinkhorn_iterations": 3,
        "me_max_weight": 1.0,
        "momentum": 0.996,
        "momentum_end": 1.0,
        "gather_distributed": True,  # under torchrun: Sinkhorn over the global batch, as the official code
    }
    positive = ("temperature", "target_temperature")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        check_mask_ratio(self.name, h["mask_ratio"])
        self.projector = MSNProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.projector_momentum = self.momentum_copy(self.projector)
        self.masking = MaskedTokens(self.backbone)  # after the copy: the target sees whole views
        # uniform in +-1/sqrt(256) as the official code (src/msn_train.py), nn.Linear's own initialisation
        self.prototypes = nn.Linear(h["proj_output_dim"], h["num_prototypes"], bias=False)
        self.criterion = Float32Loss(
            MSNLoss(h["temperature"], h["sinkhorn_iterations"], h["me_max_weight"], h["gather_distributed"])
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        anchors = self.encode(views[1:], self._masked_features, self.projector)
        with torch.no_grad():
            targets = self.projector_momentum(self.backbone_momentum(views[0]))
        return self.criterion(
            torch.cat(anchors),
            targets,
            self.prototypes.weight,
            target_sharpen_temperature=self.hparams["target_temperature"],
        )

    def _masked_features(self, images: Tensor) -> Tensor:
        keep, _ = self.masking.random_mask(images, self.hparams["mask_ratio"])
        return self.masking.encode(self.backbone, images, keep)[0]
