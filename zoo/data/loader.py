"""`DeviceLoader`: batches of a small dataset that lives whole on the training device."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from zoo.data.dataset import ImageDataset
from zoo.errors import ZooError


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of n dataset indices used by `epoch`, drawn on the CPU from a generator seeded by (seed, epoch).

    It does not depend on the device or the loader, so a resumed run, and the streaming loader, see exactly the
    batches the device-resident loader would have given.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    generator = torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
    return torch.randperm(n, generator=generator)


class BatchPlan:
    """Batch size, (seed, epoch) order and steps per epoch shared by the device-resident and streaming loaders.

    Under data-parallel training `batch_size` is the global batch: every rank draws the same (seed, epoch) order and
    takes its own contiguous slice (`rank` of `world`) of each global batch, so the ranks' shards are disjoint and
    together they are the batch one process would take.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        *,
        batch_size: int,
        seed: int = 0,
        drop_last: bool = True,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        n = len(dataset)
        if batch_size < 1:
            raise ZooError(f"batch_size must be at least 1, got {batch_size}")
        if drop_last and batch_size > n:
            raise ZooError(
                f"batch_size {batch_size} is larger than dataset {dataset.name!r} ({n} images): "
                "no full batch to train on; lower batch_size or use more data"
            )
        if batch_size % world:
            raise ValueError(f"global batch {batch_size} does not split evenly over {world} ranks")
        self.n, self.batch_size, self.seed, self.drop_last = n, batch_size, seed, drop_last
        self.rank, self.local_batch_size = rank, batch_size // world

    def __len__(self) -> int:
        """Steps per epoch."""
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of dataset indices used by `epoch`, on the CPU."""
        return epoch_order(self.n, self.seed, epoch)

    def batch_index(self, order: torch.Tensor, step: int) -> torch.Tensor:
        """This rank's slice of global batch `step` of `order`."""
        start = step * self.batch_size + self.rank * self.local_batch_size
        return order[start : min(start + self.local_batch_size, (step + 1) * self.batch_size)]

    def epoch_batches(self, epoch: int) -> torch.Tensor:
        """This rank's dataset indices of each batch of `epoch`, (steps, local batch), on the CPU; full batches only."""
        if not self.drop_last and self.n % self.batch_size:
            raise ValueError("epoch_batches needs batches of one size: drop_last, or a batch size dividing the data")
        order = self.order(epoch)
        return torch.stack([self.batch_index(order, step) for step in range(len(self))])


class DeviceLoader(BatchPlan):
    """Yields (images uint8 (B, C, H, W), labels int64 (B,)) batches already on `device`.

    The whole dataset is copied to the device once, which assumes it fits (CIFAR-10 is 150 MB as uint8):
    batching is then pure device indexing, with no worker processes, no PIL and no host sync per batch.
    Datasets larger than the device's memory budget use `StreamingLoader`, which yields the same batches.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        *,
        batch_size: int,
        device: torch.device | str,
        seed: int = 0,
        drop_last: bool = True,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        super().__init__(dataset, batch_size=batch_size, seed=seed, drop_last=drop_last, rank=rank, world=world)
        self.device = torch.device(device)
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch, in the order fixed by (seed, epoch)."""
        order = self.order(epoch).to(self.device)
        for step in range(len(self)):
            index = self.batch_index(order, step)
            yield torch.index_select(self.images, 0, index), self.labels[index]
