"""The peer pipeline of `zoo bench`: what solo-learn and lightly do on CIFAR, a `torch.utils.data.DataLoader` whose
worker processes augment each image on the host with torchvision v2 transforms, then copy the views to the device.

The transforms are built from the same preset and view settings as zoo's kornia pipelines (`view_specs`), so both
pipelines make the same kind of views for the same model, loss and batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import InterpolationMode, v2

from zoo.augment.pipeline import MultiViewAugment, ViewSpec, view_specs
from zoo.augment.presets import AugmentPreset


def view_transform(preset: AugmentPreset, spec: ViewSpec, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """One view's torchvision v2 transforms on a uint8 (3, H, W) tensor: the host twin of `build_pipeline`."""
    interpolation = InterpolationMode.BICUBIC if preset.crop_interpolation == "bicubic" else InterpolationMode.BILINEAR
    ops: list[torch.nn.Module] = [
        v2.RandomResizedCrop(
            spec.size, scale=spec.crop_scale, ratio=preset.crop_ratio, interpolation=interpolation, antialias=True
        )
    ]
    if preset.flip_p > 0:
        ops.append(v2.RandomHorizontalFlip(p=preset.flip_p))
    if preset.jitter_p > 0 and any(preset.jitter):
        ops.append(v2.RandomApply([v2.ColorJitter(*preset.jitter)], p=preset.jitter_p))
    if preset.gray_p > 0:
        ops.append(v2.RandomGrayscale(p=preset.gray_p))
    if spec.blur_p > 0:
        kernel = preset.blur_kernel(spec.size)
        ops.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=preset.blur_sigma)], p=spec.blur_p))
    if spec.solarize_p > 0:
        ops.append(v2.RandomSolarize(threshold=round(preset.solarize_threshold * 255), p=spec.solarize_p))
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std))]
    return v2.Compose(ops)


class MultiViewDataset(Dataset):
    """Image i -> (its views, its label), augmented one image at a time in the DataLoader's workers."""

    def __init__(self, images: Tensor, labels: Tensor, transforms: Sequence[v2.Compose]) -> None:
        self.images, self.labels, self.transforms = images, labels, list(transforms)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[list[Tensor], Tensor]:
        image = self.images[index]
        image = image.expand(3, -1, -1) if image.shape[0] == 1 else image  # grey repeated, as zoo's views
        return [t(image) for t in self.transforms], self.labels[index]


def peer_loader(
    images: Tensor, labels: Tensor, augment: MultiViewAugment, *, batch_size: int, workers: int, pin_memory: bool
) -> DataLoader:
    """A shuffling DataLoader making `augment`'s views (global then local) with torchvision in `workers` processes."""
    specs = view_specs(augment.preset, augment.image_size, augment.n_views, augment.n_local, augment.local_size)
    transforms = [view_transform(augment.preset, spec, augment.mean, augment.std) for spec in specs]
    return DataLoader(
        MultiViewDataset(images.cpu(), labels.cpu(), transforms),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )
