"""How a training step runs fast: bf16 autocast, channels_last memory format and torch.compile, each resolved from
the recipe's `[run] precision`, `channels_last` and `compile` for the device at hand.

"auto" means: what measurably pays on this device without costing accuracy (see benchmarks/RESULTS.md). bf16
autocast pays on CUDA devices with bf16 and on CPUs with AVX-512 BF16 or AMX; elsewhere a CPU emulates bf16, which
is several times slower than float32. The losses keep their similarities in float32 either way (`Float32Loss`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from zoo.errors import RecipeError
from zoo.recipes import PRECISIONS


def fast_bf16(device: torch.device) -> bool:
    """True where bf16 matrix products run in hardware: CUDA with bf16, or a CPU with AVX-512 BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, hence looked up defensively
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `[run] precision` (None: float32 throughout)."""
    if setting not in PRECISIONS:
        raise RecipeError(f"run.precision must be one of {', '.join(PRECISIONS)}, got {setting!r}")
    if setting == "fp32" or (setting == "auto" and not fast_bf16(device)):
        return None
    return torch.bfloat16


def resolve_channels_last(setting: bool | str, device: torch.device) -> bool:
    """`[run] channels_last`: "auto" turns it on for CUDA and CPU convolutions (oneDNN and cuDNN prefer NHWC)."""
    if setting == "auto":
        return device.type in ("cuda", "cpu")
    if isinstance(setting, bool):
        return setting
    raise RecipeError(f"run.channels_last must be auto, true or false, got {setting!r}")


@dataclass(frozen=True)
class StepSpeed:
    """The resolved speed settings of one run's training step."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool
    compile: bool

    @classmethod
    def from_recipe(cls, run: Any, device: torch.device) -> StepSpeed:
        return cls(
            device=device,
            autocast_dtype=resolve_precision(run.precision, device),
            channels_last=resolve_channels_last(run.channels_last, device),
            compile=run.compile,
        )

    @property
    def precision(self) -> str:
        return "fp32" if self.autocast_dtype is None else "bf16"

    def describe(self) -> str:
        parts = [self.precision, "channels_last" if self.channels_last else "contiguous"]
        return ", ".join([*parts, "compiled"] if self.compile else parts)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_views(self, views: Sequence[Tensor]) -> list[Tensor]:
        if not self.channels_last:
            return list(views)
        return [v.contiguous(memory_format=torch.channels_last) for v in views]


def modules_with_parameters(model: nn.Module) -> list[nn.Module]:
    """The direct children of a method that compute with weights: backbone, heads, momentum copies (not losses)."""
    return [m for m in model.children() if any(True for _ in m.parameters())]


def compile_modules(model: nn.Module) -> list[nn.Module]:
    """torch.compile every direct child of `model` that holds parameters (backbone, heads, momentum copies), in place.

    `nn.Module.compile` keeps the module object and its state_dict keys, so checkpoints of compiled and eager runs
    are interchangeable. Compilation itself happens at the first call; `uncompile` undoes this.
    """
    compiled = modules_with_parameters(model)
    for module in compiled:
        module.compile()
    return compiled


def uncompile(modules: Sequence[nn.Module]) -> None:
    for module in modules:
        module._compiled_call_impl = None  # what nn.Module.compile set; eager calls again


def compile_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "torch.compile cannot run here" (no C++ compiler, unsupported Python or platform)."""
    errors: list[type[BaseException]] = []
    with contextlib.suppress(ImportError):
        from torch._dynamo.exc import TorchDynamoException

        errors.append(TorchDynamoException)
    with contextlib.suppress(ImportError):
        from torch._inductor.exc import InductorError

        errors.append(InductorError)
    return tuple(errors)


class CompiledStep:
    """Runs a step function on compiled modules, falling back to eager with one message if compilation fails.

    Dynamo and Inductor fail before the compiled graph runs, so retrying the same call eagerly repeats nothing.
    """

    def __init__(self, model: nn.Module, enabled: bool, warn: Callable[[str], None]) -> None:
        self.modules: list[nn.Module] = []
        self.warn = warn
        if enabled:
            try:
                self.modules = compile_modules(model)
            except RuntimeError as err:  # e.g. a Python version torch.compile does not support yet
                self._fall_back(err)

    @property
    def active(self) -> bool:
        return bool(self.modules)

    def _fall_back(self, err: BaseException) -> None:
        uncompile(self.modules)
        self.modules = []
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        self.warn(f"run.compile: torch.compile is not supported here ({first[:200]}); training runs eagerly")

    def __call__(self, fn: Callable[[], Tensor]) -> Tensor:
        if not self.modules:
            return fn()
        try:
            return fn()
        except compile_errors() as err:
            self._fall_back(err)
            return fn()


PhaseTimer = Callable[[str], contextlib.AbstractContextManager[Any]]
_UNTIMED = contextlib.nullcontext()


def untimed(name: str) -> contextlib.AbstractContextManager[Any]:
    """The training loop's phase timer: times nothing, costs nothing (no device synchronisation)."""
    return _UNTIMED
