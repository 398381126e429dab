"""Evaluating a run's backbone: kNN and the offline linear probe, with their floors (raw pixels and the backbone at
initialisation), and the results file of a run folder (`eval.json`, mirrored into `summary.json`).

`zoo train` uses `Evaluator` at its start (floors) and end; `evaluate_run` (`zoo eval`) evaluates a finished run
folder again from its last checkpoint, possibly under another protocol (`--set eval.linear_epochs=...`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import Tensor, nn

from zoo.augment.normalize import resolve_normalization, to_model_input
from zoo.checkpoint import load_checkpoint
from zoo.data import create_dataset
from zoo.device import pick_device
from zoo.errors import ZooError
from zoo.evaluate.knn import evaluate_knn, pixels
from zoo.evaluate.linear import LinearProtocol, LinearResult, evaluate_linear
from zoo.methods import Method, create_method
from zoo.recipes import EvalSection, Recipe, load_recipe

EVAL_FILE = "eval.json"


def linear_protocol(e: EvalSection, seed: int) -> LinearProtocol:
    """The recipe's [eval] linear_* keys as a protocol."""
    return LinearProtocol(
        epochs=e.linear_epochs,
        lr=e.linear_lr,
        weight_decay=e.linear_wd,
        batch_size=e.linear_batch_size,
        augment=e.linear_augment,
        seed=seed,
    )


@dataclass
class Evaluator:
    """The labelled splits on the evaluation device and how images become model input."""

    recipe: Recipe
    train: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    console: Console | None = None

    def knn(self, model: nn.Module | Any) -> float:
        e, size = self.recipe.eval, self.recipe.backbone.image_size

        def prepare(x: Tensor) -> Tensor:
            return to_model_input(x, mean=self.mean, std=self.std, size=size)

        return evaluate_knn(model, prepare, self.train, self.test, num_classes=self.num_classes, k=e.knn_k, t=e.knn_t)

    def linear(self, model: nn.Module | Any, what: str = "") -> LinearResult:
        return evaluate_linear(
            model,
            self.train,
            self.test,
            num_classes=self.num_classes,
            image_size=self.recipe.backbone.image_size,
            mean=self.mean,
            std=self.std,
            protocol=linear_protocol(self.recipe.eval, self.recipe.run.seed),
            console=self.console,
            description=f"linear probe{what}",
        )


def linear_record(final: dict | None, init: dict | None, pix: dict | None, protocol: LinearProtocol) -> dict[str, Any]:
    """The `linear` entry of eval.json: top-1/top-5 of the trained backbone and of the two floors, and the protocol.

    Each result is a {"top1", "top5"} dict, or None where it was not measured.
    """
    record: dict[str, Any] = {}
    for suffix, result in (("", final), ("_init", init), ("_pixels", pix)):
        record[f"top1{suffix}"] = result and result["top1"]
        record[f"top5{suffix}"] = result and result["top5"]
    return record | {"protocol": protocol.as_dict()}


def as_record(result: LinearResult) -> dict[str, float]:
    return {"top1": result.top1, "top5": result.top5}


def summary_fields(results: dict[str, Any]) -> dict[str, Any]:
    """eval.json entries -> the flat keys of summary.json that reports read."""
    out: dict[str, Any] = {}
    if (knn := results.get("knn")) is not None:
        out |= {"knn_top1": knn["top1"], "knn_top1_init": knn["top1_init"], "knn_top1_pixels": knn["top1_pixels"]}
        out["gain_over_init"] = None if None in (knn["top1"], knn["top1_init"]) else knn["top1"] - knn["top1_init"]
    if (lin := results.get("linear")) is not None:
        out |= {f"linear_{k}": lin[k] for k in ("top1", "top5", "top1_init", "top1_pixels", "protocol")}
    if (online := results.get("online_linear")) is not None:
        out["online_linear_top1"] = online["top1"]
    return out


def write_results(run_dir: Path, results: dict[str, Any]) -> None:
    """Replace the given entries of `run_dir/eval.json` and the matching keys of its summary.json."""
    path = run_dir / EVAL_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps(stored | results, indent=2) + "\n")
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text()) | summary_fields(results)
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")


def evaluate_run(
    run_dir: str | Path,
    *,
    linear: bool = True,
    knn: bool = True,
    overrides: list[str] | tuple[str, ...] = (),
    console: Console | None = None,
) -> dict[str, Any]:
    """Evaluate a finished run folder's last checkpoint again; writes and returns the eval.json entries.

    `overrides` are `eval.key=value` items (e.g. another linear protocol); the floors are measured again too.
    """
    for item in overrides:
        if not item.strip().startswith("eval."):
            raise ZooError(f"zoo eval --set takes [eval] keys only (e.g. eval.linear_epochs=10), got {item!r}")
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.toml").is_file():
        raise ZooError(f"{str(run_dir)!r} is not a run folder: it has no recipe.toml")
    if not (run_dir / "summary.json").is_file():
        raise ZooError(f"run {str(run_dir)!r} is unfinished; finish it first: zoo train --resume {run_dir}")
    recipe = load_recipe(run_dir / "recipe.toml", overrides)
    device = pick_device(recipe.run.device)
    evaluator, init = _evaluator(recipe, device, console)
    trained = _build_method(recipe, device)
    trained.load_state_dict(load_checkpoint(run_dir / "checkpoints" / "last.pt", device)["method"])
    results: dict[str, Any] = {}
    models = {"": trained, "_init": init, "_pixels": pixels}
    if knn:
        top1 = {f"top1{suffix}": evaluator.knn(model) for suffix, model in models.items()}
        results["knn"] = top1 | {"k": recipe.eval.knn_k, "t": recipe.eval.knn_t}
    if linear:
        measured = [as_record(evaluator.linear(m, f" ({k.strip('_') or 'trained'})")) for k, m in models.items()]
        results["linear"] = linear_record(*measured, linear_protocol(recipe.eval, recipe.run.seed))
    write_results(run_dir, results)
    return results


def _build_method(recipe: Recipe, device: torch.device) -> Method:
    """The recipe's method as `zoo train` builds it: seeded with run.seed, so its weights are those at init."""
    torch.manual_seed(recipe.run.seed)
    b = recipe.backbone
    method = create_method(
        recipe.method.name, backbone=b.name, image_size=b.image_size, small_stem=b.small_stem, **recipe.method.hparams
    )
    return method.to(device)


def _evaluator(recipe: Recipe, device: torch.device, console: Console | None) -> tuple[Evaluator, Method]:
    d = recipe.data
    train_set = create_dataset(
        d.dataset, split="train", root=d.root, download=d.download, fraction=d.fraction, seed=recipe.run.seed
    )
    test_set = create_dataset(d.dataset, split="test", root=d.root, download=d.download)
    mean, std = resolve_normalization(train_set.normalize)
    evaluator = Evaluator(
        recipe,
        (train_set.images.to(device), train_set.labels.to(device)),
        (test_set.images.to(device), test_set.labels.to(device)),
        train_set.num_classes,
        mean,
        std,
        console,
    )
    return evaluator, _build_method(recipe, device)
