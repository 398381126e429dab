"""Every CIFAR-10 recipe against its published reference (benchmarks/fidelity.toml), and FIDELITY.md up to date."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from zoo import list_methods

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fidelity", ROOT / "benchmarks" / "fidelity.py")
fidelity = importlib.util.module_from_spec(_spec)
sys.modules["fidelity"] = fidelity  # dataclasses look their module up
_spec.loader.exec_module(fidelity)

TABLES = {t.method: t for t in fidelity.build_tables()}


def test_every_method_has_a_fidelity_table() -> None:
    assert sorted(TABLES) == list_methods()


@pytest.mark.parametrize("method", sorted(TABLES))
def test_recipe_matches_its_reference_or_declares_why_not(method: str) -> None:
    table = TABLES[method]
    undeclared = [(r.key, r.zoo, r.reference) for r in table.rows if not r.matches and not r.deviation]
    assert not undeclared, f"{table.recipe} differs from {table.reference}: {undeclared}"
    stale = [r.key for r in table.rows if r.matches and r.deviation]
    assert not stale, f"deviations declared for settings that match: {stale}"


def test_declared_deviations_name_real_settings() -> None:
    data = fidelity.load_data()
    for method, entry in data["methods"].items():
        keys = set(fidelity.expand_reference(entry, data))
        assert set(entry.get("deviations", {})) <= keys, method


def test_fidelity_doc_is_generated_from_the_data() -> None:
    expected = fidelity.render(list(TABLES.values()))
    assert (ROOT / "benchmarks" / "FIDELITY.md").read_text() == expected, "run: python benchmarks/fidelity.py"


def test_a_wrong_recipe_value_is_caught() -> None:
    data = fidelity.load_data()
    data["methods"]["simclr"]["settings"]["optim.lr"] = 0.3
    (simclr,) = [t for t in fidelity.build_tables(data) if t.method == "simclr"]
    assert [r.key for r in simclr.rows if not r.matches] == ["optim.lr"]


def test_described_parts_name_tests_that_exist() -> None:
    for table in TABLES.values():
        for part in table.described:
            if part["test"] == "-":
                continue
            path, _, name = part["test"].partition("::")
            source = (ROOT / path).read_text()
            assert not name or f"def {name}(" in source, part["test"]
