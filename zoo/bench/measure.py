"""`zoo bench RECIPE`: images/s, peak memory and a phase breakdown of the recipe's real training step, and the same
model, loss and batch fed by a DataLoader pipeline (the peer) in the same process.

The step is the trainer's own (`_Run._step`, built from the recipe exactly as `zoo train` builds it, without a run
folder). The device is synchronised only here, around each phase; training itself never waits on it. On a CUDA
device phase timing would slow the step down, so images/s come from a separate pass without synchronisation; on the
CPU, where synchronising is free, one pass gives both.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from itertools import count
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from zoo.bench.peer import peer_loader
from zoo.data import DeviceLoader, ImageDataset, TrainingData
from zoo.device import pick_device
from zoo.errors import DataError, ZooError
from zoo.progress import work_progress
from zoo.provenance import versions
from zoo.recipes import Recipe, load_recipe
from zoo.speed import modules_with_parameters
from zoo.stop import StopRequests

PHASES = ("data", "augment", "forward", "loss", "forward + loss", "backward", "optimizer")


@dataclass
class BenchResult:
    """What `zoo bench` measured; `to_dict()` is its JSON."""

    recipe: str
    method: str
    backbone: str
    image_size: int
    batch_size: int
    views: int
    device: str
    step_settings: str
    data: str  # the recipe's dataset, or "synthetic" when its files are not on this machine
    steps: int
    images_per_s: float
    phase_ms: dict[str, float]
    peak_memory_mb: float
    peak_memory_kind: str
    peer_workers: int | None = None
    peer_images_per_s: float | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def views_per_s(self) -> float:
        return self.images_per_s * self.views

    @property
    def peer_ratio(self) -> float | None:
        return None if not self.peer_images_per_s else self.images_per_s / self.peer_images_per_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "views_per_s": self.views_per_s, "peer_ratio": self.peer_ratio}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SyncedPhases:
    """A phase timer that synchronises the device around each phase; with `split_forward`, time spent inside the
    method's modules (backbone, heads) is booked as "forward" and the rest of "forward + loss" as "loss"."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)
        self._handles: list[Any] = []
        self._entered: list[float] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        start = time.perf_counter()
        yield
        synchronize(self.device)
        self.seconds[name] += time.perf_counter() - start

    def split_forward(self, model: nn.Module) -> None:
        for module in modules_with_parameters(model):  # the modules `run.compile` would compile
            self._handles.append(module.register_forward_pre_hook(self._enter))
            self._handles.append(module.register_forward_hook(self._leave))

    def _enter(self, module: nn.Module, args: Any) -> None:
        synchronize(self.device)
        self._entered.append(time.perf_counter())

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        synchronize(self.device)
        self.seconds["forward"] += time.perf_counter() - self._entered.pop()

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def per_step_ms(self, steps: int) -> dict[str, float]:
        out = {k: v * 1e3 / steps for k, v in self.seconds.items()}
        if "forward" in out:
            out["loss"] = out.pop("forward + loss") - out["forward"]
        return {k: out[k] for k in PHASES if k in out}


