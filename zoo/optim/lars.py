"""LARS (You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", arXiv 1708.03888), as the
SSL references run it: SimCLR, BYOL and solo-learn's CIFAR recipes (solo-learn solo/utils/lars.py).

Per parameter p with gradient g, weight decay wd, trust coefficient eta and learning rate lr:

    ratio = eta * ||p|| / (||g|| + wd * ||p|| + eps)        (only where ||p|| > 0 and ||g|| > 0)
    clip_lr:  ratio = min(ratio / lr, 1)                     (the step lr * ratio never exceeds lr)
    d     = ratio * (g + wd * p)                             (where ||p|| = 0 or ||g|| = 0: d = g)
    v     = momentum * v + d;   p -= lr * v

With `exclude_bias_n_norm`, 1-D parameters (biases, norm scales and shifts) skip the adaptation and the weight
decay: d = g. lightly's `LARS` is this optimiser without `clip_lr`, with parameters of zero weight decay excluded
instead of 1-D ones. Unlike both, the norms and ratios here stay on the device as tensors (torch._foreach ops):
no step reads a value back to the host, so a GPU never waits on the optimiser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer


class LARS(Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (see the module docstring for the exact update).

    Args:
        params: parameters or parameter groups; a group may override any argument below.
        lr: learning rate.
        momentum: heavy-ball momentum (PyTorch's form: v = momentum * v + d).
        weight_decay: L2 penalty added to the gradient before the trust ratio scales it.
        eta: trust coefficient (solo-learn's CIFAR recipes: 0.02; the LARS paper and lightly: 0.001).
        clip_lr: cap each parameter's effective rate lr * ratio at lr (solo-learn's `clip_lr`).
        exclude_bias_n_norm: 1-D parameters get neither adaptation nor weight decay (solo-learn, SimCLR, BYOL).
        eps: added to the denominator of the trust ratio.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 1e-3,
        clip_lr: bool = False,
        exclude_bias_n_norm: bool = False,
        eps: float = 1e-8,
    ) -> None:
        if lr <= 0 or momentum < 0 or weight_decay < 0 or eta <= 0 or eps < 0:
            raise ValueError(
                f"LARS needs lr > 0, eta > 0 and momentum, weight_decay, eps >= 0; got lr={lr}, "
                f"momentum={momentum}, weight_decay={weight_decay}, eta={eta}, eps={eps}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "eta": eta,
            "clip_lr": clip_lr,
            "exclude_bias_n_norm": exclude_bias_n_norm,
            "eps": eps,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            exclude = group["exclude_bias_n_norm"]
            adapted = [p for p in params if not (exclude and p.ndim == 1)]
            updates = {id(p): p.grad for p in params}
            if adapted:
                for p, d in zip(adapted, self._adapted_updates(adapted, group), strict=True):
                    updates[id(p)] = d
            self._apply(params, [updates[id(p)] for p in params], group)
        return loss

    @staticmethod
    def _adapted_updates(params: list[Tensor], group: dict[str, Any]) -> list[Tensor]:
        """ratio * (g + wd * p) for every parameter, computed with device tensors only (no host sync)."""
        grads = [p.grad for p in params]
        wd, lr = group["weight_decay"], group["lr"]
        p_norm = torch.stack(torch._foreach_norm(params))
        g_norm = torch.stack(torch._foreach_norm(grads))
        ratio = group["eta"] * p_norm / (g_norm + wd * p_norm + group["eps"])
        if group["clip_lr"]:
            ratio = torch.clamp(ratio / lr, max=1.0)
        active = (p_norm > 0) & (g_norm > 0)
        scale = torch.where(active, ratio, torch.ones_like(ratio))
        decay = torch.where(active, torch.full_like(ratio, wd), torch.zeros_like(ratio))
        decayed = torch._foreach_add(grads, torch._foreach_mul(params, list(decay.to(params[0].dtype).unbind())))
        return torch._foreach_mul(decayed, list(scale.to(params[0].dtype).unbind()))

    def _apply(self, params: list[Tensor], updates: list[Tensor], group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        if momentum:
            # a zero buffer makes the first step v = d, as PyTorch's SGD (which clones d) does
            for p in params:
                if "momentum_buffer" not in self.state[p]:
                    self.state[p]["momentum_buffer"] = torch.zeros_like(p)
            buffers = [self.state[p]["momentum_buffer"] for p in params]
            torch._foreach_mul_(buffers, momentum)
            torch._foreach_add_(buffers, updates)
            updates = buffers
        torch._foreach_add_(params, updates, alpha=-group["lr"])
