"""STL-10 (Coates, Ng & Lee 2011) from the official `stl10_binary/` files, converted once into the cache.

Each `*_X.bin` holds uint8 images of 3x96x96 stored column-major (every channel plane transposed: the byte at
(c, x, y) is pixel row y, column x); `*_y.bin` holds one uint8 label 1..10 per image. The SSL protocol pre-trains on
train + unlabeled (5k + 100k) and evaluates on train -> test (5k -> 8k), e.g. Ermolov et al. 2021 (W-MSE) and MIO v2/v3.
The cache keeps `train+unlabeled` as one array whose first 5000 rows are the train split, so both are views of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.cache import CachedSplit, cached_split, load_split, write_split
from zoo.data.catalog import Protocol, cache_root, missing, register_dataset
from zoo.data.dataset import UNLABELED, ImageDataset
from zoo.errors import DataError

FOLDER = "stl10_binary"
SHAPE = (3, 96, 96)
CLASS_NAMES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
FILES = {
    "train": ("train_X.bin", "train_y.bin"),
    "test": ("test_X.bin", "test_y.bin"),
    "unlabeled": ("unlabeled_X.bin",),
}
SPLITS = ("train", "test", "unlabeled", "train+unlabeled")
LAYOUT = f"{FOLDER}/{{train_X,train_y,test_X,test_y,unlabeled_X}}.bin"
_CHUNK = 2048  # images converted at a time


def _parts(split: str) -> list[str]:
    return ["train", "unlabeled"] if split in ("unlabeled", "train+unlabeled") else [split]


def _candidates(root: Path | None) -> list[Path]:
    base = root if root is not None else cache_root()
    return [base / FOLDER, base]


def _locate(root: Path | None) -> Path | None:
    return next((c for c in _candidates(root) if (c / "test_X.bin").is_file()), None)


def read_images(path: Path) -> np.ndarray:
    """A `*_X.bin` file as a read-only (N, 3, 96, 96) view in STL's column-major order (not yet transposed)."""
    size = path.stat().st_size
    if size % int(np.prod(SHAPE)):
        raise DataError(f"{path}: {size} bytes is not a whole number of 3x96x96 images; is it an STL-10 file?")
    return np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, *SHAPE)


def read_labels(path: Path, count: int) -> np.ndarray:
    """A `*_y.bin` file: labels 1..10 on disk -> 0..9."""
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if len(labels) != count:
        raise DataError(f"{path}: {len(labels)} labels for {count} images")
    if len(labels) and not (labels.min() >= 1 and labels.max() <= 10):
        raise DataError(f"{path}: labels must be 1..10, found {labels.min()}..{labels.max()}")
    return labels - 1


def _convert(folder: Path, entry: CachedSplit, parts: list[str]) -> None:
    sources = [read_images(folder / FILES[p][0]) for p in parts]
    labels = [
        read_labels(folder / FILES[p][1], len(s)) if p != "unlabeled" else np.full(len(s), UNLABELED)
        for p, s in zip(parts, sources, strict=True)
    ]

    def fill(out: np.ndarray) -> np.ndarray:
        row = 0
        for images in sources:
            for start in range(0, len(images), _CHUNK):
                chunk = images[start : start + _CHUNK]
                out[row : row + len(chunk)] = chunk.transpose(0, 1, 3, 2)  # column-major planes -> row-major
                row += len(chunk)
        return np.ones(len(out), dtype=bool)

    total = sum(len(s) for s in sources)
    meta = {"class_names": CLASS_NAMES, "num_classes": 10, "source": str(folder), "size": 96}
    write_split(entry, (total, *SHAPE), np.concatenate(labels), fill, meta)


def _load_split(folder: Path, split: str) -> ImageDataset:
    shared = split in ("train", "unlabeled") and (folder / FILES["unlabeled"][0]).is_file()
    cache_split = "train+unlabeled" if shared else split
    parts = _parts(cache_split)
    entry = cached_split("stl10", folder, 96, cache_split)
    if not entry.complete:
        _convert(folder, entry, parts)
    dataset = load_split(entry, "stl10", "stl10")
    if cache_split == split:
        return dataset
    labelled = int((dataset.labels != UNLABELED).sum())  # train rows come first
    rows = slice(0, labelled) if split == "train" else slice(labelled, None)
    return ImageDataset("stl10", dataset.images[rows], dataset.labels[rows], 10, list(CLASS_NAMES), "stl10")


def _check_layout(folder: Path, split: str) -> None:
    for part in _parts(split):
        for name in FILES[part]:
            if not (folder / name).is_file():
                raise DataError(f"dataset 'stl10': {folder / name} is missing; expected layout: {LAYOUT}")


@register_dataset(
    "stl10",
    "STL-10: 5k/8k labelled + 100k unlabeled 96x96 colour images, 10 classes (Coates et al. 2011)",
    size="96 px",
    classes=10,
    splits=SPLITS,
    protocol=Protocol(pretrain="train+unlabeled", fit="train", test="test"),
    locate=_locate,
)
def stl10(root: Path | None, split: str, download: bool) -> ImageDataset:
    """STL-10 from <root>/stl10_binary (or root itself being that folder); downloads with torchvision on request."""
    folder = _locate(root)
    if folder is None and download:
        base = root if root is not None else cache_root()
        _download(base)
        folder = base / FOLDER
    if folder is None:
        raise missing(
            "stl10",
            split,
            _candidates(root),
            f"set `download = true` in the recipe's [data] section, or extract stl10_binary.tar.gz there ({LAYOUT})",
        )
    _check_layout(folder, split)
    return _load_split(folder, split)


def _download(root: Path) -> None:
    from torchvision import datasets

    try:
        datasets.STL10(str(root), split="train+unlabeled", download=True)
    except (OSError, RuntimeError) as e:
        raise DataError(f"dataset 'stl10': download into {root} failed: {e}") from e
