"""Datasets as whole uint8 tensors, a registry of them, and a loader whose batches live on the device.

from zoo.data import create_dataset, DeviceLoader
train = create_dataset("fashion-mnist-small", split="train")
for images, labels in DeviceLoader(train, batch_size=256, device="cuda").epoch(0): ...
"""

from zoo.data import cifar, fashion_mnist  # noqa: F401 - registers the datasets
from zoo.data.catalog import DATASETS, create_dataset, describe_dataset, list_datasets
from zoo.data.dataset import ImageDataset
from zoo.data.loader import DeviceLoader

__all__ = ["DATASETS", "DeviceLoader", "ImageDataset", "create_dataset", "describe_dataset", "list_datasets"]
