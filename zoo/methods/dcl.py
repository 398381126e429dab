"""DCL and DCLW (Yeh et al., "Decoupled Contrastive Learning", ECCV 2022).

SimCLR with the positive pair removed from the InfoNCE denominator: each anchor's loss is -s_pos / tau plus the
log-sum-exp over its negatives only, which removes the negative-positive coupling that shrinks InfoNCE's gradient
when a batch has few hard negatives. It is the nearest relative of mi-binary (MIO) in this zoo, which likewise
drops a coupling term of InfoNCE (the repulsion between positives). DCLW also weights each positive term by
2 - N softmax_i(s_pos / sigma), a negative von Mises-Fisher weight that stresses the positive pairs that are
still far apart.

Defaults: temperature 0.1 and sigma 0.5 from the paper (and lightly's DCLLoss/DCLWLoss). DCL swaps only SimCLR's
loss, so the projector (Linear-ReLU-Linear 2048 -> 256, no BatchNorm) and the optimiser follow this zoo's SimCLR
CIFAR-10 recipe from solo-learn (scripts/pretrain/cifar/simclr.yaml), which keeps the two comparable.
Recipe: optim=lars lr=0.4 wd=1e-4 batch=256 momentum=0.9 eta=0.02 warmup_epochs=10 epochs=1000 (solo-learn simclr.yaml)
"""

from __future__ import annotations

from lightly.loss import DCLLoss, DCLWLoss
from torch import nn

from zoo.methods import register_method
from zoo.methods.simclr import SimCLR


@register_method("dcl")
class DCL(SimCLR):
    """Decoupled InfoNCE over the 2N views of a batch, one network on both views (SimCLR with DCL's loss)."""

    paper = "Yeh et al., DCL, ECCV 2022"
    defaults = {**SimCLR.defaults, "temperature": 0.1}

    def build_criterion(self) -> nn.Module:
        return DCLLoss(temperature=self.hparams["temperature"], gather_distributed=self.hparams["gather_distributed"])


@register_method("dclw")
class DCLW(DCL):
    """DCL with the positive terms weighted by the negative von Mises-Fisher weights of the paper (sigma)."""

    defaults = {**DCL.defaults, "sigma": 0.5}

    def build_criterion(self) -> nn.Module:
        h = self.hparams
        return DCLWLoss(temperature=h["temperature"], sigma=h["sigma"], gather_distributed=h["gather_distributed"])
