"""zoo's LARS against the reference formula (solo-learn's per-parameter loop) and against lightly's LARS."""

from __future__ import annotations

import copy

import pytest
import torch
from lightly.utils.lars import LARS as LightlyLARS
from torch import nn

from zoo.optim import LARS, create_optimizer


def reference_step(params, grads, buffers, *, lr, momentum, wd, eta, clip_lr, exclude, eps=1e-8):
    """One LARS step written out per parameter with Python numbers (the formula of the module docstring)."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        d = g.clone()
        p_norm, g_norm = p.norm().item(), g.norm().item()
        if not (exclude and p.ndim == 1) and p_norm > 0 and g_norm > 0:
            ratio = eta * p_norm / (g_norm + wd * p_norm + eps)
            if clip_lr:
                ratio = min(ratio / lr, 1.0)
            d = (g + wd * p) * ratio
        buffers[i] = d.clone() if buffers[i] is None else momentum * buffers[i] + d
        p -= lr * buffers[i]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()


def _grads(model: nn.Module, step: int) -> None:
    g = torch.Generator().manual_seed(step)
    x = torch.randn(8, 6, generator=g, dtype=torch.float64)
    model.zero_grad()
    model(x).pow(2).mean().backward()


@pytest.mark.parametrize("clip_lr", [False, True])
@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("lr", [0.05, 2.0])
def test_lars_matches_the_reference_formula(clip_lr: bool, exclude: bool, lr: float) -> None:
    model = _model()
    with torch.no_grad():
        model[0].bias.zero_()  # a zero-norm parameter takes the plain gradient
    params = [p.detach().clone() for p in model.parameters()]
    buffers: list = [None] * len(params)
    kw = {"lr": lr, "momentum": 0.9, "wd": 1e-4, "eta": 0.02, "clip_lr": clip_lr, "exclude": exclude}
    settings = {"momentum": 0.9, "weight_decay": 1e-4, "eta": 0.02, "clip_lr": clip_lr}
    opt = LARS(model.parameters(), lr=lr, exclude_bias_n_norm=exclude, **settings)
    for step in range(4):
        _grads(model, step)
        reference_step(params, [p.grad.clone() for p in model.parameters()], buffers, **kw)
        opt.step()
        for ours, ref in zip(model.parameters(), params, strict=True):
            torch.testing.assert_close(ours.detach(), ref, rtol=1e-12, atol=1e-12)


def test_clip_lr_caps_the_rate_at_lr() -> None:
    """With a huge eta every ratio clips to 1: LARS with clip_lr is then SGD with momentum (weight decay added)."""
    model = _model()
    sgd_model = copy.deepcopy(model)
    lars = LARS(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, eta=1e6, clip_lr=True)
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for step in range(3):
        for m, opt in ((model, lars), (sgd_model, sgd)):
            _grads(m, step)
            opt.step()
    for a, b in zip(model.parameters(), sgd_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_lars_without_clip_equals_lightly() -> None:
    """lightly's LARS excludes zero-decay groups; zoo's excludes 1-D parameters: with the usual groups they agree."""
    model = _model()
    twin = copy.deepcopy(model)

    def groups(m: nn.Module) -> list[dict]:
        return [
            {"params": [p for p in m.parameters() if p.ndim > 1]},
            {"params": [p for p in m.parameters() if p.ndim <= 1], "weight_decay": 0.0},
        ]

    ours = LARS(groups(model), lr=0.3, momentum=0.9, weight_decay=1e-5, eta=0.02, exclude_bias_n_norm=True)
    theirs = LightlyLARS(groups(twin), lr=0.3, momentum=0.9, weight_decay=1e-5, trust_coefficient=0.02)
    for step in range(4):
        for m, opt in ((model, ours), (twin, theirs)):
            _grads(m, step)
            opt.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_state_dict_round_trip_continues_identically() -> None:
    model = _model()
    opt = LARS(model.parameters(), lr=0.3, weight_decay=1e-4, eta=0.02, clip_lr=True)
    _grads(model, 0)
    opt.step()
    twin = copy.deepcopy(model)
    twin_opt = LARS(twin.parameters(), lr=0.3, weight_decay=1e-4, eta=0.02, clip_lr=True)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    for m, o in ((model, opt), (twin, twin_opt)):
        _grads(m, 1)
        o.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_create_optimizer_rejects_unknown_names() -> None:
    from zoo import ZooError

    with pytest.raises(ZooError, match="unknown optimizer 'lamb'"):
        create_optimizer("lamb", [{"params": [nn.Parameter(torch.ones(2))]}], lr=0.1, weight_decay=0.0)


def test_adam_and_adamw_are_torchs() -> None:
    """solo-learn's "adam" (W-MSE's CIFAR recipe) is torch's Adam: weight decay added to the gradient (L2)."""
    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = create_optimizer(name, [{"params": [nn.Parameter(torch.ones(2))]}], lr=2e-3, weight_decay=1e-6)
        assert type(opt) is cls and (opt.defaults["lr"], opt.defaults["weight_decay"]) == (2e-3, 1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_lars_step_never_syncs_with_the_host() -> None:
    model = _model().float().cuda()
    opt = LARS(model.parameters(), lr=0.3, weight_decay=1e-4, eta=0.02, clip_lr=True, exclude_bias_n_norm=True)
    x = torch.randn(8, 6, device="cuda")
    model(x).pow(2).mean().backward()
    torch.cuda.set_sync_debug_mode("error")
    try:
        opt.step()
        opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
