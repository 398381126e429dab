"""`ImageDataset`: a whole small image dataset as uint8 tensors, plus stratified subsets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zoo.errors import ZooError

UNLABELED = -1


def stratified_indices(labels: torch.Tensor, per_class: Sequence[int], seed: int) -> torch.Tensor:
    """Sorted indices taking `per_class[c]` random items of each class c; the same seed gives the same pick.

    Classes are drawn in order from one generator, so the result depends only on (labels, per_class, seed).
    """
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for c, k in enumerate(per_class):
        members = torch.nonzero(labels == c).flatten()
        if k > len(members):
            raise ZooError(f"class {c} has {len(members)} items, {k} were asked for")
        picked.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.sort(torch.cat(picked)).values if picked else torch.empty(0, dtype=torch.int64)


@dataclass
class ImageDataset:
    """Images (N, C, H, W) uint8 and labels (N,) int64, in memory or memory-mapped from the decode-once cache.

    A label of -1 marks an unlabeled image (STL-10's unlabeled split, a folder read with `labels = false`).
    `normalize` names the normalisation statistics (mean/std) to use; the augment module owns the numbers.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    class_names: list[str]
    normalize: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise TypeError(
                f"{self.name}: images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise TypeError(
                f"{self.name}: labels must be int64 (N,), got {self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.name}: {len(self.class_names)} class names for {self.num_classes} classes")
        if len(self.labels) and not UNLABELED <= int(self.labels.min()) <= int(self.labels.max()) < self.num_classes:
            raise ValueError(f"{self.name}: labels outside [0, {self.num_classes}) (or -1 for unlabeled)")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return c, h, w

    def class_counts(self) -> torch.Tensor:
        """Number of labelled images of each class, shape (num_classes,)."""
        return torch.bincount(self.labels[self.labels != UNLABELED], minlength=self.num_classes)

    def subset(self, fraction: float, seed: int = 0) -> ImageDataset:
        """A deterministic stratified subset keeping `fraction` of every class (at least one image each) and of the
        unlabeled images. Original order is kept; the same (fraction, seed) always gives the same images;
        fraction 1 is `self`.
        """
        if not 0.0 < fraction <= 1.0:
            raise ZooError(f"dataset {self.name!r}: fraction must be in (0, 1], got {fraction}")
        if fraction == 1.0:
            return self
        per_class = [max(1, round(n * fraction)) if n else 0 for n in self.class_counts().tolist()]
        keep = stratified_indices(self.labels, per_class, seed)
        unlabeled = torch.nonzero(self.labels == UNLABELED).flatten()
        if len(unlabeled):
            generator = torch.Generator().manual_seed(seed + 1)
            picked = unlabeled[torch.randperm(len(unlabeled), generator=generator)[: round(len(unlabeled) * fraction)]]
            keep = torch.sort(torch.cat([keep, picked])).values
        return ImageDataset(
            name=self.name,
            images=self.images[keep],
            labels=self.labels[keep],
            num_classes=self.num_classes,
            class_names=list(self.class_names),
            normalize=self.normalize,
        )
