"""The recipe loader and the `--set` parser on any input: a recipe or a `ZooError`, and what a run writes as its
recipe.toml always loads back to the same recipe (hypothesis)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.errors import ZooError
from zoo.methods import list_methods
from zoo.recipes import Recipe, apply_overrides, dump_recipe, load_recipe, recipe_from_dict

QUICKSTART = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.toml"
_KEYS = {
    sec: [f.name for f in dataclasses.fields(section)] for sec, section in vars(Recipe()).items() if sec != "source"
}
_NAMES = ["mi-binary", "simclr", "fashion-mnist-small", "mio", "test_resnet", "linear top-1", "quickstart", "cpu"]
_TEXT = st.one_of(st.sampled_from(_NAMES), st.text(max_size=12))
_SCALAR = st.one_of(
    st.integers(min_value=-5, max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    _TEXT,
)
_VALUE = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3), st.dictionaries(_TEXT, _SCALAR, max_size=2))
_SECTION = st.one_of(st.sampled_from([*_KEYS, "tau_pos"]), _TEXT)


_KNOWN = [f"{sec}.{key}" for sec, keys in _KEYS.items() for key in keys if key not in ("hparams", "overrides")]
_KNOWN += ["method.tau_pos", "method.proj_output_dim", "augment.gray_p", "augment.flip_p"]
_TOML_TEXT = st.one_of(  # the value of `--set key=value`: TOML, or a bare string
    st.integers(min_value=-5, max_value=2**40).map(str),
    st.floats().map(repr),
    st.text(max_size=12).map(json.dumps),  # a JSON string is a TOML basic string with any character escaped
    _TEXT,
)


@st.composite
def _raw_recipes(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    keys = st.one_of(st.sampled_from(_FREE_TEXT), st.sampled_from(_KNOWN), st.builds("{}.{}".format, _SECTION, _TEXT))
    for key in draw(st.lists(keys, max_size=3)):
        section, _, name = key.partition(".")
        table = raw.setdefault(section, {})
        if isinstance(table, dict):
            table[name] = draw(_VALUE)
    if draw(st.integers(0, 9)) == 0 and raw:
        raw[next(iter(raw))] = draw(_SCALAR)  # a section that is not a table
    return raw


_FREE_TEXT = ["run.name", "paper.source", "run.out_dir", "data.root", "method.tau_pos", "optim.lr", "run.seed"]
_OVERRIDE = st.one_of(
    st.builds("{}={}".format, st.sampled_from(_FREE_TEXT), _TOML_TEXT),
    st.builds("{}={}".format, st.sampled_from(_FREE_TEXT), _TOML_TEXT),
    st.builds("{}={}".format, st.sampled_from(_KNOWN), _TOML_TEXT),
    st.builds("{}.{}={}".format, _SECTION, _TEXT, _TOML_TEXT),
    st.text(max_size=30),
)


def _round_trips(recipe: Recipe, folder: Path) -> None:
    written = folder / "recipe.toml"
    written.write_text(dump_recipe(recipe), encoding="utf-8")
    assert load_recipe(written) == recipe


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_raw_recipes(), overrides=st.lists(_OVERRIDE, max_size=3))
def test_any_dict_and_overrides_load_or_raise_zoo_error(
    raw: dict[str, Any], overrides: list[str], tmp_path: Path
) -> None:
    try:
        apply_overrides(raw, overrides)
        recipe = recipe_from_dict(raw)
    except ZooError:
        return
    _round_trips(recipe, tmp_path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.lists(_OVERRIDE, min_size=1, max_size=3))
def test_a_shipped_recipe_with_any_overrides_loads_or_raises_zoo_error(overrides: list[str], tmp_path: Path) -> None:
    try:
        recipe = load_recipe(QUICKSTART, overrides)
    except ZooError:
        return
    _round_trips(recipe, tmp_path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode)))
def test_any_file_content_loads_or_raises_zoo_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "any.toml"
    path.write_bytes(content)
    try:
        recipe = load_recipe(path)
    except ZooError:
        return
    _round_trips(recipe, tmp_path)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ('run.name="../x"', "run.name: '../x' is not a folder name"),
        ('run.name="/abs/path"', "run.name: '/abs/path' is not a folder name"),
        ('run.name=""', "run.name: '' is not a folder name"),
        ('run.name="a\\nb"', "run.name: 'a\\nb' is not a folder name"),
        ("optim.lr=inf", "optim.lr: expected a finite number, got inf"),
        ("schedule.warmup_epochs=inf", "schedule.warmup_epochs: expected a finite number"),
        ("method.tau_neg=nan", "method.tau_neg: expected a finite number"),
        ("run.seed=100000000000000", "run.seed: expected a value <= 4294967295"),
        ("method.tau_pos=0", "method.tau_pos: expected a value > 0 for method 'mi-binary', got 0"),
    ],
)
def test_unsafe_values_are_refused_naming_the_file_and_key(override: str, expected: str) -> None:
    with pytest.raises(ZooError) as caught:
        load_recipe(QUICKSTART, [override])
    assert str(caught.value).startswith(f"{QUICKSTART}: ") and expected in str(caught.value)


def test_control_characters_in_text_are_escaped_so_the_recipe_reloads(tmp_path: Path) -> None:
    recipe = load_recipe(QUICKSTART, ['paper.source="line one\\nline \\"two\\"\\t\\u0007"'])
    assert tomllib.loads(dump_recipe(recipe))["paper"]["source"] == 'line one\nline "two"\t\x07'
    _round_trips(recipe, tmp_path)


def test_a_non_utf8_recipe_is_one_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[run]\nname = "caf\xe9"\n')
    with pytest.raises(ZooError, match=rf"{path}: not UTF-8 text \(byte 17\)"):
        load_recipe(path)


def test_method_names_stay_valid_inputs() -> None:
    assert "mi-binary" in list_methods()  # the strategies above lean on it to reach loadable recipes
