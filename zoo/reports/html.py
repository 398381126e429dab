"""One self-contained HTML page of runs side by side: figures inlined as SVG data URIs, the comparison table, the
paper numbers with their metric and source, every run's settings with those that differ between runs highlighted,
and where the numbers came from (machine, versions, recipe hash). No script, no style sheet or font from elsewhere:
the page requests nothing and can be mailed or attached as one file.
"""

from __future__ import annotations

import datetime
import platform
import sys
from html import escape
from pathlib import Path
from typing import Any

import zoo
from zoo.plotting import has_matplotlib, require_matplotlib
from zoo.provenance import LIBRARIES
from zoo.report import CAPTION, COLUMNS, CROSS_METRIC_NOTE, format_cell
from zoo.reports.figures import svg_data_uris
from zoo.reports.runs import RunRecord, differing_keys

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
tr.differs td { background: #fff3c4; font-weight: 600; }
.note { color: #666; font-size: .9em; } figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
"""
_TEXT_COLUMNS = ("run", "method", "backbone", "dataset")
_FIGURE_CAPTIONS = {
    "curves": "Learning curves: loss, kNN and online linear top-1 by epoch (stars: the offline linear probe).",
    "accuracy": "Final top-1 per run; diamonds: the paper's number, on the bar of the metric it reports.",
    "speed": "Pre-training images per second.",
}


def write_html(runs: list[RunRecord], path: str | Path, *, figures: bool | None = None) -> Path:
    """Write the page; `figures=None` inlines them when matplotlib is installed (True requires it)."""
    if figures:
        require_matplotlib()
    with_figures = has_matplotlib() if figures is None else figures
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(runs, with_figures))
    return path


def render_html(runs: list[RunRecord], with_figures: bool = True) -> str:
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>zoo compare: {escape(', '.join(run.name for run in runs))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>zoo compare: {len(runs)} run{'s' if len(runs) != 1 else ''}</h1>",
        f'<p class="note">made {made} with zoo {zoo.__version__}; every number below is read from the runs\' '
        "folders.</p>",
        _figures(runs) if with_figures else _no_figures(),
        _comparison(runs),
        _paper(runs),
        _settings(runs),
        _provenance(runs),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _figures(runs: list[RunRecord]) -> str:
    items = [
        f'<figure id="figure-{name}"><img alt="{name}" src="{uri}"><figcaption class="note">'
        f"{escape(_FIGURE_CAPTIONS[name])}</figcaption></figure>"
        for name, uri in svg_data_uris(runs).items()
    ]
    return "<h2>Figures</h2>\n" + "\n".join(items)


def _no_figures() -> str:
    return "<h2>Figures</h2><p class=\"note\">no figures: they need matplotlib (pip install 'ssl-zoo[plot]').</p>"


def _table(header: list[str], rows: list[tuple[list[str], str]], text_columns: int = 1) -> str:
    """An HTML table; each row is (cells, its class); the first `text_columns` columns are left-aligned text."""

    def cls(i: int) -> str:
        return ' class="text"' if i < text_columns else ""

    head = "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(header))
    body = [
        (f'<tr class="{row_class}">' if row_class else "<tr>")
        + "".join(f"<td{cls(i)}>{escape(c)}</td>" for i, c in enumerate(cells))
        + "</tr>"
        for cells, row_class in rows
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _comparison(runs: list[RunRecord]) -> str:
    rows = [([format_cell(key, run.row) for key, _ in COLUMNS], "") for run in runs]
    notes = [CAPTION, *([CROSS_METRIC_NOTE] if any(run.row["cross_metric"] for run in runs) else [])]
    table = _table([title for _, title in COLUMNS], rows, text_columns=len(_TEXT_COLUMNS))
    return "<h2>Comparison</h2>\n" + table + "".join(f'<p class="note">{escape(n)}</p>' for n in notes)


def _paper(runs: list[RunRecord]) -> str:
    rows = [
        ([run.name, run.row["paper_metric"] or "-", run.row["paper_source"] or "-", f"{run.row['paper']:.2f}"], "")
        for run in runs
        if run.row["paper"] is not None
    ]
    if not rows:
        return '<h2>Paper numbers</h2><p class="note">none of these recipes names a paper number ([paper] value).</p>'
    return "<h2>Paper numbers</h2>\n" + _table(["run", "metric", "source", "paper top-1"], rows, text_columns=3)


def _settings(runs: list[RunRecord]) -> str:
    """Every setting, one column per run; those that differ between runs first and highlighted."""
    differ = differing_keys(runs)
    keys = sorted({k for run in runs for k in run.settings}, key=lambda k: (k not in differ, k))
    rows = [
        ([key, *(_value(run.settings.get(key, "-")) for run in runs)], "differs" if key in differ else "")
        for key in keys
    ]
    summary = (
        f"{len(differ)} of {len(keys)} settings differ between the runs (highlighted, first)"
        if len(runs) > 1
        else f"{len(keys)} settings"
    )
    table = _table(["setting", *(run.name for run in runs)], rows, text_columns=len(runs) + 1)
    return f'<h2>Settings</h2>\n<p class="note">{summary}.</p>\n{table}'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _provenance(runs: list[RunRecord]) -> str:
    header = ["run", "device", "recipe hash", "zoo", *LIBRARIES]
    rows = []
    for run in runs:
        p = run.summary.get("provenance") or {}
        versions = p.get("versions", {})
        device = p.get("device") or run.summary.get("device") or "-"
        cells = [run.name, device, p.get("recipe_hash", "-"), *(versions.get(k, "-") for k in ("zoo", *LIBRARIES))]
        rows.append((cells, ""))
    here = f"this page was made on {platform.platform()} with Python {sys.version.split()[0]}"
    return (
        "<h2>Machine and versions</h2>\n"
        + _table(header, rows, text_columns=len(header))
        + f'<p class="note">each run as recorded in its summary.json (unfinished runs: none yet); {escape(here)}.</p>'
    )
