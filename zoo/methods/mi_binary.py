"""mi-binary (MIO): contrastive pre-training as binary classification of pairs.

Manna, Pal, Bhattacharya, "Mutual Information Optimization using Self-Supervised Binary Contrastive Learning",
arXiv 2111.12664. Every ordered pair of the 2N embeddings of a batch gets the logit s_ij / tau; the two views of an
image are pushed towards label 1, every other pair towards label 0, and the two class means are added. The default
`bound="jensen"` replaces each anchor's mean negative softplus by its Jensen upper bound (the majoriser of the
paper's Majorize-Minimizer step, our reading of v2/v3); `bound="none"` is the naive v1 loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import SimCLRProjectionHead
from lightly.utils import dist
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Method

Bound = Literal["jensen", "none"]
BOUNDS: tuple[str, ...] = ("jensen", "none")
Part = Literal["both", "positive", "negative"]


class _PairIndex:
    """For each local anchor row: its own column and its positive partner's column in the global key matrix."""

    def __init__(self, n_local: int, world: int, rank: int, device: torch.device) -> None:
        n_global = n_local * world
        local = torch.arange(n_local, device=device) + rank * n_local
        self.self_col = torch.cat([local, local + n_global])  # z1 rows, then z2 rows
        self.pos_col = torch.cat([local + n_global, local])
        neg = torch.ones(2 * n_local, 2 * n_global, dtype=torch.bool, device=device)
        rows = torch.arange(2 * n_local, device=device)
        neg[rows, self.self_col] = False
        neg[rows, self.pos_col] = False
        self.neg_mask = neg
        self.num_neg = 2 * n_global - 2
        # column indices of each row's negatives: a gather with them needs no host sync, boolean indexing would
        self.neg_cols = neg.nonzero()[:, 1].view(2 * n_local, self.num_neg)


def binary_loss(positive: Tensor, negatives: Tensor, tau_pos: float, tau_neg: float, bound: Bound = "jensen") -> Tensor:
    """MIO's loss from cosine similarities: each anchor's to its positive (M,), to its K negatives (M, K).

    mean_i softplus(-s_i+ / tau_pos) plus, under "jensen", mean_i softplus(logsumexp_k(s_ik / tau_neg) - log K) (the
    Jensen upper bound of the anchor's mean negative softplus), or, under "none", the mean of softplus(s_ik / tau_neg)
    over all (i, k). Shared by `MIBinaryLoss` (in-batch negatives) and mi-binary-moco (a queue of negatives).
    """
    pos_term = F.softplus(-positive / tau_pos).mean()
    neg_logits = negatives / tau_neg
    if bound == "jensen":
        neg_term = F.softplus(torch.logsumexp(neg_logits, dim=1) - math.log(negatives.shape[1])).mean()
    else:
        neg_term = F.softplus(neg_logits).mean()
    return pos_term + neg_term


