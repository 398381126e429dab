"""A run's backbone as one safetensors file whose header says how to rebuild it, and loading it back.

    zoo export runs/quickstart                      # -> runs/quickstart/backbone.safetensors
    model = zoo.load_backbone("backbone.safetensors")  # timm model, classifier-free, weights loaded strictly

The header's metadata (strings, as the safetensors format allows) names zoo's version, the method, the timm
architecture, image size and stem, the epochs trained, the results and the recipe's hash. Where the stem is timm's
own ("stem": "timm"), the weights also load into plain `timm.create_model(backbone, num_classes=0)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from zoo.analysis.runs import find_checkpoints, open_recipe
from zoo.backbones import create_backbone
from zoo.backbones.timm_backbones import backbone_stem
from zoo.checkpoint import load_checkpoint
from zoo.errors import ZooError
from zoo.provenance import recipe_hash

FORMAT = "zoo-backbone/1"
DEFAULT_NAME = "backbone.safetensors"
_PREFIX = "backbone."  # the backbone's keys in a method's state dict
_RESULT_KEYS = ("dataset", "knn_top1", "online_linear_top1", "linear_top1", "linear_top5")


def export_backbone(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the run's last checkpoint's backbone to `out` (default RUN_DIR/backbone.safetensors); returns it."""
    import zoo

    run_dir = Path(run_dir)
    recipe = open_recipe(run_dir)
    checkpoint = load_checkpoint(find_checkpoints(run_dir, "last")[0].path)
    weights = {k[len(_PREFIX) :]: v.contiguous() for k, v in checkpoint["method"].items() if k.startswith(_PREFIX)}
    b = recipe.backbone
    model, num_features = create_backbone(b.name, image_size=b.image_size, small_stem=b.small_stem)
    model.load_state_dict(weights, strict=True)  # the file is checked to rebuild before it is written
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    metadata = {
        "format": FORMAT,
        "zoo_version": zoo.__version__,
        "method": recipe.method.name,
        "backbone": b.name,
        "image_size": str(b.image_size),
        "small_stem": json.dumps(b.small_stem),
        "stem": backbone_stem(model, b.image_size, b.small_stem),
        "num_features": str(num_features),
        "epochs": str(checkpoint["state"]["epoch"]),
        "results": json.dumps({k: summary.get(k) for k in _RESULT_KEYS}),
        "recipe_hash": recipe_hash(recipe),
    }
    path = Path(out) if out else run_dir / DEFAULT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(weights, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # never a half-written file under the final name
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The header of a file `export_backbone` wrote, values decoded (numbers, booleans, results)."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"backbone file {str(path)!r} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except SafetensorError as err:
        raise ZooError(f"{path}: not a safetensors file ({err})") from None
    if raw.get("format") != FORMAT:
        raise ZooError(
            f"{path}: no zoo metadata in its header (format {raw.get('format')!r}); write it with zoo export"
        )
    decoded: dict[str, Any] = dict(raw)
    for key in ("image_size", "num_features", "epochs"):
        decoded[key] = int(raw[key])
    decoded["small_stem"] = json.loads(raw["small_stem"])
    decoded["results"] = json.loads(raw["results"])
    return decoded


def load_backbone(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the backbone from the file's header alone (`zoo.create_backbone`) and load its weights strictly."""
    meta = read_metadata(path)
    model, _ = create_backbone(meta["backbone"], image_size=meta["image_size"], small_stem=meta["small_stem"])
    model.load_state_dict(load_file(str(path), device=str(device)), strict=True)
    return model.to(device).eval()
