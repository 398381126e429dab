"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from IDX files, and the stratified subset shipped inside zoo."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.data.catalog import cache_root, missing, register_dataset
from zoo.data.dataset import ImageDataset
from zoo.data.idx import SUFFIXES, read_idx
from zoo.errors import DataError

CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
PREFIX = {"train": "train", "test": "t10k"}
# Where Debian's `dataset-fashion-mnist` package installs the files.
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
EMBEDDED_DIR = Path(__file__).parent / "embedded"


def idx_names(split: str) -> tuple[str, str]:
    """The IDX file names (without compression suffix) of a split's images and labels."""
    return f"{PREFIX[split]}-images-idx3-ubyte", f"{PREFIX[split]}-labels-idx1-ubyte"


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name` plain, .gz or .xz, whichever exists first."""
    return next((p for s in SUFFIXES if (p := folder / (name + s)).is_file()), None)


def search_dirs(root: Path | None) -> list[Path]:
    """Folders looked in, in order: the recipe root, the user cache, then the system-wide Debian folder."""
    bases = [root] if root is not None else []
    bases.append(cache_root())
    return [d for b in bases for d in (b, b / "fashion-mnist", b / "FashionMNIST" / "raw")] + list(SYSTEM_DIRS)


def read_split(folder: Path, split: str, name: str) -> ImageDataset:
    """Read one split's image and label IDX files from `folder` into an `ImageDataset`."""
    image_path, label_path = (find_file(folder, n) for n in idx_names(split))
    if image_path is None or label_path is None:
        raise DataError(f"dataset {name!r}: {folder} lacks {' and '.join(idx_names(split))} (.gz or .xz)")
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.dim() != 3 or images.dtype != torch.uint8 or labels.dim() != 1 or len(images) != len(labels):
        raise DataError(
            f"dataset {name!r}: {folder} holds images {tuple(images.shape)} {images.dtype} and "
            f"labels {tuple(labels.shape)}, expected (N, H, W) uint8 and (N,)"
        )
    return ImageDataset(
        name, images.unsqueeze(1), labels.long(), len(CLASS_NAMES), list(CLASS_NAMES), normalize="fashion-mnist"
    )


def _has_split(folder: Path, split: str) -> bool:
    return all(find_file(folder, n) is not None for n in idx_names(split))


def _locate(root: Path | None) -> Path | None:
    return next((d for d in search_dirs(root) if _has_split(d, "test")), None)


@register_dataset(
    "fashion-mnist",
    "Fashion-MNIST: 60k/10k 28x28 greyscale clothing images, 10 classes (Xiao et al. 2017)",
    size="28 px",
    classes=10,
    locate=_locate,
)
def fashion_mnist(root: Path | None, split: str, download: bool) -> ImageDataset:
    """Fashion-MNIST from the first of `search_dirs(root)` holding the split; downloads on request."""
    looked = search_dirs(root)
    folder = next((d for d in looked if _has_split(d, split)), None)
    if folder is None and download:
        base = root if root is not None else cache_root()
        _download(base, split)
        folder = base / "FashionMNIST" / "raw"
    if folder is None:
        where = root if root is not None else cache_root() / "fashion-mnist"
        raise missing(
            "fashion-mnist",
            split,
            looked,
            f"set `download = true` in the recipe's [data] section, or put {' and '.join(idx_names(split))} "
            f"(plain, .gz or .xz) in {where}, or `apt-get install dataset-fashion-mnist`",
        )
    return read_split(folder, split, "fashion-mnist")


def _download(root: Path, split: str) -> None:
    from torchvision import datasets

    try:
        datasets.FashionMNIST(str(root), train=split == "train", download=True)
    except (OSError, RuntimeError) as e:
        raise DataError(f"dataset 'fashion-mnist': download into {root} failed: {e}") from e


@register_dataset(
    "fashion-mnist-small",
    "Fashion-MNIST stratified subset shipped with zoo: 10k/2k images (1000/200 per class), no download",
    size="28 px",
    classes=10,
    locate=lambda root: EMBEDDED_DIR,
)
def fashion_mnist_small(root: Path | None, split: str, download: bool) -> ImageDataset:
    """The embedded subset (built by scripts/build_embedded_data.py); `root` and `download` are not used."""
    if not _has_split(EMBEDDED_DIR, split):
        raise missing(
            "fashion-mnist-small",
            split,
            [EMBEDDED_DIR],
            "reinstall zoo or rebuild the files with scripts/build_embedded_data.py",
        )
    return read_split(EMBEDDED_DIR, split, "fashion-mnist-small")
