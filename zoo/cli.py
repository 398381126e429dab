"""`zoo ...`: thin verbs over the library. Exit codes: 0 done, 2 user error (one line), 130 interrupted, 1 bug."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from zoo.errors import ZooError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        self.exit(EXIT_USER_ERROR, f"zoo: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoo", description="Self-supervised learning zoo around mi-binary (MIO).")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="pre-train and evaluate from a TOML recipe")
    p.add_argument("recipe", nargs="?", help="recipe file, e.g. recipes/quickstart.toml")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe value, e.g. --set optim.lr=0.3 (values are TOML)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run folder")
    p.set_defaults(func=_train)

    p = sub.add_parser("compare", help="runs side by side, with paper numbers")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.set_defaults(func=_compare)

    p = sub.add_parser("list", help="list methods, backbones, recipes, datasets or augmentation presets")
    p.add_argument("what", choices=sorted(_LISTS))
    p.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ZooError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _console():
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=180)  # logs and pipes get the whole table


def _train(args: argparse.Namespace) -> None:
    from zoo.train import TrainingInterrupted, train

    if (args.recipe is None) == (args.resume is None):
        raise ZooError("give a recipe file or --resume RUN_DIR (one of them)")
    try:
        result = train(args.recipe, args.overrides, resume=args.resume)
    except TrainingInterrupted as stop:
        print(f"zoo: {stop}", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    from zoo.report import compare, rich_table

    _console().print(rich_table(compare([result.run_dir])))
    print(f"run folder: {result.run_dir}")


def _compare(args: argparse.Namespace) -> None:
    from zoo.report import compare, rich_table, to_json, to_markdown

    rows = compare(args.runs)
    _console().print(rich_table(rows))
    for target, render in ((args.markdown, to_markdown), (args.json, to_json)):
        if target:
            Path(target).write_text(render(rows))


def _list(args: argparse.Namespace) -> None:
    from rich.table import Table

    columns, rows = _LISTS[args.what](args.pattern)
    table = Table(title=f"zoo {args.what}")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    _console().print(table)


def _list_methods(pattern: str | None) -> tuple[list[str], list[list[str]]]:
    from zoo.methods import get_method_class, list_methods

    rows = []
    for name in list_methods(pattern):
        cls = get_method_class(name)
        rows.append([name, cls.family, cls.paper, cls.default_augment, _first_line(cls.__doc__)])
    return ["method", "family", "paper", "preset", "description"], rows


def _list_backbones(pattern: str | None) -> tuple[list[str], list[list[str]]]:
    import timm.models

    from zoo.backbones import list_backbones

    rows = [[n, timm.models.model_entrypoint(n).__module__.rsplit(".", 1)[-1]] for n in list_backbones(pattern)]
    return ["backbone", "timm family"], rows


def _list_datasets(pattern: str | None) -> tuple[list[str], list[list[str]]]:
    from zoo.data import DATASETS, list_datasets, locate_dataset

    rows = []
    for name in list_datasets(pattern):
        entry, found = DATASETS.get(name), locate_dataset(name)
        p = entry.protocol
        splits = f"{', '.join(entry.splits)} (pre-train {p.pretrain}; eval {p.fit} -> {p.test})"
        classes = "from folders" if entry.classes is None else str(entry.classes)
        where = str(found) if found else "not found (set data.root)"
        rows.append([name, entry.size, classes, splits, where, entry.description])
    return ["dataset", "size", "classes", "splits", "data found in", "description"], rows


def _list_augments(pattern: str | None) -> tuple[list[str], list[list[str]]]:
    from zoo.augment import PRESETS, list_augments

    return ["preset", "description"], [[n, PRESETS.get(n).description] for n in list_augments(pattern)]


def _list_recipes(pattern: str | None) -> tuple[list[str], list[list[str]]]:
    import fnmatch

    rows = []
    for path in sorted(recipe_dir().glob("*.toml")):
        if pattern is None or fnmatch.fnmatchcase(path.stem, pattern):
            rows.append([str(path), _first_comment(path)])
    return ["recipe", "description"], rows


def recipe_dir() -> Path:
    """The shipped recipes: ./recipes where it exists, else the checkout the package was installed from."""
    local = Path("recipes")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "recipes"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def _first_comment(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


_LISTS: dict[str, Callable[[str | None], tuple[list[str], list[list[str]]]]] = {
    "methods": _list_methods,
    "backbones": _list_backbones,
    "datasets": _list_datasets,
    "recipes": _list_recipes,
    "augments": _list_augments,
}

if __name__ == "__main__":
    sys.exit(main())
