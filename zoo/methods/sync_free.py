"""lightly's losses without host synchronisation: the same values, with a gather where lightly selects by mask.

`x[~mask].view(n, -1)` with a boolean mask makes a CUDA device stop and tell the host how many elements the mask
kept before the result can be allocated: one host sync per loss call, which stalls the training step's queue
(`torch.cuda.set_sync_debug_mode("error")` names it). Each class here is lightly's class with the masked selection
replaced by index arithmetic that gives the same tensor; tests compare every value and gradient with lightly's.
"""

from __future__ import annotations

import torch
import torch.distributed as torch_dist
from lightly.loss import dcl_loss, ntx_ent_loss, vicreg_loss
from lightly.utils import dist
from torch import Tensor
from torch.nn import functional as F


def drop_diagonal(x: Tensor, offset: int = 0) -> Tensor:
    """(n, m) -> (n, m - 1) without column `i + offset` of each row i: lightly's `x[~eye_rank].view(n, -1)`."""
    n, m = x.shape
    rows = torch.arange(n, device=x.device)[:, None] + offset
    cols = torch.arange(m - 1, device=x.device)[None, :]
    return x.gather(1, (cols + (cols >= rows).long()).expand(n, -1))


def take_diagonal(x: Tensor, offset: int = 0) -> Tensor:
    """Column `i + offset` of each row i: lightly's `x[eye_rank]`."""
    rows = torch.arange(x.shape[0], device=x.device)
    return x[rows, rows + offset]


def _rank_offset(batch_size: int, gather_distributed: bool) -> int:
    """Where this rank's rows sit among the gathered columns (lightly's `dist.eye_rank`)."""
    return dist.rank() * batch_size if gather_distributed and dist.world_size() > 1 else 0


class NTXentLoss(ntx_ent_loss.NTXentLoss):
    """lightly's NTXentLoss (SimCLR, Chen et al. 2020); the in-batch path without a host sync. With a memory bank
    lightly's own path runs, which does not sync."""

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        if self.memory_bank.size[0] > 0:
            return super().forward(out0, out1)
        n = out0.shape[0]
        out0, out1 = F.normalize(out0, dim=1), F.normalize(out1, dim=1)
        keys0, keys1 = out0, out1
        if self.gather_distributed and dist.world_size() > 1:
            keys0, keys1 = torch.cat(dist.gather(out0)), torch.cat(dist.gather(out1))
        offset = _rank_offset(n, self.gather_distributed)
        logits_00 = drop_diagonal(out0 @ keys0.T / self.temperature, offset)
        logits_01 = out0 @ keys1.T / self.temperature
        logits_10 = out1 @ keys0.T / self.temperature
        logits_11 = drop_diagonal(out1 @ keys1.T / self.temperature, offset)
        logits = torch.cat([torch.cat([logits_01, logits_00], dim=1), torch.cat([logits_10, logits_11], dim=1)])
        labels = (torch.arange(n, device=out0.device) + offset).repeat(2)
        return self.cross_entropy(logits, labels)


class _DecoupledLoss:
    """DCL's per-view term (Yeh et al. 2021, Eq. 6) as lightly computes it, by index instead of boolean mask."""

    temperature: float
    gather_distributed: bool
    weight_fn: object

    def _loss(self, out0: Tensor, out1: Tensor, out0_all: Tensor, out1_all: Tensor) -> Tensor:
        offset = _rank_offset(out0.shape[0], self.gather_distributed)
        sim_00 = out0 @ out0_all.T / self.temperature
        sim_01 = out0 @ out1_all.T / self.temperature
        positive_loss = -take_diagonal(sim_01, offset)
        if self.weight_fn:
            positive_loss = positive_loss * self.weight_fn(out0, out1)
        negatives = torch.cat([drop_diagonal(sim_00, offset), drop_diagonal(sim_01, offset)], dim=1)
        return (positive_loss + torch.logsumexp(negatives, dim=1)).mean()


class DCLLoss(_DecoupledLoss, dcl_loss.DCLLoss):
    """lightly's DCLLoss (decoupled contrastive learning, Yeh et al. 2021) without a host sync."""


class DCLWLoss(_DecoupledLoss, dcl_loss.DCLWLoss):
    """lightly's DCLWLoss (DCL with the von Mises-Fisher weighting) without a host sync."""


def covariance_loss(x: Tensor) -> Tensor:
    """VICReg's covariance term (Bardes et al. 2022): the squared off-diagonal covariances over the dimension, from
    the whole matrix minus its diagonal instead of lightly's boolean off-diagonal mask."""
    x = x - x.mean(dim=0)
    dim = x.shape[-1]
    cov = torch.einsum("b...c,b...d->...cd", x, x) / (x.shape[0] - 1)
    off_diagonal = cov.pow(2).sum(dim=(-2, -1)) - torch.diagonal(cov, dim1=-2, dim2=-1).pow(2).sum(-1)
    return (off_diagonal / dim).mean()


class VICRegLoss(vicreg_loss.VICRegLoss):
    """lightly's VICRegLoss with a covariance term that needs no host sync."""

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        if z_a.shape != z_b.shape or z_a.shape[0] < 2:
            raise ValueError(f"VICRegLoss needs two same-shape batches of 2 or more, got {z_a.shape}, {z_b.shape}")
        invariance = vicreg_loss.invariance_loss(z_a, z_b)
        if self.gather_distributed and torch_dist.is_initialized() and torch_dist.get_world_size() > 1:
            z_a, z_b = torch.cat(dist.gather(z_a)), torch.cat(dist.gather(z_b))
        variance = 0.5 * (vicreg_loss.variance_loss(z_a, self.eps) + vicreg_loss.variance_loss(z_b, self.eps))
        covariance = covariance_loss(z_a) + covariance_loss(z_b)
        return self.lambda_param * invariance + self.mu_param * variance + self.nu_param * covariance
