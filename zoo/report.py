"""Runs side by side: a rich table (and markdown / JSON) with the paper's number beside ours."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.table import Table

from zoo.errors import ZooError

COLUMNS: list[tuple[str, str]] = [
    ("run", "run"),
    ("method", "method"),
    ("backbone", "backbone"),
    ("dataset", "dataset"),
    ("epochs", "epochs"),
    ("knn_top1", "kNN top-1"),
    ("gain_over_init", "gain over init"),
    ("knn_top1_pixels", "pixels kNN"),
    ("paper", "paper"),
    ("paper_metric", "paper metric"),
    ("delta", "Δ vs paper"),
    ("images_per_s", "img/s"),
    ("wall_s", "wall time"),
]


def compare(run_dirs: Iterable[str | Path]) -> list[dict[str, Any]]:
    """One row per run folder (its summary.json), in the order given."""
    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "summary.json"
        if not path.is_file():
            raise ZooError(f"{str(run_dir)!r} is not a finished run folder: it has no summary.json")
        rows.append(_row(Path(run_dir).name, json.loads(path.read_text())))
    if not rows:
        raise ZooError("no run folders given: zoo compare RUN_DIR [RUN_DIR ...]")
    return rows


def _row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    paper = s.get("paper") or {}
    ours, theirs = s.get("knn_top1"), paper.get("value")
    return {
        "run": name,
        "method": s["method"],
        "backbone": s["backbone"],
        "dataset": s["dataset"],
        "epochs": s["epochs_done"] if s.get("complete") else f"{s['epochs_done']}/{s['epochs']}",
        "knn_top1": ours,
        "gain_over_init": s.get("gain_over_init"),
        "knn_top1_pixels": s.get("knn_top1_pixels"),
        "paper": theirs,
        "paper_metric": paper.get("metric", ""),
        "paper_source": paper.get("source", ""),
        "delta": None if ours is None or theirs is None else ours - theirs,
        "images_per_s": s.get("images_per_s"),
        "wall_s": s.get("wall_s"),
    }


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "wall_s":
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{seconds:02d}s"
    if key in ("gain_over_init", "delta"):
        return f"{value:+.2f}"
    if key == "images_per_s":
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def rich_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="zoo compare", caption="kNN top-1 (%) on the test split; paper numbers as quoted, with their metric"
    )
    for key, title in COLUMNS:
        table.add_column(title, justify="left" if key in ("run", "method", "backbone", "dataset") else "right")
    for row in rows:
        table.add_row(*(_cell(key, row[key]) for key, _ in COLUMNS))
    return table


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(key, row[key]) for key, _ in COLUMNS) + " |" for row in rows]
    sources = sorted({row["paper_source"] for row in rows if row["paper_source"]})
    lines += [""] + [f"Paper: {source}." for source in sources]
    return "\n".join(lines) + "\n"


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2) + "\n"
