"""The offline linear probe: near 100 % where the classes are linearly separable, near chance where nothing is."""

from __future__ import annotations

import torch

from zoo.evaluate import LinearProtocol, evaluate_linear, pixels, train_linear_probe

FAST = LinearProtocol(epochs=20, batch_size=64, augment=False)


def _separable(n: int, classes: int = 4, dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters around far-apart class means, scaled large (the probe must not care about the scale)."""
    g = torch.Generator().manual_seed(seed)
    means = 10 * torch.eye(classes, dim)
    labels = torch.randint(0, classes, (n,), generator=g)
    return 50 * (means[labels] + torch.randn(n, dim, generator=g)), labels


def test_separable_features_are_classified_almost_perfectly() -> None:
    (x, y), (xt, yt) = _separable(800), _separable(400, seed=1)
    result = train_linear_probe(x, y, xt, yt, num_classes=4, protocol=FAST)
    assert result.top1 > 98 and result.top5 == 100.0


def test_random_features_and_labels_give_chance() -> None:
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(800, 16, generator=g), torch.randn(2000, 16, generator=g)
    y, yt = torch.randint(0, 10, (800,), generator=g), torch.randint(0, 10, (2000,), generator=g)
    result = train_linear_probe(x, y, xt, yt, num_classes=10, protocol=FAST)
    assert 5 < result.top1 < 16 and 40 < result.top5 < 60


def test_probe_is_deterministic_and_leaves_the_global_random_state_alone() -> None:
    (x, y), (xt, yt) = _separable(200), _separable(100, seed=1)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = train_linear_probe(x, y, xt, yt, num_classes=4, protocol=LinearProtocol(epochs=2, augment=False))
    assert torch.equal(torch.rand(3), expected)
    assert train_linear_probe(x, y, xt, yt, num_classes=4, protocol=LinearProtocol(epochs=2, augment=False)) == first


def test_augmented_probe_on_images() -> None:
    """Images whose class is their brightness: crops and flips keep it, so the probe on pixels learns it."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (256,), generator=g)
    images = (labels[:, None, None, None] * 150 + torch.randint(0, 100, (256, 1, 12, 12), generator=g)).to(torch.uint8)
    train, test = (images[:192], labels[:192]), (images[192:], labels[192:])
    protocol = LinearProtocol(epochs=5, batch_size=32, augment=True)
    kwargs = {"num_classes": 2, "image_size": 8, "mean": (0.5,), "std": (0.25,), "protocol": protocol}
    result = evaluate_linear(pixels, train, test, **kwargs)
    assert result.top1 > 95
    assert evaluate_linear(pixels, train, test, **kwargs) == result
