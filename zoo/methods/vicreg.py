"""VICReg (Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization", ICLR 2022).

Loss weights 25 / 25 / 1 (invariance / variance / covariance) are the paper's (sec. 4.1) and solo-learn's CIFAR
values; projector 2048 -> 2048 (three layers) from solo-learn's published CIFAR-10 recipe
(scripts/pretrain/cifar/vicreg.yaml). The paper uses BYOL's augmentations; solo-learn's CIFAR recipe differs slightly
(crop scale 0.2-1, solarize p 0.1 on both views, no blur).

The variance term follows solo-learn (solo/losses/vicreg.py), `variance="sum"`: the hinge on each view's std summed
over the two views, twice the official code's mean of the two, which lightly's VICRegLoss follows
(`variance="mean"`). Everything else agrees: eps 1e-4 inside the square root, unbiased (N - 1) covariance, squared
off-diagonal covariances summed and divided by the dimension, per view, both summed; variance and covariance over the
gathered batch.
Recipe: optim=lars lr=0.3 wd=1e-4 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn vicreg.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

from lightly.models.modules.heads import VICRegProjectionHead
from torch import Tensor

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method
from zoo.methods.sync_free import VICRegLoss

VARIANCES: tuple[str, ...] = ("sum", "mean")


@register_method("vicreg")
class VICReg(Method):
    """Match the two views (MSE) while keeping every dimension's std above 1 and the dimensions decorrelated."""

    family = "redundancy-reduction"
    paper = "Bardes et al., VICReg, ICLR 2022"
    default_augment = "solo-vicreg"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 2048,
        "proj_layers": 3,
        "sim_loss_weight": 25.0,
        "var_loss_weight": 25.0,
        "cov_loss_weight": 1.0,
        "variance": "sum",
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = VICRegProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], num_layers=h["proj_layers"]
        )
        if h["variance"] not in VARIANCES:
            raise ZooError(f"method 'vicreg' hyper-parameter 'variance': valid {VARIANCES}, got {h['variance']!r}")
        # lightly weights the mean of the two views' variance terms; solo-learn's sum is that mean weighted twice
        per_mean = 2.0 if h["variance"] == "sum" else 1.0
        self.criterion = Float32Loss(
            VICRegLoss(
                lambda_param=h["sim_loss_weight"],
                mu_param=per_mean * h["var_loss_weight"],
                nu_param=h["cov_loss_weight"],
                gather_distributed=h["gather_distributed"],
            )
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.criterion(z1, z2)
