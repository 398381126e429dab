"""TOML recipes -> typed, validated `Recipe` objects; `key.path=value` overrides; the resolved recipe as TOML.

A recipe ties method, backbone, dataset, augmentation, schedule, optimiser and evaluation together. Every mistake
(unknown key, wrong type, value out of range, unknown name) is a `RecipeError` naming the file, the key, the bad
value and what would be valid.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import RecipeError, ZooError
from zoo.registry import did_you_mean

PRECISIONS = ("auto", "bf16", "fp32")


def _spec(default: Any = dataclasses.MISSING, **rules: Any) -> Any:
    """A dataclass field with validation rules: ge, gt, le, choices."""
    return field(default=default, metadata=rules)


@dataclass
class RunSection:
    name: str = "run"  # one folder name: no path separators, no control characters (see _check_run_name)
    seed: int = _spec(0, ge=0, le=2**32 - 1)  # numpy's seed range; zoo derives per-step seeds from it
    out_dir: str = "runs"
    device: str = _spec("auto", choices=("auto", "cpu", "cuda"))
    keep_checkpoints: int | list[int] = _spec(0, ge=0)  # noqa: RUF009 (an int default) epoch-N.pt copies: every N epochs, or these epochs
    # the training step's speed settings, resolved per device in zoo/speed.py
    precision: str = _spec("auto", choices=PRECISIONS)  # auto: bf16 where the hardware runs it
    channels_last: bool | str = _spec("auto", choices=("auto", True, False))
    compile: bool = False  # torch.compile of the method's modules (falls back to eager where unsupported)
    tensorboard: bool = False  # event files in <run folder>/tensorboard (needs the tensorboard package)
    sync_bn: bool | None = None  # under torchrun: BatchNorm over the global batch (None: as the method's reference)


@dataclass
class MethodSection:
    name: str = "mi-binary"
    hparams: dict[str, Any] = field(default_factory=dict)  # every other key of [method]


@dataclass
class BackboneSection:
    name: str = "resnet18"
    image_size: int = _spec(32, ge=8)
    small_stem: bool | None = None


@dataclass
class DataSection:
    dataset: str = "cifar10"
    root: str | None = None
    download: bool = False
    fraction: float = _spec(1.0, gt=0.0, le=1.0)
    store_size: int | None = _spec(None, ge=8)  # folder datasets: decoded size in px (None: the dataset's default)
    skip_corrupt: bool = False  # folder datasets: skip unreadable images (counted) instead of stopping
    labels: bool = True  # image-folder: false reads an unlabeled folder, for pre-training only
    eval_root: str | None = None  # a labelled image-folder root to evaluate on instead of the dataset's own splits
    device_memory_budget: float | str = "auto"  # GB the training data may take on the device, or "auto"


@dataclass
class AugmentSection:
    preset: str | None = None  # None: the method's published preset
    overrides: dict[str, Any] = field(default_factory=dict)  # every other key of [augment]


@dataclass
class ScheduleSection:
    epochs: int = _spec(200, ge=1)
    batch_size: int = _spec(256, ge=2)
    warmup_epochs: float = _spec(10.0, ge=0.0)
    warmup_start_lr: float = _spec(3e-5, ge=0.0)  # absolute; solo-learn's default
    min_lr: float = _spec(0.0, ge=0.0)  # where the cosine ends
    log_every: int = _spec(20, ge=1)


@dataclass
class OptimSection:
    name: str = _spec("sgd", choices=("sgd", "lars", "adam", "adamw"))
    lr: float = _spec(0.1, gt=0.0)
    weight_decay: float = _spec(5e-4, ge=0.0)
    momentum: float = _spec(0.9, ge=0.0, le=1.0)
    eta: float = _spec(0.001, gt=0.0)  # LARS only: trust coefficient of You et al. 2017 (their default)
    clip_lr: bool = False  # LARS only: cap each parameter's rate lr * ratio at lr (solo-learn)
    exclude_bias_n_norm: bool = True  # 1-D parameters: no weight decay, and no LARS adaptation


@dataclass
class EvalSection:
    knn_k: int = _spec(200, ge=1)
    knn_t: float = _spec(0.1, gt=0.0)
    knn_every: int = _spec(0, ge=0)  # 0: only at the start (init, pixels) and at the end
    # offline linear probe after training (zoo/evaluate/linear.py; solo-learn's protocol); 0 epochs: none
    linear_epochs: int = _spec(100, ge=0)
    linear_lr: float = _spec(0.1, gt=0.0)
    linear_wd: float = _spec(0.0, ge=0.0)
    linear_batch_size: int = _spec(256, ge=1)
    linear_augment: bool = True  # False: features extracted once (fast, deterministic)
    # online linear probe on detached features during pre-training (zoo/evaluate/online.py)
    online_linear: bool = True
    online_lr: float = _spec(0.1, gt=0.0)
    online_wd: float = _spec(0.0, ge=0.0)


# What a [paper] value measures; reports compute a delta only against our number of the same metric.
PAPER_METRICS = ("linear top-1", "online linear top-1", "knn top-1")


@dataclass
class PaperSection:
    value: float | None = None
    metric: str = _spec("", choices=("", *PAPER_METRICS))
    source: str = ""


@dataclass
class Recipe:
    run: RunSection = field(default_factory=RunSection)
    method: MethodSection = field(default_factory=MethodSection)
    backbone: BackboneSection = field(default_factory=BackboneSection)
    data: DataSection = field(default_factory=DataSection)
    augment: AugmentSection = field(default_factory=AugmentSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    optim: OptimSection = field(default_factory=OptimSection)
    eval: EvalSection = field(default_factory=EvalSection)
    paper: PaperSection = field(default_factory=PaperSection)
    source: str = field(default="<dict>", compare=False)  # the file it came from, for messages

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain sections as in the TOML file (open-ended sections flattened back, None values left out)."""
        out: dict[str, dict[str, Any]] = {}
        for sec in _SECTIONS:
            values = dataclasses.asdict(getattr(self, sec))
            values.update(values.pop(_OPEN_ENDED.get(sec, ""), {}) or {})
            out[sec] = {k: v for k, v in values.items() if v is not None}
        return out


