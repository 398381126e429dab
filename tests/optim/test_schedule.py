"""The warm-up + cosine schedule against solo-learn's formula, and static-lr groups."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from zoo.optim import warmup_cosine


def _lrs(warmup: int, total: int, **kw) -> tuple[list[float], list[float]]:
    w = torch.nn.Parameter(torch.zeros(2))
    v = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [w]}, {"params": [v], "static_lr": True}], lr=0.4)
    sched = warmup_cosine(opt, warmup, total, **kw)
    scheduled, static = [], []
    for _ in range(total + 1):
        scheduled.append(opt.param_groups[0]["lr"])
        static.append(opt.param_groups[1]["lr"])
        opt.step()
        sched.step()
    return scheduled, static


def test_warmup_then_cosine_as_solo_learn() -> None:
    lrs, static = _lrs(10, 50, warmup_start_lr=3e-5, min_lr=0.0)
    assert lrs[0] == pytest.approx(3e-5)
    assert lrs[5] == pytest.approx(3e-5 + 5 * (0.4 - 3e-5) / 9)
    assert lrs[9] == pytest.approx(0.4) and lrs[10] == pytest.approx(0.4)
    assert lrs[30] == pytest.approx(0.2 * (1 + math.cos(math.pi * 20 / 40)))
    assert lrs[50] == pytest.approx(0.0, abs=1e-12)
    assert static == [0.4] * 51


def test_no_warmup_and_a_floor() -> None:
    lrs, _ = _lrs(0, 20, warmup_start_lr=3e-5, min_lr=0.01)
    assert lrs[0] == pytest.approx(0.4)
    assert lrs[20] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(lrs))
