"""DeepCluster v2 (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
NeurIPS 2020, appendix: DeepCluster-v2).

Each image's normalised projection is classified, by fixed prototypes (the k-means centroids), into the cluster
k-means gave it at the start of the epoch: a cross-entropy at temperature 0.1, averaged over three clusterings.
A memory bank keeps every projection of the epoch (both views, each at the slot of its step); at the next epoch start
spherical k-means clusters it (clustering h on view h mod 2), the centroids become the prototypes and every image
gets its cluster as target. As in solo-learn (solo/methods/deepclusterv2.py) the first epoch has no targets (its loss
is 0: solo-learn's is NaN with zero gradient) and only fills the bank, which starts as random unit vectors; the
official code fills it with a pass over the data before training instead. k-means (solo-learn solo/utils/kmeans.py)
starts from random bank entries (of rank 0), runs 10 iterations, keeps the centroid of an empty cluster, and runs
over all ranks' banks. The bank is in the state dict, so a run resumed inside an epoch clusters nothing again.

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/deepclusterv2.yaml and the
defaults of solo/methods/deepclusterv2.py): projector Linear-BN-ReLU-Linear 2048 -> 128, prototypes [3000, 3000,
3000], temperature 0.1, 10 k-means iterations.
Recipe: optim=lars lr=0.6 wd=1e-6 batch=256 momentum=0.9 eta=0.02 warmup_epochs=11 warmup_start_lr=0 min_lr=6e-4
epochs=1000 (solo-learn deepclusterv2.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from lightly.models.modules.heads import SwaVProjectionHead
from lightly.models.utils import concat_all_gather
from lightly.utils import dist
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method

_SEED_STRIDE = 1_000_003  # k-means of (epoch, clustering) draws its starting centroids from its own seed


class DeepClusterV2Loss(nn.Module):
    """Cross-entropy of prototype scores against k-means assignments, the mean over clusterings (SwAV appendix A;
    solo-learn solo/losses/deepclusterv2.py).

    `forward(z, prototypes, targets)`: z the views' unit projections [(N, D), ...], prototypes the clusterings' unit
    centroids [(K_h, D), ...], targets (H, N) the cluster of each image in each clustering, -1 for none. Clustering h
    contributes the mean over all views and targeted images of -log softmax(z . c / T)[target]; with no target at all
    it contributes 0 (not NaN), with zero gradient either way.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z: Sequence[Tensor], prototypes: Sequence[Tensor], targets: Tensor) -> Tensor:
        views = torch.cat(list(z))
        total = views.new_zeros(())
        for centroids, target in zip(prototypes, targets, strict=True):
            target = target.repeat(len(z))
            summed = F.cross_entropy(views @ centroids.T / self.temperature, target, ignore_index=-1, reduction="sum")
            total = total + summed / (target >= 0).sum().clamp(min=1)
        return total / len(prototypes)


