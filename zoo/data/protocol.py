"""What a training run reads: the pre-training split, the evaluation splits, and where each one lives.

The dataset's `Protocol` says which split pre-trains (STL-10: train + unlabeled) and which ones kNN / linear
evaluation fits on and reports on (STL-10: train -> test). The pre-training array goes to the device when it fits
`[data] device_memory_budget`, else it is streamed from host memory; the log says which and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from zoo.data.catalog import DATASETS, create_dataset
from zoo.data.dataset import ImageDataset
from zoo.data.loader import DeviceLoader
from zoo.data.streaming import StreamingLoader
from zoo.errors import ZooError

AUTO_FRACTION = 0.5  # of the free memory: the rest is for the model, its activations and the augmented views
Pair = tuple[torch.Tensor, torch.Tensor]


class DataSettings(Protocol):
    """The `[data]` section of a recipe (zoo.recipes.DataSection)."""

    dataset: str
    root: str | None
    download: bool
    fraction: float
    store_size: int | None
    skip_corrupt: bool
    labels: bool
    eval_root: str | None
    device_memory_budget: float | str


@dataclass
class TrainingData:
    """The pre-training set and its loader; the (fit, test) evaluation pair or why evaluation is skipped."""

    train_set: ImageDataset
    loader: DeviceLoader | StreamingLoader
    evaluation: tuple[Pair, Pair] | None
    num_classes: int
    skipped: str = ""


def dataset_options(d: DataSettings) -> dict[str, Any]:
    """The dataset keywords a recipe sets (left out at their defaults, so datasets without them accept it)."""
    options: dict[str, Any] = {}
    if d.store_size is not None:
        options["store_size"] = d.store_size
    if d.skip_corrupt:
        options["skip_corrupt"] = True
    if not d.labels:
        options["labels"] = False
    return options


def memory_budget(spec: float | str, device: torch.device) -> tuple[float, str]:
    """Bytes the data may take on `device` and a phrase saying where the figure comes from."""
    if spec == "auto":
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            return AUTO_FRACTION * free, f"auto: half of the {free / 1e9:.1f} GB free on {device}"
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return AUTO_FRACTION * free, f"auto: half of the {free / 1e9:.1f} GB of free host memory"
    if isinstance(spec, str) or spec < 0:
        raise ZooError(f'data.device_memory_budget must be a number of GB >= 0 or "auto", got {spec!r}')
    return spec * 1e9, f"device_memory_budget = {spec:g} GB"


def _nbytes(dataset: ImageDataset) -> int:
    return dataset.images.numel() * dataset.images.element_size()


def _place(dataset: ImageDataset, device: torch.device, on_device: bool) -> Pair:
    images = dataset.images.to(device) if on_device else dataset.images
    return images, dataset.labels.to(device)


def open_training_data(
    d: DataSettings,
    *,
    batch_size: int,
    device: torch.device,
    seed: int,
    log: Callable[[str], Any],
    rank: int = 0,
    world: int = 1,
) -> TrainingData:
    """Read the recipe's data as its dataset's protocol says and choose the loader path (logged, with its reason).

    `batch_size` is the global batch; under data-parallel training the loader yields rank `rank`'s shard of it.
    """
    protocol = DATASETS.get(d.dataset).protocol
    options = dataset_options(d)
    train_set = create_dataset(
        d.dataset, split=protocol.pretrain, root=d.root, download=d.download, fraction=d.fraction, seed=seed, **options
    )
    limit, why = memory_budget(d.device_memory_budget, device)
    size = _nbytes(train_set)
    stream = size > limit
    kwargs = {"batch_size": batch_size, "device": device, "seed": seed, "rank": rank, "world": world}
    loader = StreamingLoader(train_set, **kwargs) if stream else DeviceLoader(train_set, **kwargs)
    how = "streamed from host memory, prefetched" if stream else f"copied to {device} once"
    log(
        f"data: {d.dataset} {protocol.pretrain}, {len(train_set)} images, {size / 1e9:.2f} GB as uint8 "
        f"{'over' if stream else 'within'} the memory budget ({why}): {how}"
    )
    evaluation, skipped = _evaluation(d, protocol.pretrain, protocol.fit, protocol.test, options, train_set)
    if evaluation is None:
        return TrainingData(train_set, loader, None, train_set.num_classes, skipped)
    fit, test = evaluation
    left = limit - (0 if stream else size)
    on_device = _nbytes(fit) + _nbytes(test) <= left
    shared = fit is train_set and isinstance(loader, DeviceLoader)  # already on the device: no second copy
    fit_pair = (loader.images, loader.labels) if shared else _place(fit, device, on_device)
    return TrainingData(train_set, loader, (fit_pair, _place(test, device, on_device)), fit.num_classes)


def _evaluation(
    d: DataSettings,
    pretrain_split: str,
    fit_split: str,
    test_split: str,
    options: dict[str, Any],
    train_set: ImageDataset,
) -> tuple[tuple[ImageDataset, ImageDataset] | None, str]:
    """The (fit, test) pair: the labelled eval_root if given, else the dataset's own splits; or why there is none."""
    if d.eval_root is not None:
        labelled = {k: v for k, v in options.items() if k != "labels"}
        fit = create_dataset("image-folder", split="train", root=d.eval_root, **labelled)
        return (fit, create_dataset("image-folder", split="test", root=d.eval_root, **labelled)), ""
    if not d.labels:
        return None, (
            f"kNN evaluation skipped: dataset {d.dataset!r} is read with labels = false and [data] eval_root is not "
            "set (give it a labelled folder with train/<class>/ and val/<class>/ to evaluate)"
        )
    if fit_split == pretrain_split:
        fit = train_set
    else:
        fit = create_dataset(d.dataset, split=fit_split, root=d.root, download=d.download, **options)
    return (fit, create_dataset(d.dataset, split=test_split, root=d.root, download=d.download, **options)), ""
