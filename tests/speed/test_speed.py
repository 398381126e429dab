"""Speed settings: what "auto" resolves to, the recipe keys, and torch.compile's fallback to eager."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo import speed
from zoo.errors import RecipeError
from zoo.recipes import recipe_from_dict
from zoo.speed import CompiledStep, StepSpeed, resolve_channels_last, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize(("setting", "fast", "expected"), [
    ("fp32", True, None), ("bf16", False, torch.bfloat16), ("auto", True, torch.bfloat16), ("auto", False, None),
])  # fmt: skip
def test_precision_auto_follows_the_hardware(
    monkeypatch: pytest.MonkeyPatch, setting: str, fast: bool, expected: torch.dtype | None
) -> None:
    monkeypatch.setattr(speed, "fast_bf16", lambda device: fast)
    assert resolve_precision(setting, CPU) is expected


def test_cpu_bf16_detection_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    for avx512_bf16, amx, expected in ((False, False, False), (True, False, True), (False, True, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        assert speed.fast_bf16(CPU) is expected


def test_channels_last_auto_and_explicit() -> None:
    assert resolve_channels_last("auto", CPU) is True
    assert resolve_channels_last(False, CPU) is False
    with pytest.raises(RecipeError, match="channels_last"):
        resolve_channels_last("sometimes", CPU)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("precision", "fp16", "run.precision: 'fp16' is not one of auto, bf16, fp32"),
    ("channels_last", "yes", "run.channels_last: 'yes' is not one of auto, True, False"),
    ("compile", "maybe", "run.compile: expected bool"),
])  # fmt: skip
def test_recipe_rejects_bad_speed_settings(key: str, value: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        recipe_from_dict({"run": {key: value}})


def test_step_speed_applies_autocast_and_memory_format() -> None:
    s = StepSpeed(device=CPU, autocast_dtype=torch.bfloat16, channels_last=True, compile=False)
    conv = s.prepare_model(nn.Conv2d(3, 4, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    (view,) = s.prepare_views([torch.randn(2, 3, 8, 8)])
    assert view.is_contiguous(memory_format=torch.channels_last)
    with s.autocast():
        assert conv(view).dtype == torch.bfloat16
    assert s.describe() == "bf16, channels_last"
    fp32 = StepSpeed(device=CPU, autocast_dtype=None, channels_last=False, compile=False)
    with fp32.autocast():
        assert conv(view).dtype == torch.float32


def test_compile_failure_falls_back_to_eager_with_one_message() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    messages: list[str] = []
    step = CompiledStep(model, enabled=True, warn=messages.append)
    assert step.active and model[0]._compiled_call_impl is not None

    def broken(*args: object, **kwargs: object) -> None:
        from torch._dynamo.exc import TorchDynamoException

        raise TorchDynamoException("no working C++ compiler found\nmore detail")

    model[0]._compiled_call_impl = broken  # as if compiling failed on this machine
    x = torch.randn(5, 4)
    out = step(lambda: model(x))
    assert not step.active and model[0]._compiled_call_impl is None
    assert messages == [
        "run.compile: torch.compile is not supported here (no working C++ compiler found); training runs eagerly"
    ]
    torch.testing.assert_close(out, model(x))
    assert step(lambda: model(x)) is not None and len(messages) == 1


def test_compile_keeps_state_dict_keys() -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    keys = list(model.state_dict())
    CompiledStep(model, enabled=True, warn=print)
    assert list(model.state_dict()) == keys  # checkpoints of compiled and eager runs are interchangeable
