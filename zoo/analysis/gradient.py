"""mi-binary's gradient at a run's checkpoint: the closed form against autograd, and its parameter gradient flow.

PAPER.md, "Closed-form gradient": the loss gradient with respect to the projections splits into a positive-pair
(attraction) and a negative-pair (repulsion) part; back-propagated through the network they give the two parameter
gradients whose norms and angle show which force drives training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.analysis.hvp import FROZEN_NOTE, frozen_buffers, select_parameters
from zoo.analysis.runs import analysis_device, build_method, find_checkpoints, fixed_batch, load_weights, open_recipe
from zoo.errors import ZooError
from zoo.methods import Method
from zoo.methods.mi_binary import MIBinaryLoss, mi_binary_grad


def analyze_gradient(run_dir: str | Path, batch: int = 256, checkpoint: str = "last", seed: int = 0) -> dict[str, Any]:
    """gradient.json's content: closed-form errors and the positive/negative split at each selected checkpoint."""
    recipe = open_recipe(run_dir)
    device = analysis_device(recipe)
    method = build_method(recipe, device)
    if not isinstance(getattr(method, "criterion", None), MIBinaryLoss):
        raise ZooError(
            f"gradient analysis needs a mi-binary method (mi-binary, mi-binary-naive); run {str(run_dir)!r} "
            f"trained {recipe.method.name!r}"
        )
    results = []
    for ckpt in find_checkpoints(run_dir, checkpoint):
        load_weights(method, ckpt, device)
        views, _ = fixed_batch(recipe, method, batch, seed, device)
        results.append({"checkpoint": ckpt.label, "epoch": ckpt.epoch, **gradient_flow(method, views)})
    return {
        "run": Path(run_dir).name,
        "method": recipe.method.name,
        "batch": batch,
        "seed": seed,
        "state": FROZEN_NOTE,
        "results": results,
    }


def gradient_flow(method: Method, views: list[Tensor]) -> dict[str, Any]:
    """Closed form vs autograd (float64) on the batch's projections, then the split through the network."""
    crit: MIBinaryLoss = method.criterion  # type: ignore[assignment]
    kwargs = {"tau_pos": crit.tau_pos, "tau_neg": crit.tau_neg, "bound": crit.bound, "l2_weight": crit.l2_weight}
    with frozen_buffers(method):
        z1, z2 = method.encode(views[:2], method.backbone, method.projector)  # type: ignore[arg-type]
        z = [t.detach().double().requires_grad_() for t in (z1, z2)]
        loss = crit(*z)
        auto = torch.autograd.grad(loss, z)
        closed = mi_binary_grad(z[0].detach(), z[1].detach(), **kwargs)
        parts = {p: mi_binary_grad(z1.detach(), z2.detach(), part=p, **kwargs) for p in ("positive", "negative")}
        flow = {}
        for which in ("projector", "backbone", "all"):
            params = list(select_parameters(method, which).values())
            grads = {
                p: _flat(torch.autograd.grad((z1, z2), params, grad_outputs=g, retain_graph=True, allow_unused=True))
                for p, g in parts.items()
            }
            flow[which] = _split(grads["positive"], grads["negative"])
    err = max(float((a - c).abs().max()) for a, c in zip(auto, closed, strict=True))
    scale = max(float(a.abs().max()) for a in auto)
    embedding = _split(_flat(parts["positive"]), _flat(parts["negative"]))
    return {
        "loss": float(loss.detach()),
        "closed_form_max_abs_error": err,
        "closed_form_max_rel_error": err / scale if scale else 0.0,
        "closed_form_dtype": "float64",
        "embedding": embedding,
        "parameters": flow,
    }


def _flat(tensors: tuple[Tensor | None, ...]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors if t is not None])


def _split(pos: Tensor, neg: Tensor) -> dict[str, float]:
    """Norms of the two parts and of their sum, and the cosine between them."""
    return {
        "positive_norm": float(pos.norm()),
        "negative_norm": float(neg.norm()),
        "total_norm": float((pos + neg).norm()),
        "cosine": float(F.cosine_similarity(pos, neg, dim=0)),
    }
