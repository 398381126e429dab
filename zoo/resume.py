"""What `zoo train --resume RUN_DIR --set ...` may change, and which checkpoints belong to a run.

The rule: a resumed run keeps everything that shapes its model, its loss or its data, so its checkpoint stays
meaningful; it may run longer (`schedule.epochs`: the cosine schedule is rebuilt for the new length and continues
from the current step), log, evaluate and keep checkpoints differently, or move to another device
and change how the step runs (precision, memory format, compilation). The recipe
actually resumed is written back to the run's recipe.toml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.recipes import Recipe, load_recipe

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