_SECTIONS = [f.name for f in dataclasses.fields(Recipe) if f.name != "source"]
_OPEN_ENDED = {"method": "hparams", "augment": "overrides"}  # sections whose extra keys are validated elsewhere


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read a TOML recipe, apply `overrides` ("section.key=value", values parsed as TOML) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {str(path)!r} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise RecipeError(f"{path}: not UTF-8 text (byte {err.start}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{path}: malformed TOML: {err}") from None
    except OSError as err:
        raise RecipeError(f"recipe file {str(path)!r} cannot be read: {err.strerror}") from None
    apply_overrides(raw, overrides, str(path))
    return recipe_from_dict(raw, source=str(path))


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], source: str = "<dict>") -> None:
    """Set each "a.b=value" in the nested dict `raw`; the value is TOML, or a bare string if it is not TOML."""
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise RecipeError(f"bad override {item!r}: expected section.key=value, e.g. optim.lr=0.3")
        section, name = parts
        if section not in _SECTIONS:
            raise RecipeError(f"bad override {item!r}: unknown section [{section}]: {did_you_mean(section, _SECTIONS)}")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise RecipeError(f"{source}: [{section}] must be a table, got {table!r}")
        table[name] = _parse_value(text.strip())


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # `method.name=simclr` needs no quotes


def recipe_from_dict(raw: dict[str, Any], source: str = "<dict>") -> Recipe:
    """Validate a nested dict (as read from TOML) into a `Recipe`."""
    unknown_sections = [s for s in raw if s not in _SECTIONS]
    if unknown_sections:
        s = unknown_sections[0]
        raise RecipeError(f"{source}: unknown section [{s}]: {did_you_mean(s, _SECTIONS)}")
    sections = {}
    for sec in _SECTIONS:
        values = raw.get(sec, {})
        if not isinstance(values, dict):
            raise RecipeError(f"{source}: [{sec}] must be a table, got {values!r}")
        for key, value in values.items():
            _check_plain(f"{source}: {sec}.{key}", value)
        sections[sec] = _section(sec, values, source)
    recipe = Recipe(**sections, source=source)
    _check_run_name(recipe.run.name, source)
    _check_names(recipe)
    return recipe


