"""Folders of JPEG/PNG images: `image-folder` (any root of class folders, or unlabeled) and ImageNet-100.

Both read the ImageFolder layout `<root>/train/<class>/*` and `<root>/val/<class>/*` (ImageNet's, after the usual
re-arrangement of its validation images into class folders); classes are numbered in sorted order, as torchvision's
ImageFolder and solo-learn number them. Files are decoded once into the cache (`zoo.data.cache`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.cache import decoded_dataset
from zoo.data.catalog import cache_root, missing, register_dataset
from zoo.data.dataset import UNLABELED, ImageDataset
from zoo.data.decode import image_files
from zoo.errors import DataError

CLASS_LISTS = Path(__file__).parent / "classes"
EVAL_FOLDERS = ("val", "test")  # the folder read as the test split, first found
FOLDER_LAYOUT = "<root>/train/<class>/*.jpg|png and <root>/val/<class>/*.jpg|png"
_OPTIONS = ("store_size", "skip_corrupt")


def read_class_list(name: str) -> list[str]:
    """A class list shipped in zoo/data/classes (one id a line, '#' comments)."""
    lines = (CLASS_LISTS / f"{name}.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def split_folder(root: Path, split: str, name: str, layout: str) -> Path:
    """`<root>/train` for the train split, `<root>/val` (or `test`) for the test split; DataError if absent."""
    names = ("train",) if split == "train" else EVAL_FOLDERS
    folder = next((root / n for n in names if (root / n).is_dir()), None)
    if folder is None:
        raise DataError(f"dataset {name!r}: {root / names[0]} is missing; expected layout: {layout}")
    return folder


def list_classes(folder: Path, classes: list[str], name: str, layout: str) -> tuple[list[Path], np.ndarray]:
    """The image files of `folder/<class>/` for each class (label = its index in `classes`)."""
    files: list[Path] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        if not (folder / cls).is_dir():
            raise DataError(f"dataset {name!r}: class folder {folder / cls} is missing; expected layout: {layout}")
        found = image_files(folder / cls)
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def _folder_root(name: str, root: Path | None, split: str) -> Path:
    if root is None:
        raise DataError(f"dataset {name!r} needs a folder: set [data] root to a folder laid out as {FOLDER_LAYOUT}")
    if not root.is_dir():
        raise missing(name, split, [root], f"give [data] root a folder laid out as {FOLDER_LAYOUT}")
    return root


@register_dataset(
    "image-folder",
    "any folder of images: class sub-folders of train/ and val/, or unlabeled (labels = false) for pre-training",
    size="store_size (256 px)",
    classes=None,
    options=(*_OPTIONS, "labels"),
    locate=lambda root: root if root is not None and root.is_dir() else None,
)
def image_folder(
    root: Path | None,
    split: str,
    download: bool,
    *,
    store_size: int = 256,
    skip_corrupt: bool = False,
    labels: bool = True,
) -> ImageDataset:
    """`<root>/train/<class>/*` and `<root>/val/<class>/*`; with `labels = false` every image under `<root>/train`
    (or `<root>` itself), any depth, unlabeled and for pre-training only."""
    root = _folder_root("image-folder", root, split)
    if not labels:
        if split != "train":
            raise DataError(
                "dataset 'image-folder' with labels = false has no test split: give a labelled folder as "
                f"[data] eval_root ({FOLDER_LAYOUT}) to evaluate"
            )
        source = root / "train" if (root / "train").is_dir() else root

        def unlabeled() -> tuple[list[Path], np.ndarray, list[str]]:
            files = image_files(source, recursive=True)
            return files, np.full(len(files), UNLABELED, dtype=np.int64), []

        return decoded_dataset(
            "image-folder", source, "unlabeled", store_size, unlabeled, normalize="imagenet", skip_corrupt=skip_corrupt
        )
    train = split_folder(root, "train", "image-folder", FOLDER_LAYOUT)
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"dataset 'image-folder': {train} has no class folders; expected layout: {FOLDER_LAYOUT}")
    folder = split_folder(root, split, "image-folder", FOLDER_LAYOUT)

    def labelled() -> tuple[list[Path], np.ndarray, list[str]]:
        present = sorted(p.name for p in folder.iterdir() if p.is_dir())
        strays = [c for c in present if c not in classes]
        if strays:
            raise DataError(f"dataset 'image-folder': {folder / strays[0]} is not a class of {train}")
        files, targets = list_classes(folder, [c for c in classes if c in present], "image-folder", FOLDER_LAYOUT)
        index = np.asarray([classes.index(c) for c in present if c in classes], dtype=np.int64)
        return files, index[targets], classes

    return decoded_dataset(
        "image-folder", folder, split, store_size, labelled, normalize="imagenet", skip_corrupt=skip_corrupt
    )


def _imagenet_roots(root: Path | None) -> list[Path]:
    if root is not None:
        return [root]
    return [cache_root() / "imagenet100", cache_root() / "imagenet"]


def _locate_imagenet100(root: Path | None) -> Path | None:
    return next((r for r in _imagenet_roots(root) if (r / "train").is_dir()), None)


@register_dataset(
    "imagenet100",
    "ImageNet-100: the 100-class ImageNet subset of CMC (Tian et al. 2019), ~126k/5k images, decoded once",
    size="store_size (256 px), 224 px crops",
    classes=100,
    options=_OPTIONS,
    locate=_locate_imagenet100,
)
def imagenet100(
    root: Path | None, split: str, download: bool, *, store_size: int = 256, skip_corrupt: bool = False
) -> ImageDataset:
    """The CMC classes from an ImageNet (or ImageNet-100) root `<root>/train/<wnid>/`, `<root>/val/<wnid>/`."""
    layout = "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG for the 100 wnids of ImageNet-100"
    base = _locate_imagenet100(root)
    if base is None:
        raise missing(
            "imagenet100", split, _imagenet_roots(root), f"set [data] root to an ImageNet root laid out as {layout}"
        )
    classes = sorted(read_class_list("imagenet100"))
    folder = split_folder(base, split, "imagenet100", layout)

    def listing() -> tuple[list[Path], np.ndarray, list[str]]:
        files, labels = list_classes(folder, classes, "imagenet100", layout)
        return files, labels, classes

    return decoded_dataset(
        "imagenet100", folder, split, store_size, listing, normalize="imagenet", skip_corrupt=skip_corrupt
    )
