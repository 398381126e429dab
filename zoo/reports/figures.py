"""Figures of runs side by side: learning curves overlaid, final accuracies with the paper's number, speed.

matplotlib is an optional dependency (zoo/plotting.py names the extra). Each figure is written as PNG (to look at,
to put in a README) and SVG (to scale, and to inline in the HTML page).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from zoo.plotting import pyplot, require_matplotlib, save_figure
from zoo.report import METRIC_KEYS
from zoo.reports.runs import RunRecord

# (history key, panel title): what is measured by epoch; kNN and the online probe run only on some epochs
CURVES = (
    ("loss", "pre-training loss"),
    ("knn_top1", "kNN top-1 (%)"),
    ("online_linear_top1", "online linear top-1 (%)"),
)
# (row key, bar label): the final accuracies of a run
FINALS = (("knn_top1", "kNN"), ("online_linear_top1", "online linear"), ("linear_top1", "linear"))
FIGURES = ("curves", "accuracy", "speed")


def learning_curves(runs: list[RunRecord]) -> Any:
    """Loss, kNN and online linear top-1 by epoch, every run overlaid; the offline linear probe as a star at the end."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(CURVES), figsize=(11, 3.4), dpi=100)
    for i, run in enumerate(runs):
        color = f"C{i % 10}"
        for ax, (key, _) in zip(axes, CURVES, strict=True):
            points = [(h["epoch"], h[key]) for h in run.history if h.get(key) is not None]
            if points:
                epochs, values = zip(*points, strict=True)
                ax.plot(epochs, values, marker="o", markersize=3, color=color, label=run.name)
        linear = run.row["linear_top1"]
        if linear is not None and run.history:
            axes[-1].plot(run.history[-1]["epoch"], linear, marker="*", markersize=11, color=color, linestyle="")
    for ax, (_, title) in zip(axes, CURVES, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[-1].plot([], [], marker="*", color="0.3", linestyle="", label="offline linear (end)")
    axes[0].legend(fontsize=8)
    axes[-1].legend(fontsize=8, handles=axes[-1].get_legend_handles_labels()[0][-1:])
    return fig


def accuracy_bars(runs: list[RunRecord]) -> Any:
    """Final top-1 per run and metric; the paper's number as a marker on the bar of its own metric only."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(runs) + 3), 3.6), dpi=100)
    width = 0.8 / len(FINALS)
    paper_label = "paper (same metric)"
    for j, (key, label) in enumerate(FINALS):
        xs = [i + (j - (len(FINALS) - 1) / 2) * width for i in range(len(runs))]
        values = [run.row[key] for run in runs]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=label, color=f"C{j}")
        for bar, value in zip(bars, values, strict=True):
            ax.annotate("-" if value is None else f"{value:.1f}", (bar.get_x() + width / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)  # fmt: skip
        for x, run in zip(xs, runs, strict=True):
            if run.row["paper"] is not None and METRIC_KEYS.get(run.row["paper_metric"]) == key:
                ax.plot(x, run.row["paper"], marker="D", color="black", markersize=7, linestyle="", label=paper_label)
                paper_label = "_nolegend_"
    ax.set_xticks(range(len(runs)), [run.name for run in runs], fontsize=8)
    ax.set_ylabel("top-1 (%)")
    ax.set_title("final accuracy on the test split", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return fig


def speed_bars(runs: list[RunRecord]) -> Any:
    """Pre-training images per second per run (the mean over its epochs)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(runs) + 1.4), dpi=100)
    speeds = [run.row["images_per_s"] or 0.0 for run in runs]
    bars = ax.barh([run.name for run in runs], speeds, color="C0")
    ax.bar_label(bars, labels=[f"{s:.0f}" for s in speeds], fontsize=8, padding=2)
    ax.invert_yaxis()  # first run on top, as in the table
    ax.set_xlabel("images / s (pre-training)")
    devices = sorted({run.summary.get("device", "?") for run in runs})
    ax.set_title(f"training speed ({', '.join(devices)})", fontsize=10)
    return fig


_BUILDERS = {"curves": learning_curves, "accuracy": accuracy_bars, "speed": speed_bars}


def write_figures(runs: list[RunRecord], folder: str | Path) -> list[Path]:
    """Every figure as <folder>/<name>.png and .svg; returns the paths written."""
    require_matplotlib()
    folder, written = Path(folder), []
    for name in FIGURES:
        paths = [folder / f"{name}.png", folder / f"{name}.svg"]
        save_figure(_BUILDERS[name](runs), paths)
        written += paths
    return written


def svg_data_uris(runs: list[RunRecord]) -> dict[str, str]:
    """Every figure as an SVG data URI: the HTML page inlines them and requests nothing."""
    uris = {}
    for name in FIGURES:
        fig, buffer = _BUILDERS[name](runs), io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        pyplot().close(fig)
        uris[name] = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    return uris
