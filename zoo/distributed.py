"""Data-parallel training on PyTorch's own engine: torchrun starts the processes, DistributedDataParallel syncs them.

`torchrun --nproc_per_node=N -m zoo train RECIPE` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address in
every process's environment; `joined` reads them and joins the process group (NCCL when training on CUDA, gloo on
the CPU). Without them zoo runs as one process and everything here is a no-op. What lives here: the process's place
in the job (`World`), the per-rank batch, the DDP wrapper around a method's loss, BatchNorm over the global batch,
and the few cross-rank reductions the trainer does once per logging interval (never per step).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from zoo.errors import ZooError


@dataclass(frozen=True)
class World:
    """This process's rank among `size` data-parallel processes, and its GPU index on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def device(self, device: torch.device) -> torch.device:
        """The training device of this rank: its own GPU (LOCAL_RANK) on CUDA, the CPU otherwise."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" and self.active else device

    def barrier(self) -> None:
        if self.active:
            torch_dist.barrier()

    def from_main(self, make: Callable[[], Any]) -> Any:
        """`make()` on rank 0 (e.g. create the run folder), its result on every rank."""
        value = [make() if self.is_main else None]
        if self.active:
            torch_dist.broadcast_object_list(value, src=0)
        return value[0]

    def agree(self, stop: bool, bad_step: Tensor) -> tuple[bool, int]:
        """Whether any rank asked to stop, and the last step at which any rank's loss was non-finite (-1: none).

        One all-reduce and one host read, at a logging interval: every rank then stops (or raises) at the same step.
        """
        flags = torch.stack([torch.tensor(int(stop), device=bad_step.device), bad_step.to(torch.long)])
        if self.active:
            torch_dist.all_reduce(flags, op=torch_dist.ReduceOp.MAX)
        any_stop, bad = flags.tolist()
        return bool(any_stop), int(bad)

    def mean(self, value: Tensor) -> Tensor:
        """Mean over the ranks, e.g. of per-rank loss sums: the global batch's value."""
        if not self.active:
            return value
        value = value.clone()
        torch_dist.all_reduce(value)
        return value / self.size


