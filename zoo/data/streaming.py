"""`StreamingLoader`: batches of a dataset too big for the device, gathered from host memory one step ahead.

The uint8 array stays in host memory (memory-mapped from the decode-once cache). A background thread gathers
batch k+1..k+depth (`index_select` from the map into a pinned buffer) and, on CUDA, starts its copy to the device on a
side stream, while the training step of batch k runs; the consumer's stream only waits on that copy's event. The
order is the device-resident loader's (`epoch_order`), so both yield identical batches for the same (seed, epoch).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from zoo.data.dataset import ImageDataset
from zoo.data.loader import BatchPlan

_Batch = tuple[torch.Tensor, torch.Tensor, "torch.cuda.Event | None"]


class StreamingLoader(BatchPlan):
    """Yields (images uint8 (B, C, H, W), labels int64 (B,)) on `device`, streamed from host memory.

    `depth` batches are prefetched; on CUDA each lands in one of depth + 1 pinned buffers, reused only after the
    copy that last read it has finished.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        *,
        batch_size: int,
        device: torch.device | str,
        seed: int = 0,
        drop_last: bool = True,
        depth: int = 2,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        super().__init__(dataset, batch_size=batch_size, seed=seed, drop_last=drop_last, rank=rank, world=world)
        self.device = torch.device(device)
        self.images = dataset.images  # host, usually memory-mapped
        self.labels = dataset.labels.to(self.device)
        self.depth = max(1, depth)
        self.cuda = self.device.type == "cuda"
        self._pinned: list[torch.Tensor] = []
        self._copied: list[torch.cuda.Event | None] = []
        if self.cuda:
            shape = (self.local_batch_size, *self.images.shape[1:])
            self._pinned = [torch.empty(shape, dtype=torch.uint8).pin_memory() for _ in range(self.depth + 1)]
            self._copied = [None] * (self.depth + 1)
            self._stream = torch.cuda.Stream(self.device)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch, in the order fixed by (seed, epoch)."""
        order = self.order(epoch)
        steps = len(self)
        with ThreadPoolExecutor(1, thread_name_prefix="zoo-stream") as pool:
            pending: deque[Future[_Batch]] = deque(
                pool.submit(self._fetch, order, step) for step in range(min(self.depth, steps))
            )
            for step in range(steps):
                images, index, ready = pending.popleft().result()
                if step + self.depth < steps:
                    pending.append(pool.submit(self._fetch, order, step + self.depth))
                if ready is not None:
                    current = torch.cuda.current_stream(self.device)
                    current.wait_event(ready)
                    images.record_stream(current)  # the allocator must not reuse it before this stream is done
                yield images, self.labels[index.to(self.device, non_blocking=True)]

    def _fetch(self, order: torch.Tensor, step: int) -> _Batch:
        index = self.batch_index(order, step)
        if not self.cuda:
            return torch.index_select(self.images, 0, index), index, None
        slot = step % len(self._pinned)
        previous = self._copied[slot]
        if previous is not None:
            previous.synchronize()  # the copy that last read this buffer has finished
        host = self._pinned[slot][: len(index)]
        torch.index_select(self.images, 0, index, out=host)
        with torch.cuda.stream(self._stream):
            images = host.to(self.device, non_blocking=True)
            ready = torch.cuda.Event()
            ready.record(self._stream)
        self._copied[slot] = ready
        return images, index, ready
