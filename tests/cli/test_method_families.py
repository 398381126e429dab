"""Acceptance: every registered method trains end to end on the embedded data with its published defaults.

The quickstart recipe is the base, shrunk to a tiny run; its [method] keeps only the name (tau_pos and tau_neg belong
to mi-binary and every other method rejects them) and its [augment] is emptied, so each method gets its own preset.
Every method goes through the CLI, `zoo train base.toml --set method.name=...`, as the wider zoo's acceptance asks.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import tiny_backbone_settings
from zoo import list_methods
from zoo.cli import main
from zoo.methods import get_method_class
from zoo.recipes import apply_overrides, dump_recipe, recipe_from_dict

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
TINY = {
    "backbone": {"image_size": 28},  # name and stem: tiny_backbone_settings
    "data": {"fraction": 0.04},
    "schedule": {"epochs": 1, "batch_size": 50, "warmup_epochs": 0.5, "log_every": 4},
    "optim": {"lr": 0.05},  # quickstart's 0.3 suits mi-binary; VICReg's loss (weights 25/25/1) diverges with it
    "eval": {"knn_k": 20, "linear_epochs": 2, "linear_augment": False},
}
STEPS = 8  # 400 images (4 % of 10k) in batches of 50


def _base_recipe(out_dir: Path, method: str) -> dict:
    """quickstart.toml, tiny, without mi-binary's hyper-parameters or augmentation preset, on the tiny backbone
    `method` needs."""
    raw = tomllib.loads(QUICKSTART.read_text())
    raw["method"] = {"name": raw["method"]["name"]}
    raw["augment"] = {}
    for section, values in TINY.items():
        raw[section].update(values)
    apply_overrides(raw, tiny_backbone_settings(method))
    raw["run"]["out_dir"] = str(out_dir)
    return raw


@pytest.mark.parametrize("method", list_methods())
def test_every_method_trains_with_its_defaults(method: str, tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(dump_recipe(recipe_from_dict(_base_recipe(tmp_path, method))))
    assert main(["train", str(base), "--set", f"method.name={method}", "--set", f"run.name={method}"]) == 0
    summary = json.loads((tmp_path / method / "summary.json").read_text())
    assert summary["method"] == method
    assert summary["family"] == get_method_class(method).family
    assert summary["complete"] and summary["steps"] == STEPS
    assert summary["hparams"] == get_method_class(method).defaults
    for key in ("knn_top1", "online_linear_top1", "linear_top1"):
        assert 0.0 <= summary[key] <= 100.0, key
