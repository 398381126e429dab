"""The dataset registry, `create_dataset` arguments, `ImageDataset` checks and stratified subsets."""

import pytest
import torch

from zoo.data import DATASETS, ImageDataset, create_dataset, describe_dataset, list_datasets
from zoo.errors import UnknownNameError, ZooError


def toy(n_per_class: list[int]) -> ImageDataset:
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(n_per_class)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    images = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    k = len(n_per_class)
    return ImageDataset("toy", images, labels, k, [str(c) for c in range(k)], "toy")


def test_registered_datasets_are_listed_and_described() -> None:
    assert list_datasets() == [
        "cifar10",
        "cifar100",
        "fashion-mnist",
        "fashion-mnist-small",
        "image-folder",
        "imagenet100",
        "stl10",
        "tiny-imagenet",
    ]
    assert list_datasets("cifar*") == ["cifar10", "cifar100"]
    for name in list_datasets():
        line = describe_dataset(name)
        assert line and "\n" not in line
        assert callable(DATASETS.get(name))
    assert "CIFAR-10" in describe_dataset("cifar10")


def test_unknown_dataset_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'cifar-10'.*did you mean 'cifar10'"):
        create_dataset("cifar-10")
    with pytest.raises(UnknownNameError, match="fashion-mnist"):
        describe_dataset("fashion_mnist")


def test_unknown_split_is_a_zoo_error() -> None:
    with pytest.raises(UnknownNameError, match="unknown split 'val': valid: test, train"):
        create_dataset("fashion-mnist-small", split="val")


def test_subset_is_stratified_and_deterministic() -> None:
    ds = toy([40, 20, 10])
    half = ds.subset(0.5, seed=3)
    assert half.class_counts().tolist() == [20, 10, 5]
    assert torch.equal(half.images, ds.subset(0.5, seed=3).images)
    assert not torch.equal(half.images, ds.subset(0.5, seed=4).images)
    order = half.images[:, 0, 0, 0].long()
    assert torch.all(order[1:] > order[:-1])  # original order kept, no duplicates
    assert torch.equal(ds.labels[order], half.labels)
    assert ds.subset(0.01).class_counts().tolist() == [1, 1, 1]
    assert ds.subset(1.0) is ds


def test_create_dataset_fraction() -> None:
    small = create_dataset("fashion-mnist-small", split="test", fraction=0.1, seed=5)
    assert small.class_counts().tolist() == [20] * 10
    again = create_dataset("fashion-mnist-small", split="test", fraction=0.1, seed=5)
    assert torch.equal(small.images, again.images)


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_bad_fraction_is_a_zoo_error(fraction: float) -> None:
    with pytest.raises(ZooError, match=f"fraction must be in \\(0, 1\\], got {fraction}"):
        toy([2, 2]).subset(fraction)


def test_image_dataset_checks_its_tensors() -> None:
    images, labels = torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 1])
    with pytest.raises(TypeError, match="uint8"):
        ImageDataset("x", images.float(), labels, 2, ["a", "b"], "x")
    with pytest.raises(TypeError, match="int64"):
        ImageDataset("x", images, labels.int(), 2, ["a", "b"], "x")
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageDataset("x", images, labels[:2], 2, ["a", "b"], "x")
    with pytest.raises(ValueError, match="class names"):
        ImageDataset("x", images, labels, 2, ["a"], "x")
    with pytest.raises(ValueError, match="outside"):
        ImageDataset("x", images, labels + 1, 2, ["a", "b"], "x")
    assert ImageDataset("x", images, labels, 2, ["a", "b"], "x").image_shape == (1, 2, 2)
