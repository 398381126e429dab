"""The Hessian eigen-spectrum of a method's loss at a run's checkpoint (PAPER.md, "Hessian eigen-spectrum").

Our own routines on torch.autograd rather than a library: PyHessian 0.1 (Yao et al. 2020; last release 2020) puts the
model in eval mode, so BatchNorm would use running statistics instead of the batch's that the SSL loss trains with,
takes a supervised `criterion(outputs, targets)` and every parameter; hessian-eigenthings has only alpha
pre-releases of its 1.0 on PyPI. What zoo needs (a loss closure, a parameter subset, batch statistics, seeds,
residuals and standard errors) fits in a few short functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zoo.analysis.hvp import FROZEN_NOTE, HessianOperator, frozen_buffers, select_parameters
from zoo.analysis.runs import (
    analysis_device,
    build_method,
    find_checkpoints,
    fixed_batch,
    load_weights,
    open_recipe,
)
from zoo.analysis.spectral import hutchinson_trace, slq, top_eigenvalues

# negative mass counts quadrature nodes below -NEGATIVE_TOL * max |eigenvalue|: closer to 0 sits the unresolved bulk
# (a Ritz value that stands for a near-null space of many thousand directions), whose sign a few dozen steps cannot tell
NEGATIVE_TOL = 1e-2


@dataclass
class HessianSettings:
    """What to compute; the defaults take about a minute per checkpoint for a projector on the CPU."""

    params: str = "projector"
    top_k: int = 10
    batch: int = 256
    seed: int = 0
    lanczos_steps: int = 40  # for the top-k run (at least top_k)
    trace_probes: int = 32
    density_probes: int = 3
    density_steps: int = 40

    def products(self) -> int:
        """Hessian-vector products per checkpoint (an upper bound: Lanczos stops early on exact spectra)."""
        top = max(self.lanczos_steps, self.top_k) + self.top_k + 1
        return top + self.trace_probes + self.density_probes * self.density_steps


def analyze_hessian(
    run_dir: str | Path,
    settings: HessianSettings | None = None,
    checkpoint: str = "last",
    on_product: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The loss Hessian's spectrum at each selected checkpoint ("last", "epoch-N", "all"): hessian.json's content."""
    s = settings or HessianSettings()
    recipe = open_recipe(run_dir)
    device = analysis_device(recipe)
    method = build_method(recipe, device)
    select_parameters(method, s.params)  # a bad set fails before any checkpoint is read
    results = []
    for ckpt in find_checkpoints(run_dir, checkpoint):
        load_weights(method, ckpt, device)
        results.append({"checkpoint": ckpt.label, "epoch": ckpt.epoch, **spectrum(method, recipe, s, on_product)})
    return {
        "run": Path(run_dir).name,
        "method": recipe.method.name,
        "params": s.params,
        "batch": s.batch,
        "seed": s.seed,
        "state": FROZEN_NOTE,
        "settings": vars(s),
        "results": results,
    }


def spectrum(
    method: torch.nn.Module, recipe: Any, s: HessianSettings, on_product: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Top-k eigenvalues with residuals, Hutchinson trace, SLQ density of one loaded method on the fixed batch."""
    started = time.perf_counter()
    device = next(method.parameters()).device
    params = select_parameters(method, s.params)
    views, labels = fixed_batch(recipe, method, s.batch, s.seed, device)
    with frozen_buffers(method):
        loss = method.loss(views, labels if method.requires_labels else None)
        op = HessianOperator(loss, list(params.values()), on_product)
        gen = torch.Generator().manual_seed(s.seed)
        args = (gen, op.dtype, op.device)
        top = top_eigenvalues(op, op.dim, min(s.top_k, op.dim), s.lanczos_steps, *args)
        trace, trace_se, _ = hutchinson_trace(op, op.dim, s.trace_probes, *args)
        quad = slq(op, op.dim, s.density_probes, s.density_steps, *args)
    lo, hi = quad.bounds()
    scale = max(abs(lo), abs(hi), abs(top.values[0]), abs(top.smallest))
    return {
        "loss": float(loss.detach()),
        "n_params": op.dim,
        "param_names": list(params),
        "top_eigenvalues": top.values,
        "residuals": top.residuals,
        "lanczos_steps": top.steps,
        "lambda_max": top.values[0],
        "lambda_min": top.smallest,
        "lambda_min_residual": top.smallest_residual,
        "ratio_max_k": top.values[0] / top.values[-1] if top.values[-1] else None,
        "trace": trace,
        "trace_se": trace_se,
        "trace_probes": s.trace_probes,
        "negative_mass": quad.negative_mass(NEGATIVE_TOL * scale),
        "negative_tol": NEGATIVE_TOL * scale,
        "density": {"nodes": quad.nodes, "weights": quad.weights},
        "hvp_products": op.products,
        "seconds": time.perf_counter() - started,
    }
