"""`zoo compare --plots/--html` from two tiny runs: the files, a page that requests nothing, the differing settings
marked, the paper numbers with metric and source, and provenance."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

import zoo.plotting
from zoo.cli import main
from zoo.provenance import recipe_hash
from zoo.recipes import load_recipe

ATTRIBUTE_URLS = re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]+)""", re.I)


def test_plots_and_html_from_the_cli(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    plots, page_path = tmp_path / "plots", tmp_path / "report.html"
    assert main(["compare", str(a), str(b), "--plots", str(plots), "--html", str(page_path)]) == 0
    for name in ("curves", "accuracy", "speed"):
        assert (plots / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (plots / f"{name}.svg").read_text()
    page = page_path.read_text()

    urls = ATTRIBUTE_URLS.findall(page)
    assert urls and all(url.startswith("data:image/svg+xml;base64,") for url in urls)  # figures only, inline
    assert not re.search(r"<script|<link|@import|url\(", page, re.I)  # nothing else could fetch
    figures = re.findall(r'<figure id="figure-(\w+)"><img alt="\w+" src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert [name for name, _ in figures] == ["curves", "accuracy", "speed"]
    assert all(base64.b64decode(data).lstrip().startswith(b"<?xml") for _, data in figures)

    # the one setting that differs is marked and listed first; an equal one is not
    assert '<tr class="differs"><td class="text">method.tau_neg</td><td class="text">0.1</td>' in page
    assert '<tr><td class="text">backbone.name</td>' in page
    assert "1 of " in page and " settings differ between the runs" in page

    assert '<td class="text">knn top-1</td><td class="text">a test source</td><td>70.00</td>' in page
    summary = json.loads((a / "summary.json").read_text())
    assert summary["provenance"]["recipe_hash"] in page and summary["provenance"]["versions"]["torch"] in page


def test_provenance_in_every_summary(two_runs: tuple[Path, Path]) -> None:
    import timm
    import torch

    a, b = (json.loads((run / "summary.json").read_text())["provenance"] for run in two_runs)
    assert a["versions"]["torch"] in torch.__version__  # the distribution's version, without a "+cpu" tag
    assert a["versions"]["timm"] == timm.__version__ and {"zoo", "kornia", "lightly"} <= set(a["versions"])
    assert a["device"] == "cpu"
    assert a["recipe_hash"] == recipe_hash(load_recipe(two_runs[0] / "recipe.toml"))
    assert a["recipe_hash"] != b["recipe_hash"]  # tau_neg differs


def test_recipe_hash_ignores_name_and_folder_only(tmp_path: Path) -> None:
    quickstart = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
    base = recipe_hash(load_recipe(quickstart))
    assert recipe_hash(load_recipe(quickstart, ["run.name=other", 'run.out_dir="elsewhere"'])) == base
    assert recipe_hash(load_recipe(quickstart, ["optim.lr=0.2"])) != base


def test_without_matplotlib_the_cli_names_the_extra_and_writes_nothing(
    two_runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(zoo.plotting, "has_matplotlib", lambda: False)
    page = tmp_path / "report.html"
    assert main(["compare", str(two_runs[0]), "--html", str(page), "--markdown", str(tmp_path / "t.md")]) == 2
    assert "ssl-zoo[plot]" in capsys.readouterr().err and not list(tmp_path.iterdir())
