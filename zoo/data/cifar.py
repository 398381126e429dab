"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the standard python-pickle layouts, read without torchvision."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.catalog import cache_root, missing, register_dataset
from zoo.data.dataset import ImageDataset
from zoo.errors import DataError

# The only globals a CIFAR pickle needs (numpy arrays, py2 byte strings); anything else is refused.
_SAFE_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict[bytes, Any]:
    """One CIFAR python-pickle file (a dict with bytes keys), loaded with only numpy globals allowed."""
    try:
        with open(path, "rb") as f:
            return _Unpickler(f, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise DataError(f"cannot read CIFAR file {path}: {e}") from e


def read_cifar(folder: Path, files: list[str], label_key: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from the given batch files of an extracted folder."""
    images, labels = [], []
    for name in files:
        batch = read_pickle(folder / name)
        try:
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            targets = np.asarray(batch[label_key], dtype=np.int64)
        except (KeyError, ValueError) as e:
            raise DataError(f"{folder / name} is not a CIFAR batch ({e!r})") from e
        if len(data) != len(targets):
            raise DataError(f"{folder / name}: {len(data)} images but {len(targets)} labels")
        images.append(torch.from_numpy(data))
        labels.append(torch.from_numpy(targets))
    return torch.cat(images), torch.cat(labels)


def _load(
    name: str,
    folder_name: str,
    files: dict[str, list[str]],
    meta: tuple[str, bytes, bytes],
    root: Path | None,
    split: str,
    download: bool,
) -> ImageDataset:
    base = root if root is not None else cache_root()
    meta_file, names_key, label_key = meta
    candidates = [base / folder_name, base]
    folder = _find(candidates, [*files[split], meta_file])
    if folder is None and download:
        _download(name, base, split)
        folder = base / folder_name
    if folder is None:
        raise missing(
            name,
            split,
            candidates,
            f"set `download = true` in the recipe's [data] section, or put the extracted {folder_name} "
            f"folder in {base}",
        )
    names = read_pickle(folder / meta_file).get(names_key)
    if names is None:
        raise DataError(f"{folder / meta_file} lacks {names_key.decode()}; is it a {name} meta file?")
    class_names = [n.decode() for n in names]
    images, labels = read_cifar(folder, files[split], label_key)
    return ImageDataset(name, images, labels, len(class_names), class_names, normalize=name)


def _find(candidates: list[Path], needed: list[str]) -> Path | None:
    return next((c for c in candidates if all((c / f).is_file() for f in needed)), None)


def _locate(folder_name: str, needed: list[str]) -> Callable[[Path | None], Path | None]:
    def locate(root: Path | None) -> Path | None:
        base = root if root is not None else cache_root()
        return _find([base / folder_name, base], needed)

    return locate


def _download(name: str, root: Path, split: str) -> None:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        cls(str(root), train=split == "train", download=True)
    except (OSError, RuntimeError) as e:
        raise DataError(f"dataset {name!r}: download into {root} failed: {e}") from e


@register_dataset(
    "cifar10",
    "CIFAR-10: 50k/10k 32x32 colour images, 10 classes (Krizhevsky 2009)",
    size="32 px",
    classes=10,
    locate=_locate("cifar-10-batches-py", ["test_batch", "batches.meta"]),
)
def cifar10(root: Path | None, split: str, download: bool) -> ImageDataset:
    """CIFAR-10 from <root>/cifar-10-batches-py (or root itself being that folder)."""
    files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    meta = ("batches.meta", b"label_names", b"labels")
    return _load("cifar10", "cifar-10-batches-py", files, meta, root, split, download)


@register_dataset(
    "cifar100",
    "CIFAR-100: 50k/10k 32x32 colour images, 100 fine classes (Krizhevsky 2009)",
    size="32 px",
    classes=100,
    locate=_locate("cifar-100-python", ["test", "meta"]),
)
def cifar100(root: Path | None, split: str, download: bool) -> ImageDataset:
    """CIFAR-100 with its 100 fine labels from <root>/cifar-100-python (or root itself being that folder)."""
    files = {"train": ["train"], "test": ["test"]}
    meta = ("meta", b"fine_label_names", b"fine_labels")
    return _load("cifar100", "cifar-100-python", files, meta, root, split, download)
