"""The online linear probe of solo-learn (methods/base.py): during pre-training a linear head learns to classify
the *detached* backbone features of every batch from its labels, and its test top-1 is a cheap running estimate
of the linear-evaluation metric.

The features are the ones the SSL loss already computed (a forward hook on the backbone, global views only), so
the probe costs one small matrix product per step and never adds to, or changes, the SSL gradients or its random
stream. Unlike solo-learn, which puts the head in the SSL optimiser at `classifier_lr`, the head has its own SGD
(momentum 0.9, lr `online_lr` = 0.1 (solo-learn's CIFAR `classifier_lr`), weight decay `online_wd` = 0, cosine over
the run), so the method's optimiser and its LARS/weight-decay groups stay exactly as without it. As in the offline
probe, a BatchNorm without affine parameters precedes the linear layer (the feature scale drifts during training).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.distributed import average_gradients
from zoo.evaluate.linear import linear_head


class OnlineLinearProbe:
    """A linear head trained on the detached features `backbone` produces for images of `image_size`."""

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        num_classes: int,
        *,
        image_size: int,
        total_steps: int,
        lr: float = 0.1,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        with torch.random.fork_rng(devices=[]):  # the SSL random stream is not touched
            torch.manual_seed(seed)
            self.head = linear_head(num_features, num_classes, bn_momentum=0.1)  # tracks the features' drift
        self.head.to(device)
        self.optimizer = torch.optim.SGD(self.head.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.base_lr, self.total_steps, self.image_size = lr, max(total_steps, 1), image_size
        self.steps = 0
        self._features: list[Tensor] = []
        self._hook = backbone.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if module.training and torch.is_grad_enabled() and inputs[0].shape[-1] == self.image_size:
            self._features.append(output.detach())

    def step(self, labels: Tensor) -> None:
        """One SGD step on the features captured since the last step (every global view), then forget them."""
        features, self._features = self._features, []
        if not features:
            return
        x = torch.cat(features).float().flatten(1)
        y = labels.repeat(len(x) // len(labels))
        for group in self.optimizer.param_groups:  # cosine, a host float: no device sync
            group["lr"] = self.base_lr * 0.5 * (1 + math.cos(math.pi * min(self.steps / self.total_steps, 1.0)))
        # unlabeled images (label -1, STL-10's unlabeled split) do not count, as in solo-learn; no host sync
        loss = F.cross_entropy(self.head(x), y, ignore_index=-1, reduction="sum") / (y >= 0).sum().clamp(min=1)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(list(self.head.parameters()))  # every rank's head learns from the global batch
        self.optimizer.step()
        self.steps += 1

    @torch.no_grad()
    def top1(self, features: Tensor, labels: Tensor) -> float:
        """Top-1 (%) of the head on (un-normalised) features, e.g. of the test split."""
        self.head.eval()
        correct = (self.head(features.float()).argmax(dim=1) == labels).float().mean()
        self.head.train()
        return 100.0 * correct.item()

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = state["steps"]

    def remove(self) -> None:
        """Detach the hook from the backbone."""
        self._hook.remove()
