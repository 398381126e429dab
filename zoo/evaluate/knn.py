"""Evaluation of representations: weighted kNN top-1 (Wu et al., 2018; k = 200, t = 0.1) with lightly's kNN."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from lightly.utils.benchmarking import knn_predict
from torch import Tensor, nn

Features = Callable[[Tensor], Tensor]


@torch.no_grad()
def embed_all(features: Features, images: Tensor, *, batch_size: int = 512) -> Tensor:
    """Float32 features (N, D) of `images` (already model input), computed in batches."""
    chunks = [features(images[i : i + batch_size]).float().flatten(1) for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def extract_features(features: Features, images: Tensor, *, batch_size: int = 512) -> Tensor:
    """L2-normalised float32 features of `images` (already model input), computed in batches."""
    return F.normalize(embed_all(features, images, batch_size=batch_size), dim=1)


@torch.no_grad()
def knn_top1(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    t: float = 0.1,
    batch_size: int = 1024,
) -> float:
    """Top-1 accuracy (%) of a weighted kNN classifier with the train features as its memory bank."""
    bank = train_features.T.contiguous()
    k = min(k, len(train_labels))
    correct = torch.zeros((), device=test_features.device)
    for i in range(0, len(test_labels), batch_size):
        pred = knn_predict(test_features[i : i + batch_size], bank, train_labels, num_classes, k, t)
        correct += (pred[:, 0] == test_labels[i : i + batch_size]).sum()
    return 100.0 * correct.item() / len(test_labels)


def evaluate_knn(
    model: nn.Module | Features,
    prepare: Callable[[Tensor], Tensor],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    num_classes: int,
    k: int = 200,
    t: float = 0.1,
) -> float:
    """kNN top-1 (%) of `model`'s features (a module is put in eval mode for it and restored after)."""
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    try:
        train_f = extract_features(lambda x: model(prepare(x)), train[0])
        test_f = extract_features(lambda x: model(prepare(x)), test[0])
    finally:
        if was_training:
            model.train()
    return knn_top1(train_f, train[1], test_f, test[1], num_classes=num_classes, k=k, t=t)


def pixels(x: Tensor) -> Tensor:
    """Raw normalised pixels as features: the floor any learned representation should beat."""
    return x.flatten(1)
