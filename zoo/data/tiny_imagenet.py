"""Tiny-ImageNet (Le & Yang 2015; CS231n): 200 classes of 64 px images, read from the official zip's layout.

`tiny-imagenet-200/` holds `wnids.txt`, `train/<wnid>/images/*.JPEG` (500 per class) and `val/images/*.JPEG` with
`val/val_annotations.txt` (file, wnid, box; 50 per class). The test folder has no labels, so the val split is the
test split, as in the SSL papers reporting Tiny-ImageNet (e.g. Ermolov et al. 2021, W-MSE).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.cache import decoded_dataset
from zoo.data.catalog import cache_root, missing, register_dataset
from zoo.data.dataset import ImageDataset
from zoo.data.decode import image_files
from zoo.errors import DataError

FOLDER = "tiny-imagenet-200"
LAYOUT = (
    f"{FOLDER}/wnids.txt, {FOLDER}/train/<wnid>/images/*.JPEG, {FOLDER}/val/images/*.JPEG and "
    f"{FOLDER}/val/val_annotations.txt"
)


def _candidates(root: Path | None) -> list[Path]:
    base = root if root is not None else cache_root()
    return [base / FOLDER, base]


def _locate(root: Path | None) -> Path | None:
    return next((c for c in _candidates(root) if (c / "wnids.txt").is_file()), None)


def read_wnids(folder: Path) -> list[str]:
    """The 200 WordNet ids of wnids.txt, sorted (label = index)."""
    return sorted(line.strip() for line in (folder / "wnids.txt").read_text().splitlines() if line.strip())


def list_train(folder: Path, wnids: list[str]) -> tuple[list[Path], np.ndarray]:
    """train/<wnid>/images/*.JPEG for every wnid."""
    files: list[Path] = []
    labels: list[int] = []
    for label, wnid in enumerate(wnids):
        images = folder / "train" / wnid / "images"
        if not images.is_dir():
            raise DataError(f"dataset 'tiny-imagenet': {images} is missing; expected layout: {LAYOUT}")
        found = image_files(images)
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def list_val(folder: Path, wnids: list[str]) -> tuple[list[Path], np.ndarray]:
    """val/images/<file> labelled by val/val_annotations.txt (tab-separated: file, wnid, x0, y0, x1, y1)."""
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DataError(f"dataset 'tiny-imagenet': {annotations} is missing; expected layout: {LAYOUT}")
    index = {w: i for i, w in enumerate(wnids)}
    files: list[Path] = []
    labels: list[int] = []
    for n, line in enumerate(annotations.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise DataError(f"{annotations}:{n}: expected '<file>\\t<wnid>\\t...' with a wnid of wnids.txt")
        path = folder / "val" / "images" / fields[0]
        if not path.is_file():
            raise DataError(f"dataset 'tiny-imagenet': {path} (listed in {annotations.name}) is missing")
        files.append(path)
        labels.append(index[fields[1]])
    order = np.argsort([str(p) for p in files], kind="stable")
    return [files[i] for i in order], np.asarray(labels, dtype=np.int64)[order]


@register_dataset(
    "tiny-imagenet",
    "Tiny-ImageNet: 100k/10k 64x64 colour images, 200 classes (CS231n); val is the test split",
    size="64 px",
    classes=200,
    options=("store_size", "skip_corrupt"),
    locate=_locate,
)
def tiny_imagenet(
    root: Path | None, split: str, download: bool, *, store_size: int = 64, skip_corrupt: bool = False
) -> ImageDataset:
    """Tiny-ImageNet from <root>/tiny-imagenet-200 (or root itself being that folder), decoded once."""
    folder = _locate(root)
    if folder is None:
        where = root if root is not None else cache_root()
        raise missing(
            "tiny-imagenet", split, _candidates(root), f"extract tiny-imagenet-200.zip into {where} ({LAYOUT})"
        )
    wnids = read_wnids(folder)

    def listing() -> tuple[list[Path], np.ndarray, list[str]]:
        files, labels = list_train(folder, wnids) if split == "train" else list_val(folder, wnids)
        return files, labels, wnids

    return decoded_dataset(
        "tiny-imagenet",
        folder / ("train" if split == "train" else "val"),
        split,
        store_size,
        listing,
        normalize="tiny-imagenet",
        skip_corrupt=skip_corrupt,
    )
