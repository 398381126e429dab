"""The dataset registry and the public entry points: `create_dataset`, `list_datasets`, `describe_dataset`.

Each entry states its splits and its evaluation protocol (which split pre-trains, which one the kNN / linear probe
fits on and which one it reports on), so the trainer never knows a dataset's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.data.dataset import ImageDataset
from zoo.errors import DataError, ZooError
from zoo.registry import Registry, unknown

SPLITS = ("train", "test")
Loader = Callable[..., ImageDataset]  # (root, split, download, **options) -> ImageDataset
Locate = Callable[[Path | None], Path | None]  # root -> the folder holding the data, or None


@dataclass(frozen=True)
class Protocol:
    """Which split pre-trains, which one evaluation fits on (kNN bank, linear probe) and which one it reports on."""

    pretrain: str = "train"
    fit: str = "train"
    test: str = "test"


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader `(root, split, download, **options) -> ImageDataset` and its facts."""

    name: str
    load: Loader
    description: str
    size: str  # stored image size, e.g. "32 px" or "store_size (256 px)"
    classes: int | None  # None: read from the data
    splits: tuple[str, ...] = SPLITS
    protocol: Protocol = Protocol()
    options: tuple[str, ...] = ()  # keyword options the loader takes beyond (root, split, download)
    locate: Locate | None = None

    def __call__(self, root: Path | None, split: str, download: bool, **options: Any) -> ImageDataset:
        return self.load(root, split, download, **options)


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(
    name: str,
    description: str,
    *,
    size: str,
    classes: int | None,
    splits: tuple[str, ...] = SPLITS,
    protocol: Protocol = Protocol(),
    options: tuple[str, ...] = (),
    locate: Locate | None = None,
) -> Callable[[Loader], Loader]:
    """Decorator registering a loader function under `name` with its facts (see `DatasetEntry`)."""

    def decorator(load: Loader) -> Loader:
        DATASETS.register(name)(DatasetEntry(name, load, description, size, classes, splits, protocol, options, locate))
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
    **options: Any,
) -> ImageDataset:
    """Load dataset `name` (see `list_datasets()`), optionally a stratified `fraction` of it chosen by `seed`.

    `options` are the dataset's own keywords (`DatasetEntry.options`, e.g. `store_size`, `skip_corrupt`).
    """
    entry = DATASETS.get(name)
    if split not in entry.splits:
        raise unknown("split", split, entry.splits)
    for key in options:
        if key not in entry.options:
            takes = ", ".join(entry.options) or "none"
            raise ZooError(f"dataset {name!r} takes no option {key!r} (its options: {takes})")
    dataset = entry(Path(root).expanduser() if root is not None else None, split, download, **options)
    return dataset.subset(fraction, seed)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Registered dataset names, optionally filtered by an fnmatch pattern such as "cifar*"."""
    return DATASETS.list(pattern)


def describe_dataset(name: str) -> str:
    """The one-line description of dataset `name`."""
    return DATASETS.get(name).description


def locate_dataset(name: str, root: str | Path | None = None) -> Path | None:
    """The folder dataset `name` would be read from (`root`, else the cache and system folders), None if absent."""
    entry = DATASETS.get(name)
    return entry.locate(Path(root).expanduser() if root is not None else None) if entry.locate else None