def _check_plain(where: str, value: Any) -> None:
    """Finite numbers and writable text only, at any depth: nan or inf would train at nan, and a lone surrogate
    (from a non-UTF-8 command line) could not be written back to recipe.toml."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RecipeError(f"{where}: expected a finite number, got {value!r}")
    if isinstance(value, str) and _SURROGATE.search(value):
        raise RecipeError(f"{where}: {value!r} is not valid UTF-8 text")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _check_plain(f"{where}.{key}" if isinstance(value, dict) else where, item)


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _check_run_name(name: str, source: str) -> None:
    """run.name becomes one folder under run.out_dir: it must not reach outside it or be unprintable."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or _CONTROL.search(name):
        raise RecipeError(
            f"{source}: run.name: {name!r} is not a folder name: use one non-empty path component without "
            f"'/', '\\' or control characters (run.out_dir says where it goes)"
        )


def _section(sec: str, values: dict[str, Any], source: str) -> Any:
    cls = typing.get_type_hints(Recipe)[sec]
    hints = typing.get_type_hints(cls)
    open_field = _OPEN_ENDED.get(sec)
    fixed = {f.name: f for f in dataclasses.fields(cls) if f.name != open_field}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fixed:
            if open_field:
                extra[key] = value
                continue
            raise RecipeError(f"{source}: unknown key {sec}.{key}: {did_you_mean(key, fixed)}")
        kwargs[key] = _check_value(f"{source}: {sec}.{key}", value, hints[key], fixed[key].metadata)
    if open_field:
        kwargs[open_field] = extra
    return cls(**kwargs)


def _check_value(where: str, value: Any, hint: Any, rules: typing.Mapping[str, Any]) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) not in allowed:
        raise RecipeError(f"{where}: a value is required")
    if not any(_is_instance(value, t) for t in allowed):
        names = " or ".join("none" if t is type(None) else t.__name__ for t in allowed)
        raise RecipeError(f"{where}: expected {names}, got {value!r}")
    if isinstance(value, int) and float in allowed and not isinstance(value, bool):
        value = float(value)
    _check_rules(where, value, rules)
    return value


def _is_instance(value: Any, t: Any) -> bool:
    if t is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(t) is list:
        return isinstance(value, list) and all(_is_instance(v, typing.get_args(t)[0]) for v in value)
    return isinstance(value, typing.get_origin(t) or t)


def _check_rules(where: str, value: Any, rules: typing.Mapping[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, list):  # the rules hold for every element
        for item in value:
            _check_rules(where, item, rules)
        return
    if "choices" in rules and value not in rules["choices"]:
        valid = ", ".join(str(c) or '""' for c in rules["choices"])
        raise RecipeError(f"{where}: {value!r} is not one of {valid}")
    for rule, ok, text in (
        ("ge", lambda v, b: v >= b, ">="),
        ("gt", lambda v, b: v > b, ">"),
        ("le", lambda v, b: v <= b, "<="),
    ):
        if rule in rules and not ok(value, rules[rule]):
            raise RecipeError(f"{where}: expected a value {text} {rules[rule]}, got {value!r}")


def _check_names(recipe: Recipe) -> None:
    """Names and hyper-parameters that only the registries can judge, checked now rather than mid-run."""
    from zoo.augment import PRESETS, preset_fields
    from zoo.data import DATASETS
    from zoo.methods import get_method_class
    from zoo.methods.base import resolve_hparams

    try:
        resolve_hparams(get_method_class(recipe.method.name), recipe.method.hparams)
        DATASETS.get(recipe.data.dataset)
        if recipe.augment.preset is not None:
            PRESETS.get(recipe.augment.preset)
        for key in recipe.augment.overrides:
            if key not in preset_fields():
                raise ZooError(f"unknown key augment.{key}: {did_you_mean(key, preset_fields())}")
    except ZooError as err:
        raise RecipeError(f"{recipe.source}: {err}") from None


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as TOML text (what a run folder keeps as recipe.toml); it always loads back to `recipe`."""
    lines: list[str] = []
    for sec, values in recipe.to_dict().items():
        lines.append(f"[{sec}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)


_BARE_KEY = re.compile("[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped (TOML 1.0, "Strings")."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
