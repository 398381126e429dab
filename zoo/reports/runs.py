"""A run folder as the reports read it: its comparison row, summary, epoch history and resolved settings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.recipes import load_recipe
from zoo.report import compare, read_history
from zoo.settings import resolved_settings


@dataclass
class RunRecord:
    folder: Path
    row: dict[str, Any]  # zoo.report.compare's row
    summary: dict[str, Any]  # summary.json; empty for an unfinished run
    history: list[dict[str, Any]]  # metrics.jsonl, one record per epoch
    settings: dict[str, Any]  # every effective setting, flat (zoo.settings.resolved_settings) plus run.seed

    @property
    def name(self) -> str:
        return self.row["run"]


def load_runs(run_dirs: Iterable[str | Path]) -> list[RunRecord]:
    """Every run folder given, in order (user errors as `zoo compare` raises them)."""
    folders = [Path(d) for d in run_dirs]
    rows = compare(folders)
    return [_record(folder, row) for folder, row in zip(folders, rows, strict=True)]


def _record(folder: Path, row: dict[str, Any]) -> RunRecord:
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    settings: dict[str, Any] = {}
    if (folder / "recipe.toml").is_file():
        try:
            recipe = load_recipe(folder / "recipe.toml")
        except ZooError as err:  # a recipe of another zoo version: the report still shows the run's numbers
            settings = {"recipe": f"unreadable: {err}"}
        else:
            settings = {"run.seed": recipe.run.seed, **resolved_settings(recipe)}
    return RunRecord(folder, row, summary, read_history(folder), settings)


def differing_keys(runs: list[RunRecord]) -> set[str]:
    """Settings whose values are not the same in every run (a key missing from a run counts as differing)."""
    keys = {k for run in runs for k in run.settings}
    return {k for k in keys if len({repr(run.settings.get(k, "<missing>")) for run in runs}) > 1}
