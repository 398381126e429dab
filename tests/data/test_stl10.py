"""STL-10 from a tiny `stl10_binary/` written here: column-major pixels, labels, splits, cache, wrong layouts."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.layouts import write_stl10
from zoo.data import DATASETS, UNLABELED, create_dataset
from zoo.errors import DataError


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))


def test_images_are_read_column_major_pixel_by_pixel(tmp_path: Path) -> None:
    written = write_stl10(tmp_path)
    train = create_dataset("stl10", root=tmp_path, split="train")
    assert train.images.shape == (6, 3, 96, 96) and train.images.dtype == torch.uint8
    assert np.array_equal(train.images.numpy(), written["train"])
    test = create_dataset("stl10", root=tmp_path, split="test")
    assert np.array_equal(test.images[2].numpy(), written["test"][2])
    assert test.images[0, 0, 0, 1] == written["test"][0, 0, 0, 1] != written["test"][0, 0, 1, 0]


def test_labels_and_splits(tmp_path: Path) -> None:
    written = write_stl10(tmp_path)
    train = create_dataset("stl10", root=tmp_path / "stl10_binary", split="train")
    assert (
        train.labels.tolist() == [0, 1, 2, 3, 4, 5] and train.num_classes == 10 and train.class_names[0] == "airplane"
    )
    assert train.normalize == "stl10"
    both = create_dataset("stl10", root=tmp_path, split="train+unlabeled")
    assert len(both) == 16 and both.labels[6:].eq(UNLABELED).all()
    assert np.array_equal(both.images[:6].numpy(), written["train"])
    assert np.array_equal(both.images[6:].numpy(), written["unlabeled"])
    unlabeled = create_dataset("stl10", root=tmp_path, split="unlabeled")
    assert len(unlabeled) == 10 and unlabeled.labels.eq(UNLABELED).all()
    assert DATASETS.get("stl10").protocol.pretrain == "train+unlabeled"
    half = both.subset(0.5, seed=1)
    assert half.class_counts().sum() == 6 and int((half.labels == UNLABELED).sum()) == 5


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stl10(tmp_path)
    first = create_dataset("stl10", root=tmp_path, split="test")
    cached = list((tmp_path / "cache" / "decoded").glob("stl10-96px-*/test.images.npy"))
    assert len(cached) == 1

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr("zoo.data.stl10._convert", no_conversion)
    assert torch.equal(create_dataset("stl10", root=tmp_path, split="test").images, first.images)


def test_missing_file_names_it_and_the_layout(tmp_path: Path) -> None:
    write_stl10(tmp_path)
    (tmp_path / "stl10_binary" / "unlabeled_X.bin").unlink()
    with pytest.raises(DataError, match=r"unlabeled_X\.bin is missing; expected layout: stl10_binary/\{train_X"):
        create_dataset("stl10", root=tmp_path, split="train+unlabeled")
    with pytest.raises(DataError, match=r"'stl10' \(test split\) not found.*download = true"):
        create_dataset("stl10", root=tmp_path / "elsewhere", split="test")


def test_bad_labels_and_truncated_images(tmp_path: Path) -> None:
    write_stl10(tmp_path)
    folder = tmp_path / "stl10_binary"
    (folder / "test_y.bin").write_bytes(bytes([0, 1, 2, 11]))
    with pytest.raises(DataError, match="labels must be 1..10, found 0..11"):
        create_dataset("stl10", root=tmp_path, split="test")
    (folder / "train_X.bin").write_bytes(b"\0" * 100)
    with pytest.raises(DataError, match="not a whole number of 3x96x96 images"):
        create_dataset("stl10", root=tmp_path, split="train")