def current_world() -> World:
    """The process group this process is in (one process if none)."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return World()
    return World(torch_dist.get_rank(), torch_dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


@contextmanager
def joined(device: torch.device) -> Iterator[World]:
    """Join the torchrun job this process belongs to for the duration of the block; leave it afterwards.

    A process group that already exists (a caller's own) is used as it is and left open.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        yield current_world()
        return
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield World()
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ZooError(
                f"process with LOCAL_RANK {local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                "start at most that many processes per node (--nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
    store, rank, size = next(torch_dist.rendezvous("env://"))
    # torchrun's store outlives a restart (--max-restarts): keys of the failed attempt must not be read as this one's
    store = torch_dist.PrefixStore(f"zoo/attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)
    torch_dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=store, rank=rank, world_size=size)
    try:
        yield current_world()
    finally:
        torch_dist.destroy_process_group()


def local_batch_size(batch_size: int, world: World) -> int:
    """Images per rank and step: `[schedule] batch_size` is the global batch, split evenly."""
    if batch_size % world.size:
        raise ZooError(
            f"schedule.batch_size {batch_size} is the global batch and does not split evenly over {world.size} "
            f"processes: use a multiple of {world.size}, e.g. {batch_size - batch_size % world.size or world.size}"
        )
    return batch_size // world.size


def check_world_size(saved: int, world: World, run_dir: Path) -> None:
    """A run resumes on the world size it was trained on: the per-rank batch, the augmentation seeds of every
    rank, per-rank queues and BatchNorm statistics all depend on it, so another size would not continue the run."""
    if saved != world.size:
        raise ZooError(
            f"run {str(run_dir)!r} was trained on {saved} process(es) and this job has {world.size}: resume it with "
            f"{saved} (torchrun --nnodes x --nproc_per_node = {saved})"
        )


def require_fixed_run_dir(run_dir: Path | None) -> None:
    """torchrun restarts failed workers with the same arguments (`--max-restarts`): they must find the run folder
    again, so elastic jobs name it (`--run-dir`) instead of taking the next free name."""
    if run_dir is None and int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0")) > 0:
        raise ZooError("torchrun --max-restarts needs a fixed run folder to resume from: add --run-dir DIR")


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks whose backward sums the gradients over the ranks too: each rank then holds the gradient
    of the sum of all ranks' losses with respect to its own input."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.clone()
        torch_dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone()
        torch_dist.all_reduce(grad)
        return grad


def all_reduce_sum(x: Tensor) -> Tensor:
    """`x` summed over the ranks, differentiably (global batch statistics); `x` itself in one process."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()) or torch_dist.get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)


class _Loss(nn.Module):
    """The method's loss as a module's forward: DDP syncs gradients of what runs through its forward."""

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, views: Sequence[Tensor], labels: Tensor | None) -> Tensor:
        return self.method.loss(views, labels)


LossFn = Callable[[Sequence[Tensor], Tensor | None], Tensor]


def data_parallel(method: nn.Module, world: World, *, sync_bn: bool) -> LossFn:
    """`method.loss`, with gradients averaged over the ranks by DDP when there are several.

    With `sync_bn` every BatchNorm normalises over the global batch (torch's SyncBatchNorm on CUDA,
    `GlobalBatchNorm` elsewhere). Buffers are synced from rank 0 once, not at every step: queues hold each rank's own
    projections, and BatchNorm statistics are global already under `sync_bn`. Momentum targets start equal (DDP
    copies rank 0's whole module state once) and stay so: they follow parameters that DDP keeps equal.
    """
    if not world.active:
        return method.loss
    if sync_bn:
        convert_batch_norm(method)
    device = next(method.parameters()).device
    return DistributedDataParallel(
        _Loss(method), device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False
    )


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, on any backend (torch's SyncBatchNorm
    runs on GPUs only). The per-channel sums giving mean and variance are all-reduced with autograd, so the gradient
    is the one-process gradient of the global batch; equal local batches are assumed (zoo splits the batch evenly)."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {input.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        world = torch_dist.get_world_size() if torch_dist.is_initialized() else 1
        if not self.training or world == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        channels = x.shape[1]
        count = x.numel() // channels * world
        shape = [1, channels] + [1] * (x.dim() - 2)
        mean = all_reduce_sum(x.sum(dims)) / count
        centred = x - mean.view(shape)
        # two passes: E[x^2] - E[x]^2 cancels catastrophically in float32 for channels with a large mean
        var = all_reduce_sum(centred.pow(2).sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.lerp_(mean, m)
                self.running_var.lerp_(var * count / max(count - 1, 1), m)  # unbiased, as BatchNorm keeps it
                self.num_batches_tracked.add_(1)
        y = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm in `module` (in place) by one over the global batch, keeping parameters and buffers."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
            child, GlobalBatchNorm | nn.SyncBatchNorm
        ):
            setattr(module, name, _global_copy(child))
        else:
            convert_batch_norm(child)
    return module


def _global_copy(bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    device = next(iter((*bn.parameters(), *bn.buffers())), torch.empty(0)).device
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    new = GlobalBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats, device=device)
    new.load_state_dict(bn.state_dict())
    if bn.affine:  # the same Parameter objects: hooks and references to them keep working
        new.weight, new.bias = bn.weight, bn.bias
    return new.train(bn.training)


def average_gradients(parameters: Sequence[nn.Parameter] | Iterator[nn.Parameter]) -> None:
    """Average the gradients of parameters outside DDP (the online probe's head) over the ranks; no host sync."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()) or torch_dist.get_world_size() == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if grads:
        flat = torch.cat([g.flatten() for g in grads])
        torch_dist.all_reduce(flat)
        flat /= torch_dist.get_world_size()
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()
