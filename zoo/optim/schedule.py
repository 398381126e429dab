"""Learning-rate schedule of the SSL references: linear warm-up from `warmup_start_lr`, then cosine to `min_lr`.

The closed form of solo-learn's `LinearWarmupCosineAnnealingLR` (solo-learn solo/utils/lr_scheduler.py, from
Lightning Bolts) stepped once per optimiser step, which is what its CIFAR recipes do (`scheduler.interval: step`):
step t < W rises linearly from warmup_start_lr and reaches the base lr at t = W - 1; from t = W the rate follows
min_lr + (lr - min_lr) (1 + cos(pi (t - W) / (T - W))) / 2. A parameter group with `static_lr = True` keeps its
base rate throughout (SimSiam's predictor, paper sec. 4.4; solo-learn's `static_lr`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine_factor(
    step: int, warmup_steps: int, total_steps: int, start_factor: float = 0.0, end_factor: float = 0.0
) -> float:
    """The multiple of the base rate at optimiser step `step` (0-based); factors are relative to the base rate."""
    if step < warmup_steps:
        return start_factor + (1.0 - start_factor) * step / max(warmup_steps - 1, 1)
    if total_steps <= warmup_steps:
        return 1.0
    progress = min((step - warmup_steps) / (total_steps - warmup_steps), 1.0)
    return end_factor + (1.0 - end_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(
    optimizer: Optimizer, warmup_steps: int, total_steps: int, *, warmup_start_lr: float = 3e-5, min_lr: float = 0.0
) -> LambdaLR:
    """A per-step scheduler for every group of `optimizer`; groups marked `static_lr` are left at their base rate.

    `warmup_start_lr` and `min_lr` are absolute rates (solo-learn's defaults: 3e-5 and 0), the same for every
    scheduled group; a group whose base rate is below `warmup_start_lr` starts at its base rate.
    """

    def factor_of(group: dict) -> Callable[[int], float]:
        if group.get("static_lr", False):
            return lambda step: 1.0
        base = group["lr"]
        start, end = (min(warmup_start_lr / base, 1.0), min_lr / base) if base > 0 else (0.0, 0.0)
        return lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, start, end)

    return LambdaLR(optimizer, [factor_of(g) for g in optimizer.param_groups])
