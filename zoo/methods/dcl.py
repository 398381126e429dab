"""DCL and DCLW (Yeh et al., "Decoupled Contrastive Learning", ECCV 2022).

SimCLR with the positive pair removed from the InfoNCE denominator: each anchor's loss is -s_pos / tau plus the
log-sum-exp over its negatives only, which removes the negative-positive coupling that shrinks InfoNCE's gradient
when a batch has few hard negatives. It is the nearest relative of mi-binary (MIO) in this zoo, which likewise
drops a coupling term of InfoNCE (the repulsion between positives). DCLW also weights each positive term by
2 - N softmax_i(s_pos / sigma), a negative von Mises-Fisher weight that stresses the positive pairs that are
still far apart.

solo-learn has neither, so the defaults are lightly's CIFAR-10 benchmark
(docs/source/getting_started/benchmarks/cifar10_benchmark.py): temperature 0.1 and sigma 0.5 (the paper's, and
lightly's DCLLoss/DCLWLoss defaults), SimCLRProjectionHead(512, 512, 128) with BatchNorm, SimCLR's augmentation with
colour-jitter strength 0.5 and no blur (zoo's `simclr` preset at 32 px).
Recipe: optim=sgd lr=0.24 wd=5e-4 (every parameter) batch=512 momentum=0.9 warmup_epochs=0 epochs=200 (lightly)
"""

from __future__ import annotations

from torch import nn

from zoo.methods import register_method
from zoo.methods.simclr import SimCLR
from zoo.methods.sync_free import DCLLoss, DCLWLoss


@register_method("dcl")
class DCL(SimCLR):
    """Decoupled InfoNCE over the 2N views of a batch, one network on both views (SimCLR with DCL's loss)."""

    paper = "Yeh et al., DCL, ECCV 2022"
    default_augment = "simclr"
    defaults = {
        **SimCLR.defaults,
        "temperature": 0.1,
        "proj_hidden_dim": 512,
        "proj_output_dim": 128,
        "proj_batch_norm": True,
    }

    def build_criterion(self) -> nn.Module:
        return DCLLoss(temperature=self.hparams["temperature"], gather_distributed=self.hparams["gather_distributed"])


@register_method("dclw")
class DCLW(DCL):
    """DCL with the positive terms weighted by the negative von Mises-Fisher weights of the paper (sigma)."""

    defaults = {**DCL.defaults, "sigma": 0.5}

    def build_criterion(self) -> nn.Module:
        h = self.hparams
        return DCLWLoss(temperature=h["temperature"], sigma=h["sigma"], gather_distributed=h["gather_distributed"])
