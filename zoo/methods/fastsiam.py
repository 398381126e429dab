"""FastSiam (Pototzky, Sultan & Schmidt-Thieme, "FastSiam: Resource-Efficient Self-supervised Learning on a Single
GPU", GCPR 2022).

SimSiam with K + 1 views of each image: each view's prediction is pulled towards the mean of the other K views'
projections, held fixed by a stop-gradient. A target averaged over several views is steadier than SimSiam's single
view, which is what lets FastSiam train with small batches on one GPU (the paper's argument).

Defaults: 4 views (K = 3 targets per prediction), lightly's FastSiamTransform default (num_views=4); the loss as
lightly's FastSiam example (examples/pytorch/fastsiam.py): the mean over the 4 views of the negative cosine
between the view's prediction and the mean of the other 3 projections. FastSiam keeps SimSiam's network, so the heads
are lightly's SimSiam heads at solo-learn's SimSiam CIFAR sizes (scripts/pretrain/cifar/simsiam.yaml: projector
2048 -> 2048, predictor bottleneck 512; lightly's example shrinks them to 512 -> 128 and 64 for a quick demo), and
the predictor keeps a static learning rate as in SimSiam.
No CIFAR recipe is published for FastSiam; the CIFAR-10 recipe is solo-learn's SimSiam one, which FastSiam builds on.
Recipe: optim=sgd lr=0.5 wd=1e-5 batch=256 momentum=0.9 warmup_epochs=10 epochs=1000 (solo-learn simsiam.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.simsiam import SimSiam


@register_method("fastsiam")
class FastSiam(SimSiam):
    """SimSiam whose target for each view's prediction is the mean projection of the other views."""

    family = "distillation"
    paper = "Pototzky et al., FastSiam, GCPR 2022"
    default_augment = "solo-symmetric-weak"  # solo-learn's SimSiam CIFAR augmentations, on every view
    defaults = {"proj_hidden_dim": 2048, "proj_output_dim": 2048, "pred_hidden_dim": 512}
    n_views = 4

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z = self.encode(views[: self.n_views], self.backbone, self.projector)
        p = self.encode(z, self.predictor)
        targets = torch.stack([zi.detach().float() for zi in z])  # the stop-gradient, in float32 for the sums
        n = len(z)
        # the mean of the other views by subtraction from the sum: no boolean mask, so no host sync
        others = (targets.sum(dim=0) - targets) / (n - 1)
        return sum(self.criterion(pi, others[i]) for i, pi in enumerate(p)) / n
