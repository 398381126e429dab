"""Run a function on several CPU processes joined in a gloo process group (data-parallel tests)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch.distributed as torch_dist
import torch.multiprocessing as mp


def run_on_ranks(worker: Callable[..., Any], world: int, *args: Any) -> list[Any]:
    """`worker(rank, world, *args)` on `world` processes; their return values in rank order."""
    with socket.socket() as s:  # a free loopback port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_entry, args=(world, port, worker, args, out), nprocs=world)
    return [out[rank] for rank in range(world)]


def _entry(rank: int, world: int, port: int, worker: Callable[..., Any], args: tuple, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch_dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        out[rank] = worker(rank, world, *args)
    finally:
        torch_dist.destroy_process_group()
