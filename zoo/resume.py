"""What `zoo train --resume RUN_DIR --set ...` may change, and which checkpoints belong to a run.

The rule: a resumed run keeps everything that shapes its model, its loss or its data, so its checkpoint stays
meaningful; it may run longer (`schedule.epochs`: the cosine schedule is rebuilt for the new length and continues
from the current step), log, evaluate and keep checkpoints differently, or move to another device
and change how the step runs (precision, memory format, compilation). The recipe
actually resumed is written back to the run's recipe.toml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.checkpoint import CheckpointError, copy_checkpoint, load_latest_checkpoint
from zoo.distributed import check_world_size
from zoo.errors import ZooError
from zoo.recipes import Recipe, dump_recipe, load_recipe
from zoo.run_folder import write_text_atomic
from zoo.run_record import TrainState

RESUMABLE = (
    "schedule.epochs", "schedule.log_every", "run.device", "run.keep_checkpoints",
    "run.precision", "run.channels_last", "run.compile",  # how the step runs, not what it computes
    "run.tensorboard",
    "eval.*",
)  # fmt: skip
# What identifies the run a checkpoint was written by: a checkpoint of other settings cannot continue this run.
IDENTITY = ("method", "backbone", "data", "augment", "run.seed")


def resume_recipe(run_dir: Path, overrides: list[str] | tuple[str, ...]) -> Recipe:
    """The run folder's recipe with `overrides` applied; overrides outside `RESUMABLE` are a user error."""
    path = run_dir / "recipe.toml"
    if not path.is_file():
        raise ZooError(f"{str(run_dir)!r} is not a run folder: it has no recipe.toml")
    stored = load_recipe(path)
    if not overrides:
        return stored
    recipe = load_recipe(path, overrides)
    before, after = _flat(stored), _flat(recipe)
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key) and not _resumable(key):
            raise ZooError(
                f"--resume cannot change {key} ({before.get(key)!r} -> {after.get(key)!r}): it changes the model, "
                f"its loss or its data; start a new run instead. On resume only {', '.join(RESUMABLE)} can change"
            )
    return recipe


def _resumable(key: str) -> bool:
    return any(key == rule or (rule.endswith(".*") and key.startswith(rule[:-1])) for rule in RESUMABLE)


def _flat(recipe: Recipe) -> dict[str, Any]:
    return {f"{sec}.{k}": v for sec, values in recipe.to_dict().items() for k, v in values.items()}


def run_identity(recipe: Recipe) -> dict[str, Any]:
    """The settings a checkpoint records, so that it is refused by a run it does not belong to."""
    flat = _flat(recipe)
    return {k: v for k, v in sorted(flat.items()) if any(k == i or k.startswith(i + ".") for i in IDENTITY)}


def check_identity(checkpoint: dict[str, Any], recipe: Recipe, path: Path) -> None:
    """A user error if `checkpoint` (from `path`) was written by a run of other settings than `recipe`."""
    recorded = checkpoint.get("identity")
    if recorded is None:  # checkpoints from before identities were recorded
        return
    ours = run_identity(recipe)
    differing = [k for k in sorted(recorded.keys() | ours.keys()) if recorded.get(k) != ours.get(k)]
    if differing:
        k = differing[0]
        raise ZooError(
            f"checkpoint {path} belongs to another run ({k} = {recorded.get(k)!r} there, {ours.get(k)!r} in this "
            f"run's recipe.toml); resume the run folder it came from"
        )


def restore(run: Any) -> None:
    """Load the run folder's latest good checkpoint into `run` (a `zoo.train._Run`), check it belongs to this run
    and world size, extend the schedule if asked, and write back the recipe resumed and the metrics it recorded."""
    previous = run.checkpoint_path.with_name("previous.pt")
    if not run.checkpoint_path.is_file() and not previous.is_file():
        raise ZooError(f"run folder {str(run.run_dir)!r} has no checkpoint to resume from")
    log = lambda line: run.console.print(line, highlight=False, soft_wrap=True)  # noqa: E731 (one line, unwrapped)
    ckpt = load_latest_checkpoint(run.checkpoint_path, run.device, log)
    check_identity(ckpt, run.recipe, run.checkpoint_path)
    check_world_size(ckpt["state"].get("world_size", 1), run.world, run.run_dir)
    try:
        run.method.load_state_dict(ckpt["method"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        run.scheduler.load_state_dict(ckpt["scheduler"])
        if run.probe is not None:
            run.probe.load_state_dict(ckpt["online_probe"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {run.checkpoint_path} does not fit this run's model: {first}") from None
    run.state = TrainState(**ckpt["state"])
    _extend_if_longer(run)
    if run.world.is_main:
        write_text_atomic(run.run_dir / "recipe.toml", dump_recipe(run.recipe))  # the recipe actually resumed
        # the checkpoint's history is the record: epochs logged after it was saved are dropped, none twice
        history = "".join(json.dumps(h) + "\n" for h in run.state.history)
        write_text_atomic(run.run_dir / "metrics.jsonl", history)


def _extend_if_longer(run: Any) -> None:
    """`--set schedule.epochs=N` on resume: more epochs on a rebuilt schedule; the finished run's end is kept."""
    s, epochs = run.state, run.recipe.schedule.epochs
    if epochs < s.epoch:
        raise ZooError(f"schedule.epochs={epochs} is below the {s.epoch} epochs this run has done already")
    summary = run.run_dir / "summary.json"
    finished = run.world.from_main(summary.is_file)  # rank 0 reads, and alone removes it below
    if epochs > s.epoch and finished:  # finished before: it is no longer, and its end is kept
        if run.world.is_main:
            copy_checkpoint(run.checkpoint_path, run.checkpoint_path.with_name(f"epoch-{s.epoch}.pt"))
            summary.unlink()
        s.linear = None
    # the optimiser holds the rate of the schedule it was saved with until the scheduler's next step
    sched = run.scheduler
    for group, base, factor in zip(run.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas, strict=True):
        group["lr"] = base * factor(sched.last_epoch)
