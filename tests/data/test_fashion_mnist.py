"""Fashion-MNIST: where it is looked for, what is said when it is missing, and the embedded subset."""

import gzip
import lzma
import struct
from pathlib import Path

import pytest
import torch

from zoo.data import create_dataset
from zoo.data import fashion_mnist as fm
from zoo.errors import DataError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress}


def write_split(folder: Path, split: str, labels: list[int], suffix: str = "") -> None:
    """IDX files for `split` whose image i is filled with the value i."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = {"train": "train", "test": "t10k"}[split]
    n = len(labels)
    pixels = b"".join(bytes([i]) * 28 * 28 for i in range(n))
    images = struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + pixels
    label_bytes = struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(labels)
    (folder / f"{prefix}-images-idx3-ubyte{suffix}").write_bytes(COMPRESS[suffix](images))
    (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(COMPRESS[suffix](label_bytes))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user cache and no system-wide copy unless a test puts one there."""
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "SYSTEM_DIRS", (tmp_path / "system",))
    return tmp_path


@pytest.mark.parametrize("suffix", ["", ".gz", ".xz"])
@pytest.mark.parametrize("sub", [".", "fashion-mnist", "FashionMNIST/raw"])
def test_found_under_the_recipe_root(tmp_path: Path, suffix: str, sub: str) -> None:
    write_split(tmp_path / "root" / sub, "test", [3, 1, 4], suffix)
    ds = create_dataset("fashion-mnist", root=tmp_path / "root", split="test")
    assert ds.images.shape == (3, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [3, 1, 4]
    assert torch.all(ds.images[2] == 2)
    assert ds.num_classes == 10 and ds.class_names[9] == "Ankle boot" and ds.normalize == "fashion-mnist"


def test_root_comes_before_cache_and_cache_before_system(tmp_path: Path) -> None:
    write_split(tmp_path / "system", "train", [9])
    assert create_dataset("fashion-mnist").labels.tolist() == [9]
    write_split(tmp_path / "cache" / "fashion-mnist", "train", [8, 8])
    assert create_dataset("fashion-mnist").labels.tolist() == [8, 8]
    write_split(tmp_path / "root", "train", [7, 7, 7], ".gz")
    assert create_dataset("fashion-mnist", root=tmp_path / "root").labels.tolist() == [7, 7, 7]


def test_missing_names_every_place_and_every_remedy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(DataError) as info:
        create_dataset("fashion-mnist", root=root, split="test")
    message = str(info.value)
    assert "\n" not in message and "'fashion-mnist'" in message
    for place in fm.search_dirs(root):
        assert str(place) in message
    assert str(tmp_path / "system") in message and str(tmp_path / "cache" / "fashion-mnist") in message
    assert "download = true" in message and "apt-get install dataset-fashion-mnist" in message
    assert "t10k-images-idx3-ubyte" in message


def test_mismatched_image_and_label_counts_raise_data_error(tmp_path: Path) -> None:
    write_split(tmp_path / "root", "test", [1, 2])
    write_split(tmp_path / "other", "test", [1, 2, 3])
    (tmp_path / "other" / "t10k-labels-idx1-ubyte").replace(tmp_path / "root" / "t10k-labels-idx1-ubyte")
    with pytest.raises(DataError, match="expected"):
        create_dataset("fashion-mnist", root=tmp_path / "root", split="test")


def test_embedded_subset_is_real_balanced_fashion_mnist() -> None:
    train = create_dataset("fashion-mnist-small")
    test = create_dataset("fashion-mnist-small", split="test")
    assert train.images.shape == (10_000, 1, 28, 28) and test.images.shape == (2_000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.num_classes == 10 and len(train.class_names) == 10
    assert train.class_counts().tolist() == [1000] * 10
    assert test.class_counts().tolist() == [200] * 10
    assert train.normalize == "fashion-mnist"
    assert 50 < train.images.float().mean() < 100  # real clothing pictures, not blanks
    assert (fm.EMBEDDED_DIR / "LICENSE").read_text().count("Zalando SE") >= 1


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_system_copy_is_found_and_holds_the_embedded_test_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fm, "SYSTEM_DIRS", (DEBIAN,))
    full = create_dataset("fashion-mnist", split="test")
    assert full.images.shape == (10_000, 1, 28, 28) and full.class_counts().tolist() == [1000] * 10
    small = create_dataset("fashion-mnist-small", split="test")
    rows = {bytes(img.numpy()) for img in full.images.flatten(1)}
    assert all(bytes(img.numpy()) in rows for img in small.images.flatten(1)[:50])
