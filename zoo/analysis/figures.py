"""The paper's plots: eigenvalue densities overlaid on a log-scale density axis, and the spectrum through training.

matplotlib is an optional dependency (see zoo/plotting.py); asking for a figure without it is a user error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from zoo.analysis.spectral import Quadrature, density
from zoo.plotting import pyplot, save_figure

DENSITY_FLOOR = 1e-8  # densities below are drawn at the floor: the log axis needs a bottom
SIGMA_FRACTION = 0.01  # Gaussian broadening: a hundredth of the spectrum's width (Ghorbani et al. 2019 use ~1e-5 var)


def density_curve(result: dict[str, Any], points: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(grid, density) of one checkpoint's SLQ quadrature, broadened by `SIGMA_FRACTION` of its width."""
    quad = Quadrature(result["density"]["nodes"], result["density"]["weights"])
    lo, hi = quad.bounds()
    width = max(hi - lo, 1e-12)
    sigma = SIGMA_FRACTION * width
    grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, points, dtype=torch.float64)
    return grid, density(quad, grid, sigma).clamp_min(DENSITY_FLOOR)


def plot_densities(analyses: list[dict[str, Any]], path: Path) -> None:
    """One figure: each run's eigenvalue density at its last analysed checkpoint, log-scale density axis."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for a in analyses:
        r = a["results"][-1]
        grid, dens = density_curve(r)
        ax.semilogy(grid.numpy(), dens.numpy(), label=f"{a['run']} ({r['checkpoint']})", linewidth=1.2)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density (log scale)")
    ax.set_ylim(bottom=DENSITY_FLOOR * 10)
    ax.set_title(f"Hessian eigenvalue density, {analyses[0]['params']} parameters")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_epochs(analyses: list[dict[str, Any]], path: Path) -> None:
    """lambda_max and trace against epoch, one line per run (needs kept epoch checkpoints)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    for a in analyses:
        epochs = [r["epoch"] for r in a["results"]]
        axes[0].plot(epochs, [r["lambda_max"] for r in a["results"]], marker="o", label=a["run"])
        axes[1].errorbar(
            epochs, [r["trace"] for r in a["results"]], yerr=[r["trace_se"] for r in a["results"]], marker="o"
        )
    for ax, title in zip(axes, ("lambda_max", "trace (Hutchinson, +- 1 s.e.)"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.set_yscale("symlog")
    axes[0].legend(fontsize=8)
    save_figure(fig, path)