def bench(
    recipe: Recipe | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    steps: int = 20,
    warmup: int = 2,
    peer: bool = True,
    workers: int | None = None,
    console: Console | None = None,
    separate_pass: bool | None = None,
) -> BenchResult:
    """Measure the recipe's training step (and the DataLoader peer unless `peer=False`); see the module docstring.
    `separate_pass` (default: on CUDA devices) takes images/s from a pass without synchronisation."""
    from zoo.train import _Run  # the trainer's own step, not a copy of it

    if steps < 1 or warmup < 0:
        raise ZooError(f"bench needs steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    console = console or Console(stderr=True)
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    data_name = recipe.data.dataset
    try:
        run = _Run(recipe, console, StopRequests())
    except DataError as err:
        console.print(f"data: {err}", highlight=False)
        console.print("bench: measuring on random images of the same shape instead (speed does not depend on them)")
        run = _Run(recipe, console, StopRequests(), data=_synthetic(recipe, steps + warmup))
        data_name = "synthetic"
    device, batch = run.device, recipe.schedule.batch_size
    views = run.method.n_views + run.method.n_local_views
    batches = _endless(run)
    with work_progress(console, "warm-up", warmup) as advance:
        for _ in range(warmup):
            run._step(*next(batches))
            advance()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if separate_pass is None:
        separate_pass = device.type == "cuda"
    if separate_pass:  # before the phase hooks exist: they synchronise
        unsynced_s = _timed(run, batches, steps, console, "step (no sync)")
    phases = SyncedPhases(device)
    if not run.compiled.active:  # hooks inside compiled modules would break their graphs
        phases.split_forward(run.method)
    phased_s = _timed(run, batches, steps, console, "step (phases)", phases)
    phases.remove_hooks()
    images_per_s = steps * batch / (unsynced_s if separate_pass else phased_s)
    memory_mb, memory_kind = _peak_memory(device)
    result = BenchResult(
        recipe=recipe.source, method=recipe.method.name, backbone=recipe.backbone.name,
        image_size=recipe.backbone.image_size, batch_size=batch, views=views,
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        step_settings=run.speed.describe(), data=data_name, steps=steps, images_per_s=images_per_s,
        phase_ms=phases.per_step_ms(steps), peak_memory_mb=memory_mb, peak_memory_kind=memory_kind,
        versions=_versions(),
    )  # fmt: skip
    if peer:
        result.peer_workers = workers if workers is not None else default_workers()
        result.peer_images_per_s = _peer(run, result.peer_workers, steps, warmup, console)
    return result


def default_workers() -> int:
    """As many DataLoader workers as cores, at most 8 (solo-learn's CIFAR scripts use 4 per GPU)."""
    return max(1, min(8, len(_affinity())))


def _affinity() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def _endless(run: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for epoch in count():
        yield from run.loader.epoch(epoch)


def _timed(run: Any, batches: Iterator, steps: int, console: Console, what: str, phases: Any = None) -> float:
    """Seconds for `steps` training steps (data included); `phases` times their parts."""
    timer = phases or (lambda name: contextlib.nullcontext())
    synchronize(run.device)
    start = time.perf_counter()
    with work_progress(console, what, steps) as advance:
        for i in range(steps):
            with timer("data"):
                images, labels = next(batches)
            run._step(images, labels, timer)
            with timer("optimizer"):
                run.method.step_end(i / steps)  # momentum targets, as the training loop moves them
            advance()
    synchronize(run.device)
    return time.perf_counter() - start


def _peer(run: Any, workers: int, steps: int, warmup: int, console: Console) -> float:
    """Images/s of the same model, loss and batch fed by the DataLoader pipeline."""
    cuda = run.device.type == "cuda"
    images, labels = run.train_set.images, run.train_set.labels
    loader = peer_loader(
        images, labels, run.augment, batch_size=run.recipe.schedule.batch_size, workers=workers, pin_memory=cuda
    )
    needed = steps + max(warmup, 1)
    batches = (b for _ in count() for b in loader)
    with work_progress(console, f"peer: DataLoader, {workers} workers", needed) as advance:
        for i in range(needed):
            if i == max(warmup, 1):  # the workers' start-up is not counted
                synchronize(run.device)
                start = time.perf_counter()
            views, batch_labels = next(batches)
            views = [v.to(run.device, non_blocking=cuda) for v in views]
            run._update(views, batch_labels.to(run.device, non_blocking=cuda))
            run.method.step_end(i / needed)
            advance()
    synchronize(run.device)
    seconds = time.perf_counter() - start
    del batches, loader  # stops the workers
    return steps * run.recipe.schedule.batch_size / seconds


def _synthetic(recipe: Recipe, steps: int) -> TrainingData:
    """Random uint8 images at the recipe's stored size, enough for the benchmark's batches, and no evaluation."""
    size = recipe.data.store_size or recipe.backbone.image_size
    n = (steps + 1) * recipe.schedule.batch_size
    generator = torch.Generator().manual_seed(recipe.run.seed)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    dataset = ImageDataset("synthetic", images, labels, 10, [str(i) for i in range(10)], "imagenet")
    loader = DeviceLoader(
        dataset, batch_size=recipe.schedule.batch_size, device=pick_device(recipe.run.device), seed=recipe.run.seed
    )
    return TrainingData(dataset, loader, None, 10, "no evaluation on synthetic images")


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "CUDA peak allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU {line.split(':', 1)[1].strip()} ({len(_affinity())} cores)"
    return f"CPU ({len(_affinity())} cores)"


def _versions() -> dict[str, str]:
    """The run summaries' versions (`zoo.provenance`), and torchvision's, which the peer pipeline runs on."""
    return {**versions(), "torchvision": metadata.version("torchvision")}


def bench_table(result: BenchResult) -> Table:
    """The result as a rich table: throughput, memory, the phases per step and the peer."""
    r = result
    table = Table(title=f"zoo bench {r.recipe}: {r.method}, {r.backbone} {r.image_size} px, batch {r.batch_size}")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("device", r.device),
        ("step", f"{r.step_settings}; data {r.data}; {r.steps} steps"),
        ("images/s (views/s)", f"{r.images_per_s:,.1f} ({r.views_per_s:,.1f})"),
        (r.peak_memory_kind, f"{r.peak_memory_mb:,.0f} MiB"),
    ]
    total = sum(r.phase_ms.values())
    rows += [(f"  {name}", f"{ms:,.1f} ms  {100 * ms / total:4.1f} %") for name, ms in r.phase_ms.items()]
    if r.peer_images_per_s is not None:
        peer = f"peer: DataLoader + torchvision v2, {r.peer_workers} workers"
        rows.append((peer, f"{r.peer_images_per_s:,.1f} img/s"))
        rows.append(("zoo / peer", f"{r.peer_ratio:.2f}x"))
    for what, value in rows:
        table.add_row(what, value)
    return table