@torch.no_grad()
def spherical_kmeans(x: Tensor, k: int, iterations: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Unit centroids (k, D) and the cluster of each row of `x` (N, D, unit rows): solo-learn solo/utils/kmeans.py.

    Starts from k rows of rank 0's `x`; assignment by the largest dot product; every mean over all ranks' rows,
    normalised; an empty cluster keeps its centroid. `iterations` mean updates, then the final assignment.
    """
    world = dist.world_size()
    centroids = x[torch.randperm(len(x), generator=generator)[:k].to(x.device)].clone()
    if world > 1:
        torch_dist.broadcast(centroids, 0)
    for _ in range(iterations):
        assignment = (x @ centroids.T).argmax(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
        counts = torch.bincount(assignment, minlength=k)
        if world > 1:
            torch_dist.all_reduce(sums)
            torch_dist.all_reduce(counts)
        means = sums / counts.clamp(min=1).unsqueeze(1).to(sums.dtype)
        centroids = F.normalize(torch.where(counts.unsqueeze(1) > 0, means, centroids), dim=1)
    return centroids, (x @ centroids.T).argmax(dim=1)


class Prototypes(nn.Module):
    """Fixed unit centroids (K, D) as a buffer: k-means sets them, the optimiser never sees them."""

    def __init__(self, dim: int, k: int) -> None:
        super().__init__()
        self.register_buffer("weight", F.normalize(torch.randn(k, dim), dim=1))


@register_method("deepclusterv2")
class DeepClusterV2(Method):
    """Each projection is classified into its image's k-means cluster of the last epoch; prototypes are centroids."""

    family = "clustering"
    paper = "Caron et al., DeepCluster v2 (SwAV paper, appendix), NeurIPS 2020"
    default_augment = "solo-symmetric"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 128,
        "num_prototypes": [3000, 3000, 3000],
        "temperature": 0.1,
        "kmeans_iters": 10,
    }
    positive = ("temperature",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        if not h["num_prototypes"] or any(not isinstance(k, int) or k < 1 for k in h["num_prototypes"]):
            raise ZooError(f"method.num_prototypes: expected a list of positive ints, got {h['num_prototypes']!r}")
        self.projector = SwaVProjectionHead(self.num_features, h["proj_hidden_dim"], h["proj_output_dim"])
        self.prototypes = nn.ModuleList(Prototypes(h["proj_output_dim"], k) for k in h["num_prototypes"])
        self.criterion = Float32Loss(DeepClusterV2Loss(h["temperature"]))
        # sized by the first epoch: the bank (views, images a process sees per epoch, D), each slot's dataset index,
        # every image's cluster per clustering (-1: none), and the epoch whose start clustered last
        self.register_buffer("bank", torch.zeros(2, 0, h["proj_output_dim"]))
        self.register_buffer("bank_index", torch.zeros(0, dtype=torch.long))
        self.register_buffer("assignments", torch.full((len(h["num_prototypes"]), 0), -1, dtype=torch.long))
        self.register_buffer("clustered_epoch", torch.tensor(-1))
        self.register_load_state_dict_pre_hook(_take_sizes)
        self._batches: Tensor | None = None  # this epoch's dataset indices per step, on the device
        self._first_step = 0

    def epoch_start(self, epoch: int, batches: Tensor) -> None:
        """Cluster last epoch's bank (unless a resumed run did so already), then follow this epoch's batches."""
        steps, batch = batches.shape
        if self.bank.shape[1] != steps * batch:
            self._new_bank(steps * batch)
        if epoch > 0 and int(self.clustered_epoch) != epoch:
            self._cluster(epoch)
            self.clustered_epoch.fill_(epoch)
        missing = int(batches.max()) + 1 - self.assignments.shape[1]  # images that had no slot: no target
        if missing > 0:
            self.assignments = F.pad(self.assignments, (0, missing), value=-1)
        self._batches, self._first_step = batches.to(self.bank.device), epoch * steps

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        z = [F.normalize(p.float(), dim=1) for p in self.encode(views[:2], self.backbone, self.projector)]
        if self._batches is None:  # outside the trainer's epochs: no targets, nothing remembered
            targets = torch.full((len(self.prototypes), len(z[0])), -1, dtype=torch.long, device=z[0].device)
        else:
            step = (self.step_count - self._first_step) % len(self._batches)  # a Python int: no host sync
            index = self._batches[step]
            targets = self.assignments[:, index]
            slots = slice(step * len(index), (step + 1) * len(index))
            self.bank[:, slots] = torch.stack(z).detach()
            self.bank_index[slots] = index
        return self.criterion(z, [p.weight for p in self.prototypes], targets)

    def _new_bank(self, size: int) -> None:
        device = self.bank.device
        self.bank = F.normalize(torch.randn(2, size, self.hparams["proj_output_dim"], device=device), dim=2)
        self.bank_index = torch.zeros(size, dtype=torch.long, device=device)

    @torch.no_grad()
    def _cluster(self, epoch: int) -> None:
        """k-means of each clustering on last epoch's bank: new prototypes, and every banked image's cluster."""
        size = self.bank.shape[1]
        if max(self.hparams["num_prototypes"]) > size:  # checked here, as the reference does: epoch 0 trains
            raise ZooError(
                f"method.num_prototypes {self.hparams['num_prototypes']}: k-means needs at most as many clusters as "
                f"the {size} images a process sees per epoch; lower each to at most {size}"
            )
        index = self.bank_index
        if dist.world_size() > 1:
            index = concat_all_gather(index)
        shape = (len(self.prototypes), int(index.max()) + 1)
        assignments = torch.full(shape, -1, dtype=torch.long, device=index.device)
        for h, prototypes in enumerate(self.prototypes):
            generator = torch.Generator().manual_seed(epoch * _SEED_STRIDE + h)
            centroids, local = spherical_kmeans(
                self.bank[h % 2], prototypes.weight.shape[0], self.hparams["kmeans_iters"], generator
            )
            prototypes.weight.copy_(centroids)
            assignments[h, index] = concat_all_gather(local) if dist.world_size() > 1 else local
        self.assignments = assignments


def _take_sizes(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Before loading: give the epoch-sized buffers the checkpoint's sizes (they are empty until the first epoch)."""
    for name in ("bank", "bank_index", "assignments"):
        saved = state_dict.get(prefix + name)
        if saved is not None:
            setattr(module, name, torch.empty_like(saved, device=getattr(module, name).device))