class MIBinaryLoss(nn.Module):
    """Binary mutual-information contrastive loss of MIO (arXiv 2111.12664), usable on its own like lightly's losses.

    Args:
        tau_pos: temperature of positive logits (0.5 in the paper's experiments).
        tau_neg: temperature of negative logits (0.5 in the paper's experiments).
        bound: "jensen" (default, L_mm: Jensen upper bound of each anchor's negative term) or "none" (L_naive, v1).
        l2_weight: weight of v1's extra term mean((u1 - u2)^2) over the normalised embeddings (v1 used 1; off here).
        gather_distributed: take negatives from the global batch of all data-parallel ranks, with gradients.

    `forward(z1, z2)` takes two (N, D) projections of the same N images and returns the scalar loss. Similarities
    are computed in float32 at least, whatever the input dtype; the result is invariant to scaling any row.
    """

    def __init__(
        self,
        tau_pos: float = 0.5,
        tau_neg: float = 0.5,
        bound: Bound = "jensen",
        l2_weight: float = 0.0,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if bound not in BOUNDS:
            raise ZooError(f"unknown bound {bound!r} for MIBinaryLoss: valid: {', '.join(BOUNDS)}")
        if tau_pos <= 0 or tau_neg <= 0:
            raise ZooError(f"MIBinaryLoss temperatures must be > 0, got tau_pos={tau_pos}, tau_neg={tau_neg}")
        self.tau_pos, self.tau_neg, self.bound = tau_pos, tau_neg, bound
        self.l2_weight, self.gather_distributed = l2_weight, gather_distributed
        self._index_cache: dict[tuple[int, int, int, torch.device], _PairIndex] = {}

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
            raise ValueError(
                f"MIBinaryLoss needs two (N, D) tensors with N >= 2, got {tuple(z1.shape)}, {tuple(z2.shape)}"
            )
        with torch.autocast(z1.device.type, enabled=False):  # similarities in float32 even under mixed precision
            return self._loss(z1, z2)

    def _loss(self, z1: Tensor, z2: Tensor) -> Tensor:
        dtype = torch.promote_types(z1.dtype, torch.float32)  # at least float32 (float64 stays float64)
        u1, u2 = F.normalize(z1.to(dtype), dim=1), F.normalize(z2.to(dtype), dim=1)
        world, rank = 1, 0
        k1, k2 = u1, u2
        if self.gather_distributed and dist.world_size() > 1:
            world, rank = dist.world_size(), dist.rank()
            k1, k2 = torch.cat(dist.gather(u1)), torch.cat(dist.gather(u2))
        index = self._index(z1.shape[0], world, rank, z1.device)
        sim = torch.cat([u1, u2]) @ torch.cat([k1, k2]).T
        rows = torch.arange(sim.shape[0], device=sim.device)
        loss = binary_loss(
            sim[rows, index.pos_col], sim.gather(1, index.neg_cols), self.tau_pos, self.tau_neg, self.bound
        )
        if self.l2_weight:
            loss = loss + self.l2_weight * (u1 - u2).pow(2).mean()
        return loss

    def _index(self, n: int, world: int, rank: int, device: torch.device) -> _PairIndex:
        key = (n, world, rank, device)
        if key not in self._index_cache:
            self._index_cache[key] = _PairIndex(n, world, rank, device)
        return self._index_cache[key]


def mi_binary_grad(
    z1: Tensor,
    z2: Tensor,
    tau_pos: float = 0.5,
    tau_neg: float = 0.5,
    bound: Bound = "jensen",
    l2_weight: float = 0.0,
    part: Part = "both",
) -> tuple[Tensor, Tensor]:
    """Closed-form gradient of `MIBinaryLoss` with respect to z1 and z2 (single process), PAPER.md's equations.

    With U the stacked unit vectors and W[i, j] = dL/ds_ij per ordered pair, dL/dU = (W + W^T) U, then
    dL/dz_i = (I - u_i u_i^T) dL/du_i / ||z_i||. Positives: W[i, p(i)] = -sigma(-s/tau_p) / (2N tau_p). Naive
    negatives: W[i, k] = sigma(s/tau_n) / (2N K tau_n); Jensen: W[i, k] = e^{s_ik/tau} / (tau (K + sum_j e^{s_ij/tau}))
    / (2N), i.e. sigma(LSE - log K) * softmax_k / (2N tau), so hard negatives dominate. K = 2N - 2.

    `part="positive"` keeps only the positive-pair terms (and the L2 term, which also pulls positives together),
    `"negative"` only the negative-pair terms: the two add up to the whole gradient (the paper's gradient flow).
    """
    n = z1.shape[0]
    z = torch.cat([z1, z2])
    norms = z.norm(dim=1, keepdim=True)
    u = z / norms
    sim = u @ u.T
    index = _PairIndex(n, 1, 0, z.device)
    rows = torch.arange(2 * n, device=z.device)
    weights = torch.zeros_like(sim)
    if part != "negative":
        weights[rows, index.pos_col] = -torch.sigmoid(-sim[rows, index.pos_col] / tau_pos) / (2 * n * tau_pos)
    neg_logits = (sim / tau_neg).masked_fill(~index.neg_mask, -math.inf)
    if bound == "jensen":
        lse = torch.logsumexp(neg_logits, dim=1, keepdim=True)
        neg_w = torch.sigmoid(lse - math.log(index.num_neg)) * torch.softmax(neg_logits, dim=1) / (2 * n * tau_neg)
    else:
        neg_w = torch.sigmoid(neg_logits) / (2 * n * index.num_neg * tau_neg)
    if part != "positive":
        weights = weights + neg_w  # masked entries are exactly 0 (sigmoid/softmax of -inf)
    grad_u = (weights + weights.T) @ u
    if l2_weight and part != "negative":
        diff = 2 * l2_weight * (u[:n] - u[n:]) / (n * z1.shape[1])
        grad_u = grad_u + torch.cat([diff, -diff])
    grad_z = (grad_u - (grad_u * u).sum(dim=1, keepdim=True) * u) / norms
    return grad_z[:n], grad_z[n:]


class MIBinaryProjectionHead(SimCLRProjectionHead):
    """MIO's projector: bias-free linears each followed by BatchNorm, ReLU between (PAPER.md: 512 -> 2048 -> 128)."""

    def __init__(self, input_dim: int = 512, hidden_dim: int = 2048, output_dim: int = 128, num_layers: int = 2):
        super().__init__(input_dim, hidden_dim, output_dim, num_layers=num_layers, batch_norm=True)


@register_method("mi-binary")
class MIBinary(Method):
    """MIO with the Majorize-Minimizer (Jensen) bound; one network on both views, no momentum, no predictor."""

    family = "binary-contrastive"
    paper = "Manna et al., MIO, arXiv 2111.12664"
    default_augment = "mio"
    bound: Bound = "jensen"
    positive = ("tau_pos", "tau_neg")
    defaults = {
        "tau_pos": 0.5,
        "tau_neg": 0.5,
        "l2_weight": 0.0,
        "proj_hidden_dim": 2048,
        "proj_output_dim": 128,
        "proj_layers": 2,
        "gather_distributed": True,  # under torchrun: the global batch, as the reference
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.projector = MIBinaryProjectionHead(
            self.num_features, h["proj_hidden_dim"], h["proj_output_dim"], h["proj_layers"]
        )
        self.criterion = MIBinaryLoss(h["tau_pos"], h["tau_neg"], self.bound, h["l2_weight"], h["gather_distributed"])

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z1, z2 = self.encode(views[:2], self.backbone, self.projector)
        return self.criterion(z1, z2)


@register_method("mi-binary-naive")
class MIBinaryNaive(MIBinary):
    """MIO v1's naive loss: separate BCE means over positive and negative pairs (for ablation and reproduction)."""

    bound: Bound = "none"
