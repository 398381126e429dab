"""`DeviceLoader`: steps per epoch, device placement and the (seed, epoch) order."""

import pytest
import torch

from zoo.data import DeviceLoader, ImageDataset
from zoo.errors import ZooError


def numbered(n: int) -> ImageDataset:
    """Image i is filled with i, so a batch tells which indices it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 3, 4, 4).clone()
    labels = torch.arange(n) % 5
    return ImageDataset("numbered", images, labels, 5, list("abcde"), "x")


def indices(loader: DeviceLoader, epoch: int) -> list[int]:
    return [i for images, _ in loader.epoch(epoch) for i in images[:, 0, 0, 0].tolist()]


def test_steps_per_epoch() -> None:
    assert len(DeviceLoader(numbered(100), batch_size=32, device="cpu")) == 3
    assert len(DeviceLoader(numbered(100), batch_size=32, device="cpu", drop_last=False)) == 4
    assert len(DeviceLoader(numbered(96), batch_size=32, device="cpu", drop_last=False)) == 3


def test_batches_are_uint8_on_the_device_with_matching_labels() -> None:
    loader = DeviceLoader(numbered(50), batch_size=16, device="cpu")
    batches = list(loader.epoch(0))
    assert len(batches) == len(loader) == 3
    for images, labels in batches:
        assert images.dtype == torch.uint8 and images.shape == (16, 3, 4, 4)
        assert images.device == loader.device and labels.device == loader.device
        assert torch.equal(labels, images[:, 0, 0, 0].long() % 5)


def test_same_seed_and_epoch_give_the_same_order() -> None:
    a = DeviceLoader(numbered(100), batch_size=10, device="cpu", seed=7)
    b = DeviceLoader(numbered(100), batch_size=10, device="cpu", seed=7)
    assert indices(a, 3) == indices(b, 3) == indices(a, 3)
    assert indices(a, 3) != indices(a, 4)
    assert indices(a, 0) != indices(DeviceLoader(numbered(100), batch_size=10, device="cpu", seed=8), 0)


def test_each_index_at_most_once_per_epoch() -> None:
    loader = DeviceLoader(numbered(103), batch_size=10, device="cpu")
    seen = indices(loader, 1)
    assert len(seen) == 100 and len(set(seen)) == 100
    full = indices(DeviceLoader(numbered(103), batch_size=10, device="cpu", drop_last=False), 1)
    assert sorted(full) == list(range(103))


def test_batch_larger_than_dataset_names_both_numbers() -> None:
    with pytest.raises(ZooError, match=r"batch_size 64 .*'numbered' \(50 images\)"):
        DeviceLoader(numbered(50), batch_size=64, device="cpu")
    assert len(DeviceLoader(numbered(50), batch_size=64, device="cpu", drop_last=False)) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_live_on_cuda_and_order_matches_cpu() -> None:
    gpu = DeviceLoader(numbered(100), batch_size=10, device="cuda", seed=2)
    images, labels = next(iter(gpu.epoch(0)))
    assert images.is_cuda and labels.is_cuda
    assert indices(gpu, 5) == indices(DeviceLoader(numbered(100), batch_size=10, device="cpu", seed=2), 5)


@pytest.mark.parametrize("world", [1, 2])
def test_epoch_batches_name_the_images_each_step_yields(world: int) -> None:
    dataset = numbered(103)
    for rank in range(world):
        loader = DeviceLoader(dataset, batch_size=10, device="cpu", seed=3, rank=rank, world=world)
        batches = loader.epoch_batches(2)
        assert batches.shape == (10, 10 // world)
        yielded = torch.stack([images[:, 0, 0, 0].long() for images, _ in loader.epoch(2)])
        assert torch.equal(batches, yielded)
    with pytest.raises(ValueError, match="one size"):
        DeviceLoader(dataset, batch_size=10, device="cpu", drop_last=False).epoch_batches(0)
