"""What a run records besides its weights: the training state a checkpoint restores, and from it the run's
evaluation results (`eval.json`) and summary (`summary.json`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from zoo.evaluate.run import linear_protocol, linear_record, summary_fields
from zoo.methods import Method
from zoo.provenance import provenance
from zoo.recipes import Recipe


@dataclass
class TrainState:
    """Everything besides model and optimiser that a checkpoint must restore."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps completed
    epoch_loss_sum: float = 0.0  # of the epoch in progress (interrupted runs)
    epoch_seconds: float = 0.0
    wall_s: float = 0.0
    knn_init: float | None = None
    knn_pixels: float | None = None
    linear_init: dict[str, float] | None = None  # offline linear probe {"top1", "top5"} at init, of pixels, at the end
    linear_pixels: dict[str, float] | None = None
    linear: dict[str, float] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    world_size: int = 1  # data-parallel processes the run trains on; a resume must use as many


def last_value(history: list[dict[str, Any]], key: str) -> Any:
    """The latest epoch record's `key` (evaluations run only on some epochs), or None."""
    return next((h[key] for h in reversed(history) if key in h), None)


def run_results(recipe: Recipe, state: TrainState) -> dict[str, Any]:
    """The run's eval.json entries."""
    s, e = state, recipe.eval
    results: dict[str, Any] = {
        "knn": {
            "top1": last_value(s.history, "knn_top1"),
            "top1_init": s.knn_init,
            "top1_pixels": s.knn_pixels,
            "k": e.knn_k,
            "t": e.knn_t,
        }
    }
    if e.linear_epochs:
        results["linear"] = linear_record(s.linear, s.linear_init, s.linear_pixels, linear_protocol(e, recipe.run.seed))
    if e.online_linear:
        online = last_value(s.history, "online_linear_top1")
        results["online_linear"] = {"top1": online, "lr": e.online_lr, "weight_decay": e.online_wd}
    return results


def run_summary(recipe: Recipe, state: TrainState, method: Method, device: str, speed: str = "") -> dict[str, Any]:
    """The run's summary.json: settings, progress, every result with its floors, speed and the paper's number."""
    r, s = recipe, state
    results = run_results(recipe, state)
    final = results["knn"]["top1"]
    epochs_ips = [h["images_per_s"] for h in s.history]
    paper = r.paper
    return {
        "name": r.run.name,
        "method": r.method.name,
        "family": method.family,
        "backbone": r.backbone.name,
        "image_size": r.backbone.image_size,
        "dataset": r.data.dataset,
        "fraction": r.data.fraction,
        "epochs": r.schedule.epochs,
        "epochs_done": s.epoch,
        "complete": s.epoch == r.schedule.epochs,
        "steps": s.step,
        "batch_size": r.schedule.batch_size,
        "world_size": s.world_size,
        "optimizer": r.optim.name,
        "lr": r.optim.lr,
        "hparams": method.hparams,
        "knn_k": r.eval.knn_k,
        "knn_top1": final,
        "knn_top1_init": s.knn_init,
        "knn_top1_pixels": s.knn_pixels,
        "gain_over_init": None if final is None or s.knn_init is None else final - s.knn_init,
        "final_loss": s.history[-1]["loss"] if s.history else None,
        "images_per_s": sum(epochs_ips) / len(epochs_ips) if epochs_ips else None,
        "wall_s": s.wall_s,
        **summary_fields({k: v for k, v in results.items() if k != "knn"}),
        "device": device,
        "step_settings": speed,  # precision, memory format, compiled or not (zoo/speed.py)
        "paper": {"value": paper.value, "metric": paper.metric, "source": paper.source}
        if paper.value is not None and not math.isnan(paper.value)
        else None,
        "provenance": provenance(recipe, device),
    }
