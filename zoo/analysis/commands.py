"""`zoo analyze hessian|gradient`: run folders in, JSON beside each run, a rich table and the paper's figures out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from zoo.analysis.figures import plot_densities, plot_epochs
from zoo.analysis.gradient import analyze_gradient
from zoo.analysis.hessian import HessianSettings, analyze_hessian
from zoo.analysis.runs import find_checkpoints, open_recipe
from zoo.plotting import require_matplotlib


def hessian_command(
    runs: list[str], settings: HessianSettings, checkpoint: str, figure: str | None, console: Console
) -> None:
    """Analyse every run (user errors first, before minutes of work), write hessian.json, print, plot."""
    for run in runs:
        open_recipe(run)
        find_checkpoints(run, checkpoint)
    require_matplotlib()
    analyses = []
    with _progress() as progress:
        for run in runs:
            total = settings.products() * len(find_checkpoints(run, checkpoint))
            task = progress.add_task(Path(run).name, total=total)
            analysis = analyze_hessian(run, settings, checkpoint, lambda t=task: progress.advance(t))
            progress.update(task, completed=total)
            (Path(run) / "hessian.json").write_text(json.dumps(analysis, indent=1) + "\n")
            analyses.append(analysis)
    console.print(hessian_table(analyses))
    path = Path(figure) if figure else _default_figure(runs, "hessian.png")
    plot_densities(analyses, path)
    written = [path]
    if checkpoint == "all":
        epochs = path.with_name(f"{path.stem}-epochs{path.suffix}")
        plot_epochs(analyses, epochs)
        written.append(epochs)
    console.print(f"wrote hessian.json in each run folder; figures: {', '.join(map(str, written))}", highlight=False)


def gradient_command(runs: list[str], batch: int, checkpoint: str, seed: int, console: Console) -> None:
    """mi-binary's closed-form gradient against autograd and its positive/negative split; gradient.json per run."""
    for run in runs:
        open_recipe(run)
        find_checkpoints(run, checkpoint)
    analyses = []
    for run in runs:
        analysis = analyze_gradient(run, batch, checkpoint, seed)
        (Path(run) / "gradient.json").write_text(json.dumps(analysis, indent=1) + "\n")
        analyses.append(analysis)
    console.print(gradient_table(analyses))
    console.print("wrote gradient.json in each run folder", highlight=False)


def hessian_table(analyses: list[dict[str, Any]]) -> Table:
    first = analyses[0]
    title = f"Hessian of the loss, {first['params']} parameters, batch {first['batch']}, seed {first['seed']}"
    table = Table(title=title)
    for column in ("run", "method", "ckpt", "epoch", "params", "loss", "λ_max", "λ_min", "trace ± s.e.", "neg. mass"):
        table.add_column(column, justify="left" if column in ("run", "method", "ckpt") else "right")
    table.add_column(f"λ_max/λ_{first['settings']['top_k']}", justify="right")
    table.add_column("time", justify="right")
    for a in analyses:
        for r in a["results"]:
            ratio = "-" if r["ratio_max_k"] is None else f"{r['ratio_max_k']:.3g}"
            table.add_row(
                a["run"],
                a["method"],
                r["checkpoint"],
                str(r["epoch"]),
                f"{r['n_params']:,}",
                f"{r['loss']:.4f}",
                f"{r['lambda_max']:.4g}",
                f"{r['lambda_min']:.3g}",
                f"{r['trace']:.4g} ± {r['trace_se']:.2g}",
                f"{r['negative_mass']:.3f}",
                ratio,
                f"{r['seconds']:.0f} s",
            )
    return table


def gradient_table(analyses: list[dict[str, Any]]) -> Table:
    table = Table(title="mi-binary gradient: closed form vs autograd, positive vs negative pairs")
    columns = ("run", "ckpt", "loss", "max abs err", "max rel err", "where", "|g+|", "|g-|", "|g|", "cos(g+, g-)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "ckpt", "where") else "right")
    for a in analyses:
        for r in a["results"]:
            where = {"embedding": r["embedding"], **r["parameters"]}
            for i, (name, split) in enumerate(where.items()):
                head = (a["run"], r["checkpoint"], f"{r['loss']:.4f}") if i == 0 else ("", "", "")
                errors = (
                    (f"{r['closed_form_max_abs_error']:.2e}", f"{r['closed_form_max_rel_error']:.2e}")
                    if i == 0
                    else ("", "")
                )
                table.add_row(
                    *head,
                    *errors,
                    name,
                    f"{split['positive_norm']:.4g}",
                    f"{split['negative_norm']:.4g}",
                    f"{split['total_norm']:.4g}",
                    f"{split['cosine']:.3f}",
                )
    return table


def _default_figure(runs: list[str], name: str) -> Path:
    """In the run folder for one run, in the runs' common parent folder for several."""
    if len(runs) == 1:
        return Path(runs[0]) / name
    return Path(os.path.commonpath([Path(r).resolve().parent for r in runs])) / name


def _progress() -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("Hessian-vector products"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
