"""No host synchronisation inside a training step, for every method.

On a GPU the step runs under `torch.cuda.set_sync_debug_mode("error")`. Without one, the same steps run on the CPU
under a dispatch mode that fails on the operators that make a CUDA device wait for the host: reading a value
(`.item()`, `bool(tensor)`), and data-dependent shapes (`nonzero`, boolean masks, `unique`, `masked_select`).
"""

from __future__ import annotations

import tomllib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from torch.utils._python_dispatch import TorchDispatchMode

from tests.conftest import tiny_backbone_settings
from zoo.methods import list_methods
from zoo.recipes import apply_overrides, recipe_from_dict
from zoo.stop import StopRequests
from zoo.train import _Run

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
_SYNCING = {"_local_scalar_dense", "nonzero", "masked_select", "_unique2", "unique_dim", "unique_consecutive"}
SETS = [
    "backbone.image_size=28", "data.fraction=0.02", "schedule.batch_size=16", "schedule.epochs=2",
    "eval.linear_epochs=0",
]  # fmt: skip


_INDEXING = {"index", "index_put", "index_put_", "_index_put_impl_"}


def _has_boolean_index(args: Any) -> bool:
    """`x[mask]`: the result's size is the mask's count, which the host must read (on the CPU, torch turns the mask
    into indices below the dispatcher, so the watch looks at the index operator's arguments)."""
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


class _NoHostSync(TorchDispatchMode):
    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.overloadpacket.__name__
        if (
            name in _SYNCING
            or (name == "repeat_interleave" and "output_size" not in (kwargs or {}))
            or (name in _INDEXING and _has_boolean_index(args))
        ):
            raise AssertionError(f"{func} waits for the device (a host sync on CUDA), at {_caller()}")
        return func(*args, **(kwargs or {}))


def _caller() -> str:
    """The innermost frame outside torch and this file: the line that asked for the value."""
    for frame in reversed(traceback.extract_stack()):
        if "/torch/" not in frame.filename and frame.filename != __file__:
            return f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno} {frame.line}"
    return "?"


@contextmanager
def no_host_sync(device: torch.device) -> Iterator[None]:
    if device.type == "cuda":
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    else:
        with _NoHostSync():
            yield


def _run(method: str, device: str) -> _Run:
    raw = tomllib.loads(QUICKSTART.read_text())
    raw["method"] = {"name": method}  # the method's published defaults
    apply_overrides(raw, [*SETS, *tiny_backbone_settings(method), f"run.device={device}"])
    return _Run(recipe_from_dict(raw), Console(quiet=True), StopRequests())


def _steps_under_watch(run: _Run, steps: int = 2) -> None:
    batches = run.loader.epoch(0)
    run._step(*next(batches))  # warm-up: lazy initialisation (cuDNN plans, queues) may sync once
    run.method.step_end(0.1)
    loss_sum = torch.zeros((), device=run.device)
    with no_host_sync(run.device):
        for i in range(steps):
            loss = run._step(*next(batches))
            loss_sum += loss.detach()  # what the training loop keeps on the device between logging intervals
            run.method.step_end(0.2 + 0.1 * i)


@pytest.mark.parametrize("method", list_methods())
def test_training_step_has_no_host_sync(method: str) -> None:
    _steps_under_watch(_run(method, "cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", list_methods())
def test_training_step_has_no_host_sync_on_cuda(method: str) -> None:
    _steps_under_watch(_run(method, "cuda"))


def test_the_watch_catches_a_sync() -> None:
    with pytest.raises(AssertionError, match="waits for the device"), no_host_sync(torch.device("cpu")):
        bool(torch.ones(3).sum() > 0)


def test_the_watch_catches_a_boolean_mask() -> None:
    x = torch.randn(4, 4)
    with pytest.raises(AssertionError, match="waits for the device"), no_host_sync(torch.device("cpu")):
        x[~torch.eye(4, dtype=torch.bool)]
    with no_host_sync(torch.device("cpu")):
        x[torch.arange(4), torch.arange(4)]  # integer indices: sizes known without the device
