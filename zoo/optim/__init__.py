"""Optimisers and schedules zoo needs beyond torch: LARS with `clip_lr` and no host sync, warm-up + cosine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

from zoo.optim.lars import LARS
from zoo.optim.schedule import warmup_cosine, warmup_cosine_factor
from zoo.registry import unknown

OPTIMIZERS = ("sgd", "lars", "adam", "adamw")


def create_optimizer(
    name: str,
    groups: list[dict[str, Any]],
    *,
    lr: float,
    weight_decay: float,
    momentum: float = 0.9,
    eta: float = 1e-3,
    clip_lr: bool = False,
    exclude_bias_n_norm: bool = True,
) -> Optimizer:
    """SGD (momentum), LARS (zoo's), Adam or AdamW over `groups`; a group's own keys (weight_decay 0, ...) win.

    Adam adds weight decay to the gradient (L2, as solo-learn's "adam"), AdamW decays the weights apart from it.

    `exclude_bias_n_norm` is LARS's exclusion of 1-D parameters from the trust ratio; weight decay of those
    parameters is decided by the groups (`Method.param_groups(exclude_bias_n_norm=...)`).
    """
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "lars":
        return LARS(
            groups,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            eta=eta,
            clip_lr=clip_lr,
            exclude_bias_n_norm=exclude_bias_n_norm,
        )
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    raise unknown("optimizer", name, OPTIMIZERS)


__all__ = ["LARS", "OPTIMIZERS", "create_optimizer", "optimizer_from_recipe", "warmup_cosine", "warmup_cosine_factor"]


def optimizer_from_recipe(optim: Any, param_groups: Callable[..., list[dict[str, Any]]]) -> Optimizer:
    """A recipe's `[optim]` section over a method's `param_groups` (1-D parameters excluded as the section says)."""
    return create_optimizer(
        optim.name,
        param_groups(exclude_bias_n_norm=optim.exclude_bias_n_norm),
        lr=optim.lr,
        weight_decay=optim.weight_decay,
        momentum=optim.momentum,
        eta=optim.eta,
        clip_lr=optim.clip_lr,
        exclude_bias_n_norm=optim.exclude_bias_n_norm,
    )
