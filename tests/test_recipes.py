"""Recipes: parsing, overrides, validation messages, the shipped recipe files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from zoo.errors import RecipeError
from zoo.recipes import dump_recipe, load_recipe, recipe_from_dict

RECIPES = sorted(Path(__file__).resolve().parent.parent.joinpath("recipes").glob("*.toml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipes_load_and_round_trip(path: Path) -> None:
    recipe = load_recipe(path)
    again = recipe_from_dict(tomllib.loads(dump_recipe(recipe)))
    assert again == recipe


def test_shipped_recipe_names_state_the_facts() -> None:
    for path in RECIPES:
        recipe = load_recipe(path)
        if path.stem != "quickstart" and "_cpu" not in path.stem:
            method = recipe.method.name.replace("-", "_")
            assert path.stem.startswith(method + "_" + recipe.data.dataset.replace("-", "_")), path.name


@pytest.mark.parametrize("dataset", ["cifar10", "fashion_mnist_small"])
def test_the_shipped_suites_hold_every_recipe_of_their_dataset(dataset: str) -> None:
    suites = RECIPES[0].parent / "suites"
    suite = "cifar10_methods" if dataset == "cifar10" else dataset
    listed = {
        (suites / run["recipe"]).resolve() for run in tomllib.loads((suites / f"{suite}.toml").read_text())["run"]
    }
    shipped = {p.resolve() for p in RECIPES if f"_{dataset}" in p.stem}
    assert shipped <= listed, sorted(p.name for p in shipped - listed)


def test_every_lars_recipe_states_its_trust_coefficient_and_clipping() -> None:
    """LARS's eta and clip_lr change the step ~5x: a recipe never leaves them to a default."""
    for path in RECIPES:
        optim = tomllib.loads(path.read_text()).get("optim", {})
        if optim.get("name") == "lars":
            assert {"eta", "clip_lr", "exclude_bias_n_norm"} <= set(optim), path.name


def test_overrides_are_parsed_as_toml() -> None:
    recipe = load_recipe(
        RECIPES[0], ["optim.lr=0.3", "schedule.epochs=7", "run.name=x", 'data.root="/data"', "data.download=true"]
    )
    assert (recipe.optim.lr, recipe.schedule.epochs, recipe.run.name) == (0.3, 7, "x")
    assert recipe.data.root == "/data" and recipe.data.download is True


def test_method_hyper_parameters_and_augment_overrides_are_open_ended() -> None:
    recipe = recipe_from_dict({"method": {"name": "mi-binary", "tau_neg": 0.2}, "augment": {"gray_p": 0.0}})
    assert recipe.method.hparams == {"tau_neg": 0.2} and recipe.augment.overrides == {"gray_p": 0.0}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"schedul": {}}, r"unknown section \[schedul\].*'schedule'"),
        ({"schedule": {"epoch": 3}}, r"unknown key schedule.epoch.*'epochs'"),
        ({"schedule": {"epochs": "ten"}}, r"schedule.epochs: expected int, got 'ten'"),
        ({"schedule": {"epochs": -1}}, r"schedule.epochs: expected a value >= 1, got -1"),
        ({"schedule": {"batch_size": 0}}, r"schedule.batch_size: expected a value >= 2, got 0"),
        ({"optim": {"name": "adagrad"}}, r"optim.name: 'adagrad' is not one of sgd, lars, adam, adamw"),
        ({"data": {"fraction": 1.5}}, r"data.fraction: expected a value <= 1.0"),
        ({"method": {"name": "simclrr"}}, r"unknown method 'simclrr'.*'simclr'"),
        ({"method": {"name": "mi-binary", "tau": 1.0}}, r"unknown hyper-parameter 'tau'.*'tau_pos'"),
        ({"method": {"name": "mi-binary", "tau_pos": "x"}}, r"tau_pos.*must be float"),
        ({"data": {"dataset": "cifar11"}}, r"unknown dataset 'cifar11'.*'cifar10'"),
        ({"augment": {"preset": "simclrr"}}, r"unknown augmentation preset 'simclrr'"),
        ({"augment": {"blurp": 0.1}}, r"unknown key augment.blurp.*'blur_p'"),
        ({"run": 3}, r"\[run\] must be a table"),
    ],
)
def test_validation_errors_name_key_value_and_choices(raw: dict, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw, source="r.toml")


def test_bad_override_syntax() -> None:
    for bad in ("optim.lr", "lr=0.1", "optim.=1", "nosuch.lr=1"):
        with pytest.raises(RecipeError, match="override"):
            load_recipe(RECIPES[0], [bad])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nname = 1")
    with pytest.raises(RecipeError, match="malformed TOML"):
        load_recipe(bad)
