"""A run folder at one of its checkpoints, rebuilt for analysis: the method, its weights and a fixed batch of views."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from zoo.augment import create_augment
from zoo.checkpoint import load_checkpoint
from zoo.data import create_dataset
from zoo.device import pick_device
from zoo.errors import ZooError
from zoo.methods import Method, create_method
from zoo.recipes import Recipe, load_recipe

_EPOCH = re.compile(r"epoch-(\d+)")


@dataclass
class Checkpoint:
    """One checkpoint of a run: its label ("last", "epoch-10"), file and completed epochs."""

    label: str
    path: Path
    epoch: int


def open_recipe(run_dir: str | Path) -> Recipe:
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.toml").is_file():
        raise ZooError(f"{str(run_dir)!r} is not a run folder: it has no recipe.toml")
    return load_recipe(run_dir / "recipe.toml")


def find_checkpoints(run_dir: str | Path, which: str = "last") -> list[Checkpoint]:
    """ "last", "epoch-N" or "all" (every kept epoch-N.pt, then last.pt unless it repeats the final kept epoch)."""
    folder = Path(run_dir) / "checkpoints"
    kept = sorted(
        ((int(m.group(1)), p) for p in folder.glob("epoch-*.pt") if (m := _EPOCH.fullmatch(p.stem))),
    )
    labels = ["last", "all", *(f"epoch-{n}" for n, _ in kept)]
    if which == "last" or which == "all":
        last = folder / "last.pt"
        if not last.is_file():
            raise ZooError(f"run folder {str(run_dir)!r} has no checkpoint (checkpoints/last.pt)")
        found = [Checkpoint("last", last, _epoch_of(last))]
        if which == "all":
            found = [Checkpoint(f"epoch-{n}", p, n) for n, p in kept] + [c for c in found if c.epoch not in dict(kept)]
        return found
    match = _EPOCH.fullmatch(which)
    path = folder / f"{which}.pt"
    if match is None or not path.is_file():
        raise ZooError(f"run folder {str(run_dir)!r} has no checkpoint {which!r}: valid: {', '.join(labels)}")
    return [Checkpoint(which, path, int(match.group(1)))]


def _epoch_of(path: Path) -> int:
    return int(load_checkpoint(path)["state"]["epoch"])


def build_method(recipe: Recipe, device: torch.device) -> Method:
    """The recipe's method, as the trainer builds it (weights come from a checkpoint)."""
    b = recipe.backbone
    return create_method(
        recipe.method.name, backbone=b.name, image_size=b.image_size, small_stem=b.small_stem, **recipe.method.hparams
    ).to(device)


def load_weights(method: Method, checkpoint: Checkpoint, device: torch.device) -> None:
    method.load_state_dict(load_checkpoint(checkpoint.path, device)["method"])


def fixed_batch(
    recipe: Recipe, method: Method, size: int, seed: int, device: torch.device
) -> tuple[list[Tensor], Tensor]:
    """`size` training images drawn with `seed`, augmented as in training with the same seed: the same every time."""
    d = recipe.data
    seed_data = recipe.run.seed
    data = create_dataset(d.dataset, split="train", root=d.root, download=False, fraction=d.fraction, seed=seed_data)
    if not 2 <= size <= len(data.images):
        raise ZooError(f"batch size {size} must be between 2 and the {len(data.images)} training images of the run")
    pick = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(seed))[:size]
    sizes = method.view_sizes()
    augment = create_augment(
        recipe.augment.preset or method.default_augment,
        image_size=recipe.backbone.image_size,
        n_views=method.n_views,
        n_local=method.n_local_views,
        local_size=sizes[-1] if method.n_local_views else None,
        normalize=data.normalize,
        **recipe.augment.overrides,
    )
    torch.manual_seed(seed)
    views = augment(data.images[pick].to(device))
    return list(views), data.labels[pick].to(device)


def analysis_device(recipe: Recipe) -> torch.device:
    return pick_device(recipe.run.device)
