"""Offline linear evaluation: one linear layer on the frozen backbone's pooled features, top-1 and top-5 on the test
split. This is the metric of the paper (PAPER.md: "top-1 of a linear classifier on the frozen backbone") and of most
published tables.

Protocol of solo-learn's offline linear evaluation (main_linear.py, scripts/linear): frozen backbone in eval mode,
`nn.Linear(features, classes)` on its pooled features, SGD momentum 0.9, batch 256, lr 0.1, no weight decay, 100
epochs, here with a cosine schedule; training images get a random resized crop (scale 0.08-1) and a horizontal flip on
the device, test images the centre (un-augmented) view. With `augment=False` the features are extracted once and the
probe trains on them: fast and deterministic, what the CPU recipes use.

One addition: the features pass a BatchNorm without affine parameters before the linear layer (MAE's linear probe,
He et al. 2022, appendix A.2). Feature norms differ by orders of magnitude between raw pixels, a backbone at
initialisation and a trained one (0.7 against 49 for the same small ResNet here), and with raw features one lr cannot
suit them all; at test time the normalisation is a fixed affine map, so the probe is still a linear classifier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import Tensor, nn

from zoo.augment import to_model_input
from zoo.augment.normalize import to_unit_float
from zoo.evaluate.knn import Features, embed_all
from zoo.progress import work_progress

SOLO_CROP_SCALE = (0.08, 1.0)  # solo-learn's linear-evaluation crop


@dataclass(frozen=True)
class LinearProtocol:
    """How a linear probe is trained; written beside every result so a number always names its protocol."""

    epochs: int = 100
    lr: float = 0.1
    weight_decay: float = 0.0
    batch_size: int = 256
    momentum: float = 0.9
    augment: bool = True  # random resized crop + flip per epoch; False: features extracted once
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"schedule": "cosine", "optimizer": "sgd", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class LinearResult:
    top1: float
    top5: float


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """CPU threads for the duration. A probe on extracted features is thousands of tiny matrix products: one thread
    runs them fastest, and on a busy machine a team of threads woken for every product is up to 50 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def linear_head(num_features: int, num_classes: int, *, bn_momentum: float | None) -> nn.Sequential:
    """BatchNorm without affine parameters, then one linear layer; `bn_momentum=None`: exact mean over the data."""
    norm = nn.BatchNorm1d(num_features, affine=False, momentum=bn_momentum)
    return nn.Sequential(norm, nn.Linear(num_features, num_classes))


@contextmanager
def frozen(model: nn.Module | Features) -> Iterator[None]:
    """A module in eval mode without gradients for the duration; its training flag is restored after."""
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def train_linear_probe(
    train_features: Tensor | Callable[[Tensor], Tensor],
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    protocol: LinearProtocol = LinearProtocol(),
    console: Console | None = None,
    description: str = "linear probe",
) -> LinearResult:
    """Train a linear classifier and return its test top-1 and top-5 (%).

    `train_features` is a (N, D) tensor, or a function from a batch of indices into the train split to a batch of
    (N_batch, D) features (augmented views). Runs under its own seed and restores the global random state after.
    """
    device = test_features.device
    devices = [device] if device.type == "cuda" else []
    tiny = device.type == "cpu" and not callable(train_features)
    with torch.random.fork_rng(devices=devices), _threads(1 if tiny else torch.get_num_threads()):
        torch.manual_seed(protocol.seed)
        head = linear_head(test_features.shape[1], num_classes, bn_momentum=None).to(device)
        optimizer = torch.optim.SGD(
            head.parameters(), lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
        )
        n = len(train_labels)
        steps_per_epoch = -(-n // protocol.batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, protocol.epochs * steps_per_epoch)
        order_rng = torch.Generator().manual_seed(protocol.seed)
        features_of = train_features if callable(train_features) else train_features.__getitem__
        with work_progress(console, description, protocol.epochs) as advance:
            for _ in range(protocol.epochs):
                order = torch.randperm(n, generator=order_rng).to(device)
                for i in range(0, n - 1, protocol.batch_size):  # no batch of one for the BatchNorm
                    index = order[i : i + protocol.batch_size]
                    loss = F.cross_entropy(head(features_of(index)), train_labels[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                advance()
    head.eval()
    with torch.no_grad():
        top = head(test_features).topk(min(5, num_classes), dim=1).indices
    hits = top == test_labels[:, None]
    return LinearResult(
        top1=100.0 * hits[:, 0].float().mean().item(), top5=100.0 * hits.any(dim=1).float().mean().item()
    )


def evaluate_linear(
    model: nn.Module | Features,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    num_classes: int,
    image_size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    protocol: LinearProtocol = LinearProtocol(),
    console: Console | None = None,
    description: str = "linear probe",
) -> LinearResult:
    """Linear-probe top-1 / top-5 (%) of the frozen `model` (a module, or a feature function such as `pixels`).

    `train` and `test` are (uint8 images, labels) on the evaluation device; images are normalised with (mean, std)
    at `image_size`, as in pre-training. The module is put in eval mode and restored after.
    """
    images, labels = train

    def prepare(x: Tensor) -> Tensor:
        return to_model_input(x, mean=mean, std=std, size=image_size)

    with frozen(model):
        test_features = embed_all(lambda x: model(prepare(x)), test[0])
        if protocol.augment:
            train_features: Tensor | Callable[[Tensor], Tensor] = _augmented(model, images, image_size, mean, std)
        else:
            train_features = embed_all(lambda x: model(prepare(x)), images)
    with frozen(model), torch.enable_grad():  # the probe learns; the features stay frozen (no_grad)
        return train_linear_probe(
            train_features,
            labels,
            test_features,
            test[1],
            num_classes=num_classes,
            protocol=protocol,
            console=console,
            description=description,
        )


def _augmented(
    model: nn.Module | Features, images: Tensor, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]
) -> Callable[[Tensor], Tensor]:
    """indices -> frozen float32 features of those train images under random resized crop + flip + normalisation.

    Random parameters are drawn on the images' device; the backbone runs in bf16 on CUDA, as in pre-training.
    """
    device = images.device
    ops = nn.Sequential(
        K.RandomResizedCrop(
            (image_size, image_size), scale=torch.tensor(SOLO_CROP_SCALE, device=device), cropping_mode="resample"
        ),
        K.RandomHorizontalFlip(),
        K.Normalize(mean=torch.tensor(mean, device=device), std=torch.tensor(std, device=device)),
    )
    for op in ops:
        op.set_rng_device_and_dtype(device, torch.float32)

    @torch.no_grad()
    def features(index: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            return model(ops(to_unit_float(images[index]))).float().flatten(1)

    return features
