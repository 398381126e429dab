"""The decode-once cache: one uint8 array per split under `$ZOO_DATA/decoded/`, memory-mapped on every later run.

A cache folder is keyed by the dataset, the resolved source folder and the stored size, so the second run opens it
without listing or decoding a single file. Each split is `<split>.images.npy` (N, 3, S, S), `<split>.labels.npy`
(N,) int64 and `<split>.json` (class names, counts); the JSON is written last, so a split without it is incomplete
and is rebuilt. After changing the source files, delete the cache folder (its path is in the log) to re-decode.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.catalog import cache_root
from zoo.data.dataset import ImageDataset
from zoo.data.decode import decode_into
from zoo.errors import DataError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CachedSplit:
    """Where one split of one source at one size lives in the cache."""

    folder: Path
    split: str

    def path(self, suffix: str) -> Path:
        return self.folder / f"{self.split}.{suffix}"

    @property
    def complete(self) -> bool:
        return self.path("json").is_file()


def cached_split(dataset: str, source: Path, size: int, split: str) -> CachedSplit:
    """The cache entry of `split` of `dataset` read from `source` and stored at `size` px."""
    key = hashlib.sha1(f"{source.resolve()}|{size}|{FORMAT_VERSION}".encode()).hexdigest()[:12]
    return CachedSplit(cache_root() / "decoded" / f"{dataset}-{size}px-{key}", split)


def open_images(path: Path) -> torch.Tensor:
    """A cached uint8 array as a tensor backed by the memory map (copy-on-write: the file is never modified)."""
    return torch.from_numpy(np.load(path, mmap_mode="c"))


def load_split(entry: CachedSplit, name: str, normalize: str) -> ImageDataset:
    """The cached split as an `ImageDataset` whose images stay memory-mapped."""
    meta = json.loads(entry.path("json").read_text())
    labels = torch.from_numpy(np.load(entry.path("labels.npy")))
    images = open_images(entry.path("images.npy"))
    return ImageDataset(name, images, labels, meta["num_classes"], meta["class_names"], normalize)


def write_split(
    entry: CachedSplit,
    shape: tuple[int, ...],
    labels: np.ndarray,
    fill: Callable[[np.ndarray], np.ndarray],
    meta: dict[str, Any],
) -> None:
    """Write one split: `fill(images)` writes the (N, ...) uint8 array in place and returns a keep mask (N,) bool.

    Rows the mask drops (skipped corrupt images) are removed before the files are renamed into place.
    """
    entry.folder.mkdir(parents=True, exist_ok=True)
    tmp = entry.path(f"images.{os.getpid()}.tmp.npy")
    images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
    keep = fill(images)
    if not keep.all():
        compact = entry.path(f"images.{os.getpid()}.compact.npy")
        out = np.lib.format.open_memmap(compact, mode="w+", dtype=np.uint8, shape=(int(keep.sum()), *shape[1:]))
        rows = np.flatnonzero(keep)
        for start in range(0, len(rows), 1024):
            out[start : start + 1024] = images[rows[start : start + 1024]]
        out.flush()
        del images, out
        os.replace(compact, tmp)
        labels = labels[keep]
    else:
        images.flush()
        del images
    np.save(entry.path("labels.npy"), labels.astype(np.int64))
    os.replace(tmp, entry.path("images.npy"))
    meta = {**meta, "count": len(labels), "skipped": int((~keep).sum()), "format": FORMAT_VERSION}
    entry.path("json").write_text(json.dumps(meta) + "\n")


Listing = Callable[[], tuple[list[Path], np.ndarray, list[str]]]  # -> (files, labels, class names)


def decoded_dataset(
    name: str,
    source: Path,
    split: str,
    size: int,
    listing: Listing,
    *,
    normalize: str,
    skip_corrupt: bool,
) -> ImageDataset:
    """Split `split` of image files under `source` at `size` px: from the cache, or listed, decoded and cached."""
    entry = cached_split(name, source, size, split)
    if not entry.complete:
        files, labels, class_names = listing()
        if not files:
            raise DataError(f"dataset {name!r} ({split} split): no JPEG or PNG files found under {source}")
        write_split(
            entry,
            (len(files), 3, size, size),
            labels,
            lambda out: decode_into(files, out, skip_corrupt=skip_corrupt, what=f"{name} {split}"),
            {"class_names": class_names, "num_classes": len(class_names), "source": str(source), "size": size},
        )
    return load_split(entry, name, normalize)
