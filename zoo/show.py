"""`zoo show RUN_DIR`: one run in the terminal: its settings, its summary with provenance, and its curves drawn
with rich (a column chart of block characters per metric, one column per epoch or group of epochs)."""

from __future__ import annotations

import math
from pathlib import Path

from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zoo.recipes import load_recipe
from zoo.report import rich_table
from zoo.reports.figures import CURVES
from zoo.reports.runs import RunRecord, load_runs

_BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a character cell
CHART_HEIGHT = 6  # rows
CHART_WIDTH = 60  # columns at most; longer runs are grouped, each column the mean of its epochs


def show_run(run_dir: str | Path, console: Console) -> None:
    """Print the run's settings, summary table, provenance and curves."""
    run = load_runs([run_dir])[0]
    console.print(settings_table(run))
    console.print(rich_table([run.row]))
    console.print(provenance_text(run))
    charts = [curve_panel(run, key, title) for key, title in CURVES]
    console.print(Columns([c for c in charts if c is not None]) if any(charts) else Text("no finished epoch yet"))


def settings_table(run: RunRecord) -> Table:
    """The recipe as written in the run folder, one row per section."""
    table = Table(title=f"{run.name}: recipe ({run.folder / 'recipe.toml'})", show_lines=False)
    table.add_column("section", style="bold")
    table.add_column("settings")
    for section, values in load_recipe(run.folder / "recipe.toml").to_dict().items():
        if values:
            table.add_row(section, ", ".join(f"{k} = {v}" for k, v in values.items()))
    return table


def provenance_text(run: RunRecord) -> Text:
    p = run.summary.get("provenance")
    if not p:
        return Text("provenance: not recorded (an unfinished run, or one trained before zoo recorded it)")
    versions = ", ".join(f"{name} {version}" for name, version in p["versions"].items())
    return Text(f"provenance: {versions}; device {p['device']}; recipe hash {p['recipe_hash']}")


def curve_panel(run: RunRecord, key: str, title: str) -> Panel | None:
    """The metric's values by epoch as a column chart, min and max on the axis; None when never measured."""
    points = [(h["epoch"], h[key]) for h in run.history if h.get(key) is not None]
    if not points:
        return None
    epochs, values = zip(*points, strict=True)
    columns = _group(list(values), CHART_WIDTH)
    lo, hi = min(values), max(values)
    rows = column_chart(columns, lo, hi, CHART_HEIGHT)
    labels = [f"{hi:8.3g} "] + [" " * 9] * (CHART_HEIGHT - 2) + [f"{lo:8.3g} "]
    lines = [Text(label, style="dim") + Text(row, style="cyan") for label, row in zip(labels, rows, strict=True)]
    lines.append(Text(f"{'':9}epoch {epochs[0]} .. {epochs[-1]}", style="dim"))
    return Panel(Group(*lines), title=title, expand=False)


def column_chart(values: list[float], lo: float, hi: float, height: int) -> list[str]:
    """Rows, top first, of a column chart: each value a column of full blocks and one partial block on top."""
    span = hi - lo if hi > lo else 1.0
    # the lowest value still gets a sliver, so a column is never missing
    eighths = [1 + round((v - lo) / span * (height * 8 - 1)) for v in values]
    rows = []
    for row in range(height - 1, -1, -1):
        rows.append("".join(_BLOCKS[min(8, max(0, e - row * 8))] for e in eighths))
    return rows


def _group(values: list[float], width: int) -> list[float]:
    """At most `width` values: consecutive epochs averaged into one column."""
    size = math.ceil(len(values) / width)
    return [sum(chunk) / len(chunk) for chunk in (values[i : i + size] for i in range(0, len(values), size))]
