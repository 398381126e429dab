"""Every verb maps every user error (ZooError) and file error (OSError) to exit 2 and one line."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import zoo.cli
from tests.cli.test_train_cli import QUICKSTART, _run_cli
from zoo.errors import ZooError

# verb arguments -> the cli function that runs them; the test fails when a verb is added without a line here
VERBS = {
    ("train", "r.toml"): "_train",
    ("compare", "run"): "_compare",
    ("eval", "run"): "_eval",
    ("suite", "s.toml"): "_suite",
    ("list", "methods"): "_list",
    ("bench", "r.toml"): "_bench",
    ("show", "run"): "_show",
    ("export", "run"): "_export",
    ("analyze", "hessian", "run"): "_analyze_hessian",
    ("analyze", "gradient", "run"): "_analyze_gradient",
}


def test_every_verb_is_covered() -> None:
    top = zoo.cli.build_parser()._subparsers._group_actions[0].choices
    analyze = top["analyze"]._subparsers._group_actions[0].choices
    assert {args[0] for args in VERBS} == set(top)
    assert {args[1] for args in VERBS if args[0] == "analyze"} == set(analyze)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ZooError("bad value\nvalid: a, b"), "zoo: error: bad value valid: a, b"),
        (
            OSError(errno.ENOSPC, "No space left on device", "runs/x/eval.json"),
            "zoo: error: No space left on device: runs/x/",
        ),
        (PermissionError(errno.EACCES, "Permission denied", "out.md"), "zoo: error: Permission denied: out.md"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "a"), "zoo: error: Is a directory: a"),
    ],
)
@pytest.mark.parametrize("args", list(VERBS))
def test_each_verb_maps_user_and_file_errors_to_exit_2_and_one_line(
    args: tuple[str, ...],
    error: Exception,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail(_: object) -> None:
        raise error

    monkeypatch.setattr(zoo.cli, VERBS[args], fail)
    code, err = _run_cli(*args, capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(expected), err


def test_real_file_errors_of_verbs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    suite = tmp_path / "s.toml"
    suite.write_text(f'[[run]]\nrecipe = "{QUICKSTART}"\n')
    cases = {
        "suite folder under a file": (
            ["suite", str(suite), "--out", str(tmp_path / "f" / "x")],
            "is a file, not a folder",
        ),
        "recipe is a folder": (["train", str(tmp_path)], "not found"),
        "analyze a non-run": (["analyze", "gradient", str(tmp_path)], "is not a run folder"),
    }
    for name, (args, expected) in cases.items():
        code, err = _run_cli(*args, capsys=capsys)
        lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
        assert code == 2 and len(lines) == 1 and expected in lines[0], f"{name}: exit {code}: {err}"
