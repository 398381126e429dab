"""The dataset registry and the public entry points: `create_dataset`, `list_datasets`, `describe_dataset`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoo.data.dataset import ImageDataset
from zoo.errors import DataError
from zoo.registry import Registry, unknown

SPLITS = ("train", "test")
Loader = Callable[[Path | None, str, bool], ImageDataset]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader `(root, split, download) -> ImageDataset` and a one-line description."""

    name: str
    load: Loader
    description: str

    def __call__(self, root: Path | None, split: str, download: bool) -> ImageDataset:
        return self.load(root, split, download)


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, description: str) -> Callable[[Loader], Loader]:
    """Decorator registering a loader function under `name`."""

    def decorator(load: Loader) -> Loader:
        DATASETS.register(name)(DatasetEntry(name, load, description))
        return load

    return decorator


def cache_root() -> Path:
    """Where datasets are looked for and downloaded when a recipe gives no root: `$ZOO_DATA` or ~/.cache/zoo."""
    return Path(os.environ.get("ZOO_DATA") or Path.home() / ".cache" / "zoo").expanduser()


def missing(name: str, split: str, looked: list[Path], provide: str) -> DataError:
    """The one-line error for data that is nowhere to be found."""
    where = ", ".join(str(p) for p in dict.fromkeys(looked))
    return DataError(f"dataset {name!r} ({split} split) not found; looked in: {where}; to provide it, {provide}")


def create_dataset(
    name: str,
    *,
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
    fraction: float = 1.0,
    seed: int = 0,
) -> ImageDataset:
    """Load dataset `name` (see `list_datasets()`), optionally a stratified `fraction` of it chosen by `seed`."""
    entry = DATASETS.get(name)
    if split not in SPLITS:
        raise unknown("split", split, SPLITS)
    dataset = entry(Path(root).expanduser() if root is not None else None, split, download)
    return dataset.subset(fraction, seed)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Registered dataset names, optionally filtered by an fnmatch pattern such as "cifar*"."""
    return DATASETS.list(pattern)


def describe_dataset(name: str) -> str:
    """The one-line description of dataset `name`."""
    return DATASETS.get(name).description
