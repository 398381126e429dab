"""Writers of tiny datasets in the official layouts (STL-10 binaries, Tiny-ImageNet, class folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.io import encode_jpeg, encode_png


def known_image(seed: int, size: int = 96) -> np.ndarray:
    """(3, size, size) uint8 whose rows and columns differ, so a transposed read is caught pixel by pixel."""
    c, y, x = np.meshgrid(np.arange(3), np.arange(size), np.arange(size), indexing="ij")
    return ((seed * 31 + c * 80 + y + 3 * x) % 256).astype(np.uint8)


def write_stl10(root: Path, n_train: int = 6, n_test: int = 4, n_unlabeled: int = 10) -> dict[str, np.ndarray]:
    """stl10_binary/ with column-major images; returns the row-major images written per split."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    written = {}
    for i, (split, n) in enumerate((("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled))):
        images = np.stack([known_image(100 * i + k) for k in range(n)])
        (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())  # column-major on disk
        if split != "unlabeled":
            (folder / f"{split}_y.bin").write_bytes(bytes(1 + k % 10 for k in range(n)))
        written[split] = images
    return written


def colour(label: int) -> tuple[int, int, int]:
    return (40 * label) % 256, 255 - (40 * label) % 256, 128


def save_image(path: Path, label: int, size: tuple[int, int]) -> None:
    """A flat-colour image of `label`'s colour (JPEG or PNG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = torch.tensor(colour(label), dtype=torch.uint8).view(3, 1, 1).expand(3, *size).contiguous()
    data = encode_png(image) if path.suffix == ".png" else encode_jpeg(image, quality=95)
    path.write_bytes(data.numpy().tobytes())


def write_tiny_imagenet(root: Path, wnids: list[str], per_class: int = 2, val_per_class: int = 1) -> Path:
    """tiny-imagenet-200/ with wnids.txt, train/<wnid>/images/ and val/images/ + val_annotations.txt."""
    folder = root / "tiny-imagenet-200"
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(reversed(wnids)) + "\n")  # file order is not label order
    lines = []
    for label, wnid in enumerate(wnids):
        for k in range(per_class):
            save_image(folder / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", label, (64, 64))
        for k in range(val_per_class):
            name = f"val_{label * val_per_class + k}.JPEG"
            save_image(folder / "val" / "images" / name, label, (64, 64))
            lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_class_folders(root: Path, classes: list[str], per_class: int = 2, size: tuple[int, int] = (24, 32)) -> Path:
    """<root>/train/<class>/*.jpg and <root>/val/<class>/*.png."""
    for label, cls in enumerate(classes):
        for k in range(per_class):
            save_image(root / "train" / cls / f"{k}.jpg", label, size)
        save_image(root / "val" / cls / "0.png", label, size)
    return root
