"""Tiny-ImageNet, ImageNet-100 and image-folder on tiny JPEG/PNG layouts: labels, sizes, cache, corrupt files."""

from pathlib import Path

import pytest
import torch

from tests.data.layouts import colour, save_image, write_class_folders, write_tiny_imagenet
from zoo.data import UNLABELED, create_dataset
from zoo.data.folders import read_class_list
from zoo.errors import DataError, ZooError

WNIDS = ["n01443537", "n01629819", "n01641577"]


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))


def mean_colour(images: torch.Tensor) -> list[list[int]]:
    return images.float().mean(dim=(2, 3)).round().int().tolist()


def test_tiny_imagenet_train_and_val(tmp_path: Path) -> None:
    write_tiny_imagenet(tmp_path, WNIDS)
    train = create_dataset("tiny-imagenet", root=tmp_path)
    assert train.images.shape == (6, 3, 64, 64) and train.num_classes == 3 and train.class_names == WNIDS
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2] and train.normalize == "tiny-imagenet"
    for got, label in zip(mean_colour(train.images), train.labels.tolist(), strict=True):
        assert all(abs(g - w) <= 3 for g, w in zip(got, colour(label), strict=True))
    test = create_dataset("tiny-imagenet", root=tmp_path / "tiny-imagenet-200", split="test")
    assert test.labels.tolist() == [0, 1, 2]


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tiny_imagenet(tmp_path, WNIDS)
    first = create_dataset("tiny-imagenet", root=tmp_path, split="test")

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr("zoo.data.cache.decode_into", no_decoding)
    again = create_dataset("tiny-imagenet", root=tmp_path, split="test")
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)


def test_tiny_imagenet_wrong_layout_names_the_file(tmp_path: Path) -> None:
    folder = write_tiny_imagenet(tmp_path, WNIDS)
    (folder / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DataError, match=r"val_annotations\.txt is missing; expected layout: tiny-imagenet-200/wnids"):
        create_dataset("tiny-imagenet", root=tmp_path, split="test")
    with pytest.raises(DataError, match=r"'tiny-imagenet' \(train split\) not found"):
        create_dataset("tiny-imagenet", root=tmp_path / "nothing")


def test_image_folder_classes_sizes_and_val_labels(tmp_path: Path) -> None:
    write_class_folders(tmp_path, ["cat", "ant", "bee"])
    train = create_dataset("image-folder", root=tmp_path, store_size=16)
    assert train.class_names == ["ant", "bee", "cat"] and train.images.shape == (6, 3, 16, 16)
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    test = create_dataset("image-folder", root=tmp_path, split="test", store_size=16)
    assert test.labels.tolist() == [0, 1, 2]
    assert mean_colour(test.images)[1] == list(colour(2))  # "bee" (written third); PNG is lossless


def test_unlabeled_folder_is_for_pre_training_only(tmp_path: Path) -> None:
    for k in range(3):
        save_image(tmp_path / "photos" / f"day{k}" / f"{k}.JPG", k, (20, 20))
    data = create_dataset("image-folder", root=tmp_path / "photos", labels=False, store_size=8)
    assert len(data) == 3 and data.labels.eq(UNLABELED).all() and data.num_classes == 0
    with pytest.raises(DataError, match="labels = false has no test split.*eval_root"):
        create_dataset("image-folder", root=tmp_path / "photos", split="test", labels=False)


def test_corrupt_jpeg_stops_naming_the_file_or_is_skipped(tmp_path: Path) -> None:
    write_class_folders(tmp_path, ["a", "b"])
    bad = tmp_path / "train" / "b" / "9.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError) as info:
        create_dataset("image-folder", root=tmp_path, store_size=8)
    assert str(bad) in str(info.value) and "skip_corrupt = true" in str(info.value) and "\n" not in str(info.value)
    data = create_dataset("image-folder", root=tmp_path, store_size=8, skip_corrupt=True)
    assert len(data) == 4 and data.labels.tolist() == [0, 0, 1, 1]
    meta = next((tmp_path / "cache" / "decoded").glob("image-folder-8px-*/train.json")).read_text()
    assert '"skipped": 1' in meta


def test_imagenet100_uses_the_cmc_classes(tmp_path: Path) -> None:
    wnids = read_class_list("imagenet100")
    assert len(wnids) == len(set(wnids)) == 100 and wnids[0] == "n02869837" and wnids[-1] == "n02090622"
    for wnid in [*wnids, "n99999999"]:  # an ImageNet-1k root has more classes than ImageNet-100 keeps
        save_image(tmp_path / "train" / wnid / "x.JPEG", 1, (8, 10))
        save_image(tmp_path / "val" / wnid / "y.JPEG", 2, (8, 10))
    train = create_dataset("imagenet100", root=tmp_path, store_size=8)
    assert len(train) == 100 and train.class_names == sorted(wnids) and train.labels.tolist() == list(range(100))
    assert train.normalize == "imagenet"
    (tmp_path / "val" / wnids[5] / "y.JPEG").unlink()
    (tmp_path / "val" / wnids[5]).rmdir()
    with pytest.raises(DataError, match=rf"class folder {tmp_path / 'val' / wnids[5]} is missing; expected layout"):
        create_dataset("imagenet100", root=tmp_path, split="test", store_size=8)


def test_options_a_dataset_does_not_take_are_refused() -> None:
    with pytest.raises(ZooError, match="dataset 'cifar10' takes no option 'store_size'"):
        create_dataset("cifar10", store_size=32)
