"""Suites: a TOML file listing runs (a recipe and overrides each) -> run or resume each in turn -> one comparison.

    # recipes/suites/example.toml
    [suite]
    name = "example"                          # default: the file's stem
    out_dir = "runs/suites"                   # the suite's folder is <out_dir>/<name>
    overrides = ["eval.linear_augment=false"] # for every run, before its own

    [[run]]
    recipe = "../quickstart.toml"             # relative to the suite file
    name = "mi_binary"                        # the run's folder in the suite's folder; default: the recipe's stem
    overrides = ["schedule.epochs=3"]

A finished run (summary.json) is skipped, an unfinished one resumed from its checkpoint, so an interrupted suite
continues where it stopped. Every recipe is validated before the first run starts. The comparison is printed by the
CLI and written to the suite's folder as comparison.md, comparison.json and comparison.html (`zoo compare` of the run
folders; the page has figures where matplotlib is installed).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from zoo.errors import RecipeError, SuiteError
from zoo.recipes import Recipe, load_recipe, toml_string
from zoo.registry import did_you_mean
from zoo.report import to_json, to_markdown
from zoo.reports import load_runs, write_html
from zoo.train import train

_SUITE_KEYS = ("name", "out_dir", "overrides")
_RUN_KEYS = ("recipe", "name", "overrides")


@dataclass
class SuiteRun:
    name: str
    recipe: Recipe
    folder: Path


@dataclass
class SuiteResult:
    folder: Path
    rows: list[dict[str, Any]]


def load_suite(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), out_dir: str | Path | None = None
) -> tuple[Path, list[SuiteRun]]:
    """Parse and validate a suite file: (the suite's folder, its runs with their resolved recipes)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"suite file {str(path)!r} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{path}: malformed TOML: {err}") from None
    for key in raw:
        if key not in ("suite", "run"):
            raise SuiteError(f"{path}: unknown section [{key}]: {did_you_mean(key, ['suite', 'run'])}")
    head = _table(raw.get("suite", {}), _SUITE_KEYS, f"{path}: [suite]")
    folder = Path(out_dir or head.get("out_dir", "runs/suites")) / head.get("name", path.stem)
    entries = raw.get("run", [])
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{path}: a suite lists its runs as [[run]] tables with a recipe each; found none")
    runs: list[SuiteRun] = []
    for i, entry in enumerate(entries, 1):
        entry = _table(entry, _RUN_KEYS, f"{path}: run {i}")
        if "recipe" not in entry:
            raise SuiteError(f'{path}: run {i} has no recipe = "..."')
        recipe_path = path.parent / entry["recipe"]
        name = entry.get("name", recipe_path.stem)
        if any(r.name == name for r in runs):
            raise SuiteError(f'{path}: two runs named {name!r}; give one a name = "..."')
        items = [*_strings(head, path), *_strings(entry, path), *overrides]
        items += [f"run.name={toml_string(name)}", f"run.out_dir={toml_string(str(folder))}"]
        try:
            recipe = load_recipe(recipe_path, items)
        except RecipeError as err:
            raise SuiteError(f"{path}: run {name!r}: {err}") from None
        runs.append(SuiteRun(name, recipe, folder / name))
    return folder, runs


def run_suite(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    out_dir: str | Path | None = None,
    console: Console | None = None,
) -> SuiteResult:
    """Run (or skip, or resume) every run of the suite in turn, then write its comparison."""
    console = console or Console(stderr=True)
    folder, runs = load_suite(path, overrides, out_dir)
    for i, run in enumerate(runs, 1):
        state = _state(run.folder)
        console.print(f"suite {folder.name}: run {i}/{len(runs)} {run.name}: {state}", highlight=False)
        if state == "finished, skipped":
            continue
        if state == "resuming":
            train(None, resume=run.folder, console=console)
        else:
            train(run.recipe, console=console)
    records = load_runs(run.folder for run in runs)
    rows = [record.row for record in records]
    (folder / "comparison.md").write_text(to_markdown(rows))
    (folder / "comparison.json").write_text(to_json(rows))
    write_html(records, folder / "comparison.html")
    return SuiteResult(folder, rows)


def _state(folder: Path) -> str:
    if (folder / "summary.json").is_file():
        return "finished, skipped"
    if (folder / "checkpoints" / "last.pt").is_file():
        return "resuming"
    if folder.exists():
        _remove_unstarted(folder)
    return "starting"


def _remove_unstarted(folder: Path) -> None:
    """A run stopped before its first checkpoint holds only its recipe: start it again; anything else stays."""
    checkpoints = folder / "checkpoints"
    if {p.name for p in folder.iterdir()} - {"recipe.toml", "checkpoints"} or (
        checkpoints.is_dir() and any(checkpoints.iterdir())
    ):
        raise SuiteError(f"run folder {str(folder)!r} has no checkpoint to resume from; move it away to start over")
    if checkpoints.is_dir():
        checkpoints.rmdir()
    (folder / "recipe.toml").unlink(missing_ok=True)
    folder.rmdir()


def _table(value: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SuiteError(f"{where} must be a table, got {value!r}")
    for key in value:
        if key not in keys:
            raise SuiteError(f"{where}: unknown key {key!r}: {did_you_mean(key, keys)}")
    return value


def _strings(table: dict[str, Any], path: Path) -> list[str]:
    items = table.get("overrides", [])
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise SuiteError(f'{path}: overrides must be a list of "section.key=value" strings, got {items!r}')
    return items
