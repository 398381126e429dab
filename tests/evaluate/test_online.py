"""The online probe learns from detached features and never changes the SSL gradients or random stream."""

from __future__ import annotations

import torch
from torch import nn

from zoo import create_method
from zoo.evaluate import OnlineLinearProbe


def _grads(method: nn.Module, views: list[torch.Tensor], probe: OnlineLinearProbe | None) -> list[torch.Tensor]:
    torch.manual_seed(7)
    method.zero_grad()
    method.loss(views).backward()
    if probe is not None:
        probe.step(torch.arange(len(views[0])) % 3)
    return [p.grad.clone() for p in method.parameters() if p.grad is not None]


def test_probe_leaves_the_ssl_gradients_unchanged() -> None:
    method = create_method("mi-binary", backbone="test_resnet", image_size=16, small_stem=False)
    views = [torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    without = _grads(method, views, None)
    probe = OnlineLinearProbe(method.backbone, method.num_features, 3, image_size=16, total_steps=10)
    with_probe = _grads(method, views, probe)
    assert probe.steps == 1 and len(without) == len(with_probe) > 0
    assert all(torch.equal(a, b) for a, b in zip(without, with_probe, strict=True))
    assert all(p.grad is not None for p in probe.head.parameters())  # it did learn, on its own parameters


def test_probe_learns_on_separable_features() -> None:
    backbone = nn.Flatten()  # the "features" are the inputs: two classes far apart
    probe = OnlineLinearProbe(backbone, 4, 2, image_size=2, total_steps=100)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 2, (n,), generator=g)
        return (labels[:, None] * 6.0 + torch.randn(n, 4, generator=g)).view(n, 1, 2, 2), labels

    for _ in range(100):
        images, labels = batch(32)
        with torch.enable_grad():
            backbone(torch.cat([images, images]))  # two "views", as a method's loss would forward them
        probe.step(labels)
    images, labels = batch(500)
    assert probe.top1(images.flatten(1), labels) > 95
    backbone.eval()
    backbone(images)
    assert probe._features == []  # evaluation forwards are not captured
