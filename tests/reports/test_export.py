"""`zoo export` -> `zoo.load_backbone`: identical features on a fixed batch through zoo and, for timm's standard
stem, through plain `timm.create_model(name, num_classes=0)`; a small stem round-trips through zoo only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

import zoo
from zoo.analysis.runs import build_method
from zoo.checkpoint import load_checkpoint, save_checkpoint
from zoo.cli import main
from zoo.export import read_metadata
from zoo.recipes import dump_recipe, load_recipe


def _trained_backbone(run: Path) -> torch.nn.Module:
    method = build_method(load_recipe(run / "recipe.toml"), torch.device("cpu"))
    method.load_state_dict(load_checkpoint(run / "checkpoints" / "last.pt")["method"])
    return method.backbone.eval()


def test_export_round_trip_through_zoo_and_plain_timm(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    run = two_runs[0]
    assert main(["export", str(run), "--out", str(tmp_path / "a.safetensors")]) == 0
    path = tmp_path / "a.safetensors"
    meta = read_metadata(path)
    summary = json.loads((run / "summary.json").read_text())
    assert meta["backbone"] == "test_resnet" and meta["method"] == "mi-binary" and meta["stem"] == "timm"
    assert meta["image_size"] == 28 and meta["small_stem"] is False and meta["epochs"] == 2
    assert meta["zoo_version"] == zoo.__version__ and meta["recipe_hash"] == summary["provenance"]["recipe_hash"]
    assert meta["results"]["knn_top1"] == summary["knn_top1"]

    batch = torch.randn(6, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = _trained_backbone(run)(batch)
        plain = timm.create_model("test_resnet", num_classes=0)
        plain.load_state_dict(load_file(str(path)), strict=True)
        assert torch.equal(zoo.load_backbone(path)(batch), expected)
        assert torch.equal(plain.eval()(batch), expected)
    assert main(["export", str(run)]) == 0 and (run / "backbone.safetensors").is_file()  # the default place


def test_small_stem_round_trips_through_zoo_and_is_marked(tmp_path: Path) -> None:
    quickstart = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
    recipe = load_recipe(quickstart, ["backbone.image_size=32", "backbone.small_stem=true"])
    run = tmp_path / "small"
    (run / "checkpoints").mkdir(parents=True)
    (run / "recipe.toml").write_text(dump_recipe(recipe))
    method = build_method(recipe, torch.device("cpu"))
    save_checkpoint(run / "checkpoints" / "last.pt", {"method": method.state_dict(), "state": {"epoch": 0}})
    path = zoo.export_backbone(run)
    assert read_metadata(path)["stem"] == "small"
    batch = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(zoo.load_backbone(path)(batch), method.backbone.eval()(batch))
    with pytest.raises(RuntimeError):  # the 3x3 stem is not timm's 7x7 one
        timm.create_model("test_resnet", num_classes=0).load_state_dict(load_file(str(path)), strict=True)


def test_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    with pytest.raises(zoo.ZooError, match="not found"):
        zoo.load_backbone(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(other))
    with pytest.raises(zoo.ZooError, match="no zoo metadata"):
        zoo.load_backbone(other)
