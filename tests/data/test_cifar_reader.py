"""CIFAR-10 and CIFAR-100 readers on tiny python-pickle layouts written here."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data import create_dataset
from zoo.errors import DataError

PER_BATCH = 4


def batch(first_label: int, n: int, num_classes: int, label_key: bytes) -> dict[bytes, object]:
    """n CIFAR rows; image i has every pixel of channel c equal to 10 * (i % 8) + c."""
    rows = np.zeros((n, 3, 1024), dtype=np.uint8)
    for i in range(n):
        for c in range(3):
            rows[i, c] = 10 * (i % 8) + c
    labels = [(first_label + i) % num_classes for i in range(n)]
    return {b"batch_label": b"x", b"data": rows.reshape(n, 3072), label_key: labels}


def dump(path: Path, obj: object, protocol: int = 2) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def write_cifar10(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        dump(folder / f"data_batch_{i}", batch(i, PER_BATCH, 10, b"labels"))
    dump(folder / "test_batch", batch(0, 3, 10, b"labels"), protocol=pickle.HIGHEST_PROTOCOL)
    dump(folder / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)]})
    return folder


def write_cifar100(root: Path) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for split, n in (("train", 6), ("test", 2)):
        rows = batch(97, n, 100, b"fine_labels")
        rows[b"coarse_labels"] = [0] * n
        dump(folder / split, rows)
    meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)], b"coarse_label_names": [b"c"]}
    dump(folder / "meta", meta)
    return folder


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))


def test_cifar10_train_and_test(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    train = create_dataset("cifar10", root=tmp_path)
    assert train.images.shape == (5 * PER_BATCH, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64
    assert train.labels.tolist() == [(b + i) % 10 for b in range(1, 6) for i in range(PER_BATCH)]
    assert train.num_classes == 10 and train.class_names[3] == "class3"
    assert train.normalize == "cifar10"
    # rows are channel planes (R, G, B), each 32x32 row-major
    assert torch.all(train.images[1, 2] == 12) and torch.all(train.images[1, 0] == 10)
    test = create_dataset("cifar10", root=tmp_path, split="test")
    assert len(test) == 3 and test.labels.tolist() == [0, 1, 2]


def test_root_may_be_the_extracted_folder(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    assert len(create_dataset("cifar10", root=str(folder), split="test")) == 3


def test_cifar_root_defaults_to_zoo_data_cache(tmp_path: Path) -> None:
    write_cifar10(Path(os.environ["ZOO_DATA"]))
    assert len(create_dataset("cifar10", split="test")) == 3


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    write_cifar100(tmp_path)
    train = create_dataset("cifar100", root=tmp_path)
    assert train.images.shape == (6, 3, 32, 32)
    assert train.labels.tolist() == [97, 98, 99, 0, 1, 2]
    assert train.num_classes == 100 and train.class_names[99] == "fine99"
    assert train.normalize == "cifar100"
    assert len(create_dataset("cifar100", root=tmp_path / "cifar-100-python", split="test")) == 2


def test_missing_cifar_names_where_it_looked_and_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        create_dataset("cifar10", root=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "'cifar10'" in message and str(tmp_path / "cifar-10-batches-py") in message
    assert "download = true" in message and "[data]" in message


def test_pickle_with_foreign_globals_is_refused(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    dump(folder / "test_batch", {b"data": os.getcwd, b"labels": []})
    with pytest.raises(DataError, match="refusing to load"):
        create_dataset("cifar10", root=tmp_path, split="test")


def test_malformed_batch_raises_data_error(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    dump(folder / "test_batch", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]})
    with pytest.raises(DataError, match="2 images but 1 labels"):
        create_dataset("cifar10", root=tmp_path, split="test")
