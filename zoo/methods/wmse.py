"""W-MSE (Ermolov et al., "Whitening for Self-Supervised Representation Learning", ICML 2021).

The projections of each view are whitened (centred and decorrelated to an identity covariance by the inverse
Cholesky factor of the covariance) and the whitened views are pulled together with an MSE of normalised vectors;
whitening scatters the batch, so no negatives are needed. As in the authors' code and solo-learn, the batch is
split into random slices of `whitening_size` samples that are whitened on their own (the paper's sub-batches), every
view separately, `whitening_iters` times with fresh slices.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/wmse.yaml, solo/methods/wmse.py,
solo/utils/whitening.py, solo/losses/wmse.py): projector Linear-BN-ReLU-Linear 1024 -> 64 (lightly's
BYOLProjectionHead: the same layers, its first Linear without the bias that BatchNorm cancels), whitening slices of
128, one iteration, no shrinkage (whitening_eps 0). solo-learn's loss (`simplified=True`, the one it trains with)
stops the gradient through the second view of each pair; the paper's loss and the authors' code do not:
`stop_gradient=False` gives theirs.
Recipe: optim=adam lr=2e-3 wd=1e-6 batch=256 warmup_epochs=10 from lr 0 epochs=1000 (solo-learn wmse.yaml); its
augmentations are solo-learn's symmetric ones with crops of 0.2-1 and no blur (set in the recipe).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import BYOLProjectionHead
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method

# A slice of n <= D samples has a covariance of rank < D that no Cholesky factor inverts (tiny test batches; never
# the published 128 samples in 64 dimensions): there it is shrunk at least this far towards the identity.
SINGULAR_SLICE_EPS = 0.1


class Whitening(nn.Module):
    """Whiten every slice of `x` (..., n, D): centre it and map it by L^-1, where L L^T is its covariance.

    The covariance is the unbiased one, shrunk as `(1 - eps) cov + eps I` (solo-learn solo/utils/whitening.py,
    Whitening2d); the output's covariance is then the identity, the paper's whitening. `cholesky_ex` and a triangular
    solve, batched over slices, never read a value back to the host (`linalg.cholesky` checks its result there).
    """

    def __init__(self, eps: float = 0.0) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n, dim = x.shape[-2:]
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            centred = x - x.mean(dim=-2, keepdim=True)
            cov = centred.mT @ centred / (n - 1)
            eps = self.eps if n > dim else max(self.eps, SINGULAR_SLICE_EPS)
            eye = torch.eye(dim, device=x.device, dtype=x.dtype)
            factor, _ = torch.linalg.cholesky_ex((1 - eps) * cov + eps * eye)
            # centred @ L^-T: each row is L^-1 applied to one centred sample
            return torch.linalg.solve_triangular(factor.mT, centred, upper=True, left=False)


class WMSELoss(nn.Module):
    """The W-MSE loss: 2 - 2 cos between whitened views, averaged over samples, view pairs and iterations.

    `forward(views)` takes the projections of every view, each (N, D), same images in the same order. Each
    iteration draws one random permutation of the batch, cuts it into slices of `whitening_size` (the whole batch if
    smaller; a remainder that fills no slice sits out that iteration) and whitens each view's slices; the pair (i, j)
    of views then scores 2 - 2 cos(w_i, w_j), with w_j detached if `stop_gradient` (solo-learn solo/losses/wmse.py).
    """

    def __init__(
        self, whitening_size: int = 128, whitening_iters: int = 1, eps: float = 0.0, stop_gradient: bool = True
    ) -> None:
        super().__init__()
        self.whitening_size = whitening_size
        self.whitening_iters = whitening_iters
        self.stop_gradient = stop_gradient
        self.whitening = Whitening(eps)

    def forward(self, views: Sequence[Tensor]) -> Tensor:
        n, dim = views[0].shape
        size = min(self.whitening_size, n)
        slices = n // size
        terms = []
        for _ in range(self.whitening_iters):
            # drawn on the views' device: an index made on the host would be copied over synchronously
            order = torch.randperm(n, device=views[0].device)[: slices * size]
            white = [self.whitening(z[order].view(slices, size, dim)) for z in views]
            for i in range(len(white)):
                for j in range(i + 1, len(white)):
                    target = white[j].detach() if self.stop_gradient else white[j]
                    terms.append(2 - 2 * F.cosine_similarity(white[i], target, dim=-1).mean())
        return torch.stack(terms).mean()


@register_method("wmse")
class WMSE(Method):
    """Whiten each view's projections in slices of the batch, then pull the whitened views together."""

    family = "redundancy-reduction"
    paper = "Ermolov et al., W-MSE, ICML 2021"
    # closest preset; solo-learn's wmse.yaml has crops of 0.2-1 and no blur, which its CIFAR recipe sets
    default_augment = "solo-symmetric"
    defaults = {
        "proj_hidden_dim": 1024,
        "proj_output_dim": 64,
        "whitening_size": 128,
        "whitening_iters": 1,
        "whitening_eps": 0.0,
        "stop_gradient": True,
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        if h["whitening_size"] < 2 or h["whitening_iters"] < 1 or not 0 <= h["whitening_eps"] < 1:
            raise ZooError(
                "method wmse: whitening_size must be >= 2, whitening_iters >= 1 and whitening_eps in [0, 1), got "
                f"{h['whitening_size']}, {h['whitening_iters']}, {h['whitening_eps']}"
            )
        self.projector = BYOLProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.criterion = Float32Loss(
            WMSELoss(h["whitening_size"], h["whitening_iters"], h["whitening_eps"], h["stop_gradient"])
        )

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        return self.criterion(self.encode(views[: self.n_views], self.backbone, self.projector))
