"""Where a number came from: zoo's and its libraries' versions, the device, and a hash of the recipe's settings."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import Any

from zoo.recipes import Recipe

LIBRARIES = ("torch", "timm", "kornia", "lightly")
# Where a run is written, what it is called and what it logs besides do not change what it computes; the hash leaves
# them out, so two runs of the same settings share it.
_NOT_HASHED = {"run": ("name", "out_dir", "keep_checkpoints", "tensorboard")}


def recipe_hash(recipe: Recipe) -> str:
    """12 hex digits of the SHA-256 of the recipe's settings (sorted JSON), name, folder and logging left out."""
    settings = recipe.to_dict()
    for section, keys in _NOT_HASHED.items():
        settings[section] = {k: v for k, v in settings[section].items() if k not in keys}
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def versions() -> dict[str, str]:
    """zoo's version and those of the libraries whose code computes a run's numbers."""
    import zoo

    found = {"zoo": zoo.__version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def provenance(recipe: Recipe, device: str) -> dict[str, Any]:
    """What every summary records besides its results (shown by `zoo compare --html` and `zoo show`)."""
    return {"versions": versions(), "device": device, "recipe_hash": recipe_hash(recipe)}
