"""Runs side by side: a rich table (and markdown / JSON) with the paper's number beside ours."""

from __future__ import annotations

import json
import tomllib
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
    ("online_linear_top1", "online linear"),
    ("linear_top1", "linear top-1"),
    ("linear_top1_init", "linear at init"),
    ("knn_top1_pixels", "pixels kNN"),
    ("linear_top1_pixels", "pixels linear"),
    ("paper", "paper"),
    ("paper_metric", "paper metric"),
    ("delta", "Δ vs paper"),
    ("images_per_s", "img/s"),
    ("wall_s", "wall time"),
]
# A paper number is compared only with our number of the same metric (the recipe's [paper] metric).
METRIC_KEYS = {"linear top-1": "linear_top1", "online linear top-1": "online_linear_top1", "knn top-1": "knn_top1"}
CROSS_METRIC_NOTE = (
    "Δ is computed only between the same metric; '-*': this run has no number of the paper's metric "
    "(or the paper names none)."
)
CAPTION = (
    "top-1 (%) on the test split: kNN on frozen features; online linear: the probe trained beside pre-training; "
    "linear: the offline probe on the frozen backbone; floors: the backbone at initialisation and raw pixels"
)


def compare(run_dirs: Iterable[str | Path]) -> list[dict[str, Any]]:
    """One row per run folder, in the order given; unfinished runs get a row saying so."""
    rows = []
    for run_dir in map(Path, run_dirs):
        path = run_dir / "summary.json"
        if path.is_file():
            rows.append(_row(run_dir.name, _read_summary(path)))
        elif (run_dir / "recipe.toml").is_file():
            rows.append(_row(run_dir.name, _unfinished_summary(run_dir)))
        else:
            raise ZooError(f"{str(run_dir)!r} is not a run folder: it has no summary.json and no recipe.toml")
    if not rows:
        raise ZooError("no run folders given: zoo compare RUN_DIR [RUN_DIR ...]")
    return rows


_SUMMARY_KEYS = ("method", "backbone", "dataset", "epochs", "epochs_done")  # what a row cannot do without


def _read_summary(path: Path) -> dict[str, Any]:
    """A run's summary.json; a file that is not one (hand-edited, truncated) is a user error naming it."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ZooError(f"{path} is not valid JSON ({err}); `zoo eval` or `zoo train --resume` rewrites it") from None
    if not isinstance(summary, dict):
        raise ZooError(f"{path} is not a run summary: expected a JSON object, got {type(summary).__name__}")
    missing = [k for k in _SUMMARY_KEYS if k not in summary]
    if missing:
        raise ZooError(f"{path} is not a run summary: it lacks {', '.join(missing)}")
    return summary


def _unfinished_summary(run_dir: Path) -> dict[str, Any]:
    """What a run folder without summary.json tells: its recipe and the epochs in metrics.jsonl."""
    try:
        recipe = tomllib.loads((run_dir / "recipe.toml").read_text(encoding="utf-8"))
        history = read_history(run_dir)
        last = {k: v for h in history for k, v in h.items()}  # the latest value of every metric
    except (ValueError, AttributeError) as err:  # TOML and JSON decode errors are ValueErrors
        raise ZooError(f"run folder {str(run_dir)!r}: unreadable recipe.toml or metrics.jsonl ({err})") from None
    return {
        "method": recipe["method"]["name"],
        "backbone": recipe["backbone"]["name"],
        "dataset": recipe["data"]["dataset"],
        "epochs": recipe["schedule"]["epochs"],
        "epochs_done": len(history),
        "complete": False,
        "knn_top1": last.get("knn_top1"),
        "online_linear_top1": last.get("online_linear_top1"),
        "paper": recipe.get("paper") if "value" in recipe.get("paper", {}) else None,
        "wall_s": sum(h["seconds"] for h in history) or None,
    }


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl: one record per finished epoch (none before the first)."""
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def _row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    paper = s.get("paper") or {}
    theirs, metric = paper.get("value"), paper.get("metric", "")
    ours = s.get(METRIC_KEYS[metric]) if metric in METRIC_KEYS else None
    done = s["epochs_done"] if s.get("complete") else f"{s['epochs_done']}/{s['epochs']} (unfinished)"
    return {
        "run": name,
        "method": s["method"],
        "backbone": s["backbone"],
        "dataset": s["dataset"],
        "epochs": done,
        "complete": bool(s.get("complete")),
        "knn_top1": s.get("knn_top1"),
        "gain_over_init": s.get("gain_over_init"),
        "online_linear_top1": s.get("online_linear_top1"),
        "linear_top1": s.get("linear_top1"),
        "linear_top5": s.get("linear_top5"),
        "linear_top1_init": s.get("linear_top1_init"),
        "knn_top1_init": s.get("knn_top1_init"),
        "knn_top1_pixels": s.get("knn_top1_pixels"),
        "linear_top1_pixels": s.get("linear_top1_pixels"),
        "linear_protocol": s.get("linear_protocol"),
        "paper": theirs,
        "paper_metric": metric,
        "paper_source": paper.get("source", ""),
        "delta": None if ours is None or theirs is None else ours - theirs,
        "cross_metric": theirs is not None and ours is None,
        "images_per_s": s.get("images_per_s"),
        "wall_s": s.get("wall_s"),
    }


def format_cell(key: str, row: dict[str, Any]) -> str:
    """One table cell as the terminal, markdown and HTML reports show it."""
    value = row[key]
    if key == "delta" and row["cross_metric"]:
        return "-*"
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
    notes = [CROSS_METRIC_NOTE] if any(row["cross_metric"] for row in rows) else []
    table = Table(title="zoo compare", caption="\n".join([CAPTION, *notes]))
    for key, title in COLUMNS:
        table.add_column(title, justify="left" if key in ("run", "method", "backbone", "dataset") else "right")
    for row in rows:
        table.add_row(*(format_cell(key, row) for key, _ in COLUMNS))
    return table


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(format_cell(key, row) for key, _ in COLUMNS) + " |" for row in rows]
    sources = sorted({row["paper_source"] for row in rows if row["paper_source"]})
    lines += ["", CAPTION[0].upper() + CAPTION[1:] + "."]
    lines += [CROSS_METRIC_NOTE] if any(row["cross_metric"] for row in rows) else []
    lines += [f"Paper: {source}." for source in sources]
    return "\n".join(lines) + "\n"


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2) + "\n"
