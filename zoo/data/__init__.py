"""Datasets as whole uint8 tensors (decoded once, memory-mapped from the cache), a registry of them, and loaders.

from zoo.data import create_dataset, DeviceLoader
train = create_dataset("fashion-mnist-small", split="train")
for images, labels in DeviceLoader(train, batch_size=256, device="cuda").epoch(0): ...
"""

from zoo.data import cifar, fashion_mnist, folders, stl10, tiny_imagenet  # noqa: F401 - registers the datasets
from zoo.data.catalog import (
    DATASETS,
    Protocol,
    create_dataset,
    describe_dataset,
    list_datasets,
    locate_dataset,
)
from zoo.data.dataset import UNLABELED, ImageDataset
from zoo.data.loader import DeviceLoader
from zoo.data.protocol import TrainingData, open_training_data
from zoo.data.streaming import StreamingLoader

__all__ = [
    "DATASETS",
    "UNLABELED",
    "DeviceLoader",
    "ImageDataset",
    "Protocol",
    "StreamingLoader",
    "TrainingData",
    "create_dataset",
    "describe_dataset",
    "list_datasets",
    "locate_dataset",
    "open_training_data",
]
