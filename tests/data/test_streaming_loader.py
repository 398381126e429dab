"""The streaming loader yields exactly the device-resident loader's batches; the budget picks the path and says so."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.data.layouts import write_stl10
from zoo.data import DeviceLoader, ImageDataset, StreamingLoader, TrainingData, open_training_data
from zoo.data.cache import open_images
from zoo.errors import ZooError


def memory_mapped(tmp_path: Path, n: int = 103) -> ImageDataset:
    """n numbered images saved as .npy and memory-mapped, as the decode-once cache holds them."""
    images = np.arange(n * 3 * 4 * 4, dtype=np.int64).reshape(n, 3, 4, 4).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    return ImageDataset("mapped", open_images(tmp_path / "images.npy"), torch.arange(n) % 7, 7, list("abcdefg"), "x")


@pytest.mark.parametrize("drop_last", [True, False])
def test_streaming_and_device_loaders_yield_identical_batches(tmp_path: Path, drop_last: bool) -> None:
    dataset = memory_mapped(tmp_path)
    kwargs = {"batch_size": 10, "device": "cpu", "seed": 3, "drop_last": drop_last}
    resident, streaming = DeviceLoader(dataset, **kwargs), StreamingLoader(dataset, depth=3, **kwargs)
    assert len(resident) == len(streaming)
    for epoch in (0, 1, 5):
        pairs = list(zip(resident.epoch(epoch), streaming.epoch(epoch), strict=True))
        assert len(pairs) == len(resident)
        for (a_images, a_labels), (b_images, b_labels) in pairs:
            assert torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels)


def test_an_abandoned_epoch_stops_cleanly(tmp_path: Path) -> None:
    loader = StreamingLoader(memory_mapped(tmp_path), batch_size=10, device="cpu")
    batches = loader.epoch(0)
    next(batches)
    batches.close()
    assert len(list(loader.epoch(1))) == len(loader)


def settings(root: Path, budget: float | str) -> SimpleNamespace:
    return SimpleNamespace(
        dataset="stl10", root=str(root), download=False, fraction=1.0, store_size=None, skip_corrupt=False,
        labels=True, eval_root=None, device_memory_budget=budget,
    )  # fmt: skip


def open_data(root: Path, budget: float | str, log: list[str]) -> TrainingData:
    return open_training_data(settings(root, budget), batch_size=4, device=torch.device("cpu"), seed=0, log=log.append)


def test_budget_chooses_the_path_and_the_log_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))
    write_stl10(tmp_path)
    lines: list[str] = []
    data = open_data(tmp_path, 0.0, lines)
    assert isinstance(data.loader, StreamingLoader) and len(data.train_set) == 16
    assert "over the memory budget (device_memory_budget = 0 GB): streamed" in lines[-1]
    (fit_images, fit_labels), (test_images, _) = data.evaluation
    assert len(fit_images) == 6 and fit_labels.tolist() == [0, 1, 2, 3, 4, 5] and len(test_images) == 4
    data = open_data(tmp_path, "auto", lines)
    assert isinstance(data.loader, DeviceLoader) and "within the memory budget (auto: half of" in lines[-1]
    with pytest.raises(ZooError, match="device_memory_budget must be a number of GB"):
        open_data(tmp_path, "lots", lines)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_streaming_on_cuda_matches_the_device_loader(tmp_path: Path) -> None:
    dataset = memory_mapped(tmp_path, 1000)
    kwargs = {"batch_size": 64, "device": "cuda", "seed": 1}
    resident, streaming = DeviceLoader(dataset, **kwargs).epoch(2), StreamingLoader(dataset, **kwargs).epoch(2)
    for (a, la), (b, lb) in zip(resident, streaming, strict=True):
        assert b.is_cuda and torch.equal(a, b) and torch.equal(la, lb)
