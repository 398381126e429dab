"""Data-parallel training (gloo, 2 CPU processes) takes the optimiser steps one process takes on the whole batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from rich.console import Console

from tests.distributed import run_on_ranks
from zoo.data import create_dataset
from zoo.data.loader import BatchPlan, DeviceLoader
from zoo.distributed import World, check_world_size, current_world, local_batch_size
from zoo.errors import ZooError
from zoo.recipes import Recipe, recipe_from_dict
from zoo.stop import StopRequests
from zoo.train import _Run

BATCH, STEPS = 8, 2
QUICKSTART = str(Path(__file__).resolve().parents[1] / "recipes" / "quickstart.toml")
HEADS = {"proj_hidden_dim": 64, "proj_output_dim": 32}
# small heads; the projectors keep their BatchNorms (the backbone's too), which sync_bn makes global
METHODS: dict[str, dict] = {
    "mi-binary": HEADS,
    "simclr": {**HEADS, "proj_batch_norm": True},
    "byol": {**HEADS, "pred_hidden_dim": 64},
    "barlow-twins": HEADS,
    "swav": {**HEADS, "num_prototypes": 20, "freeze_prototypes_steps": 1, "queue_size": 0},
}


def _recipe(method: str) -> Recipe:
    return recipe_from_dict(
        {
            # float32 and one memory format: the comparison is of data parallelism alone (a bf16 CPU would pick bf16,
            # and oneDNN's NHWC kernels sum in another order at batch 4 than at batch 8)
            "run": {"device": "cpu", "precision": "fp32", "channels_last": False},
            "method": {"name": method, **METHODS[method]},
            "backbone": {"name": "test_resnet", "image_size": 16, "small_stem": False},
            "data": {"dataset": "fashion-mnist-small", "fraction": 0.02},
            "schedule": {"batch_size": BATCH, "warmup_epochs": 0, "epochs": 1},
            "optim": {"name": "sgd", "lr": 0.3},
            "eval": {"online_linear": False, "linear_epochs": 0},
        }
    )


def _fixed_views(seed: int = 4) -> list[torch.Tensor]:
    """Views on which no activation lands within float32 rounding of a ReLU kink during the steps: there the sums in
    another order can flip one unit, a different (equally valid) subgradient (seed 3 does that once for SwAV)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(BATCH, 3, 16, 16, generator=g) for _ in range(2)]


def _train_steps(rank: int, world: int) -> dict[str, dict[str, torch.Tensor]]:
    """Each method's parameters after STEPS steps on this rank's shard of the fixed global batch of views."""
    torch.set_num_threads(1)  # two processes on a small CPU
    views, out = _fixed_views(), {}
    shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    for method in METHODS:
        run = _Run(_recipe(method), Console(quiet=True), StopRequests(), world=current_world())
        run.augment = lambda images: [v[shard] for v in views]  # the trainer's step on fixed views
        for step in range(STEPS):
            run._step(torch.zeros(0), torch.zeros(BATCH // world, dtype=torch.long))
            run.method.step_end((step + 1) / run.total_steps)
        out[method] = {k: p.detach().clone() for k, p in run.method.named_parameters()}
    return out


@pytest.fixture(scope="module")
def two_ranks() -> list[dict[str, dict[str, torch.Tensor]]]:
    return run_on_ranks(_train_steps, 2)


@pytest.mark.parametrize("method", list(METHODS))
def test_two_processes_take_the_one_process_steps(method: str, two_ranks: list) -> None:
    one = _train_steps(0, 1)[method]
    run = _Run(_recipe(method), Console(quiet=True), StopRequests())
    start = {k: p.detach() for k, p in run.method.named_parameters()}
    assert any(not torch.equal(one[k], start[k]) for k in one)  # the steps moved the parameters
    for rank, params in enumerate(two_ranks):
        for name, value in params[method].items():
            torch.testing.assert_close(value, one[name], rtol=1e-4, atol=1e-4, msg=f"{method} {name} rank {rank}")
    for name, value in two_ranks[0][method].items():  # momentum targets included: identical on every rank
        assert torch.equal(value, two_ranks[1][method][name]), name


def test_ranks_take_disjoint_shards_of_the_one_process_batch() -> None:
    data = create_dataset("fashion-mnist-small", split="train", fraction=0.02)
    whole = DeviceLoader(data, batch_size=8, device="cpu", seed=5)
    shards = [DeviceLoader(data, batch_size=8, device="cpu", seed=5, rank=r, world=2) for r in range(2)]
    for (images, labels), a, b in zip(whole.epoch(1), shards[0].epoch(1), shards[1].epoch(1), strict=True):
        assert torch.equal(images, torch.cat([a[0], b[0]])) and torch.equal(labels, torch.cat([a[1], b[1]]))
    assert len(shards[0]) == len(whole)


def test_global_batch_must_split_evenly_and_resume_keeps_the_world_size(tmp_path: Path) -> None:
    assert local_batch_size(256, World(0, 4)) == 64
    with pytest.raises(ZooError, match="schedule.batch_size 250 .* 4 processes: use a multiple of 4, e.g. 248"):
        local_batch_size(250, World(0, 4))
    check_world_size(2, World(1, 2), tmp_path)
    with pytest.raises(ZooError, match="trained on 2 process\\(es\\) and this job has 1"):
        check_world_size(2, World(), tmp_path)
    with pytest.raises(ValueError, match="does not split evenly over 2 ranks"):
        BatchPlan(create_dataset("fashion-mnist-small", split="train", fraction=0.02), batch_size=5, world=2)


def _worker_pid(parent: int, rank: int) -> int | None:
    """The pid of the torchrun worker of `rank` started under `parent` (read from /proc), if it is running."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == parent and f"RANK={rank}".encode() in environ:
            return int(stat.parent.name)
    return None


def test_torchrun_trains_one_run_and_an_elastic_restart_resumes_a_killed_rank(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sets = [
        "backbone.name=test_resnet", "backbone.image_size=16", "data.fraction=0.04", "schedule.epochs=4",
        "schedule.batch_size=50", "schedule.warmup_epochs=0", "run.device='cpu'", "eval.knn_k=20",
        "eval.linear_epochs=0", "method.proj_hidden_dim=64", "method.proj_output_dim=32",
    ]  # fmt: skip
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=1",
        "-m", "zoo", "train", QUICKSTART, "--run-dir", str(run_dir), *(a for s in sets for a in ("--set", s)),
    ]  # fmt: skip
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "checkpoints" / "last.pt").is_file():  # the first epoch is saved: kill rank 1
            assert job.poll() is None and time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        victim = _worker_pid(job.pid, 1)  # torchrun's agent is the job's process, the workers its children
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        output, _ = job.communicate(timeout=240)
    finally:
        job.kill()
    assert job.returncode == 0, output[-3000:]
    assert "resumed" in output, output  # the restarted workers continued from the checkpoint
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["complete"] and summary["steps"] == 4 * 8  # 400 images, 50 a step
