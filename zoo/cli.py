"""`zoo ...`: thin verbs over the library.

Exit codes: 0 done, 2 user error (one line), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM, 1 bug (traceback).
"""

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
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="train into this folder, or resume the run already in it (torchrun --max-restarts, requeued jobs)",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser("compare", help="runs side by side, with paper numbers")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--plots", metavar="DIR", help="write figures (PNG and SVG): curves, accuracy, speed")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML report")
    p.set_defaults(func=_compare)

    p = sub.add_parser("show", help="one run in the terminal: settings, summary, curves")
    p.add_argument("run", metavar="RUN_DIR")
    p.set_defaults(func=_show)

    p = sub.add_parser("export", help="a run's backbone as safetensors, metadata in the header")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--out", metavar="FILE", help="default: RUN_DIR/backbone.safetensors")
    p.set_defaults(func=_export)

    _add_analyze(sub)
    p = sub.add_parser("eval", help="evaluate finished runs again: offline linear probe and kNN, with their floors")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--linear", action="store_true", help="the offline linear probe (default: both)")
    p.add_argument("--knn", action="store_true", help="kNN (default: both)")
    _add_set(p, "an [eval] value, e.g. --set eval.linear_epochs=10")
    p.set_defaults(func=_eval)

    p = sub.add_parser("suite", help="run a suite of recipes (skipping finished runs, resuming others), then compare")
    p.add_argument("suite", help="suite file, e.g. recipes/suites/fashion_mnist_small.toml")
    p.add_argument("--out", metavar="DIR", help="where the suite's folder goes (default: the suite's out_dir)")
    _add_set(p, "override a value of every run's recipe, e.g. --set run.device=cpu")
    p.set_defaults(func=_suite)

    p = sub.add_parser("bench", help="images/s, memory and phases of a recipe's training step, against a DataLoader")
    p.add_argument("recipe", help="recipe file, e.g. recipes/quickstart.toml")
    p.add_argument("--steps", type=_count(1), default=20, help="measured steps (20)")
    p.add_argument("--warmup", type=_count(0), default=2, help="steps before measuring (2)")
    p.add_argument("--workers", type=_count(0), help="DataLoader workers of the peer (default: cores, at most 8)")
    p.add_argument("--no-peer", dest="peer", action="store_false", help="skip the DataLoader peer")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    _add_set(p, "override a recipe value, e.g. --set run.precision=bf16")
    p.set_defaults(func=_bench)

    p = sub.add_parser("list", help="list methods, backbones, recipes, datasets or augmentation presets")
    p.add_argument("what", choices=sorted(_LISTS))
    p.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=_list)
    return parser


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="convergence analysis of runs: Hessian spectrum, mi-binary gradient flow")
    kinds = p.add_subparsers(dest="analysis", required=True, parser_class=_Parser)
    p = kinds.add_parser("hessian", help="top-k eigenvalues, trace and density of the loss Hessian; hessian.json")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--params", default="projector", help="projector (all but backbone), backbone, all, or a pattern")
    p.add_argument("--checkpoint", default="last", help="last, epoch-N or all ([run] keep_checkpoints)")
    p.add_argument("--figure", metavar="FILE", help="density figure (default: hessian.png by the run(s))")
    for flag, default, what in (
        ("--top-k", 10, "largest eigenvalues"),
        ("--batch", 256, "images in the fixed batch"),
        ("--seed", 0, "seed of the batch, its augmentation and the probes"),
        ("--lanczos-steps", 40, "Lanczos steps for the top-k"),
        ("--trace-probes", 32, "Hutchinson probes"),
        ("--density-probes", 3, "SLQ probes"),
        ("--density-steps", 40, "Lanczos steps per SLQ probe"),
    ):
        p.add_argument(flag, type=_count(0 if flag == "--seed" else 1), default=default, help=f"{what} ({default})")
    p.set_defaults(func=_analyze_hessian)
    p = kinds.add_parser("gradient", help="mi-binary: closed-form gradient vs autograd, positive/negative split")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--checkpoint", default="last", help="last, epoch-N or all")
    p.add_argument("--batch", type=_count(2), default=256, help="images in the batch (256)")
    p.add_argument("--seed", type=_count(0), default=0, help="seed of the batch and its augmentation (0)")
    p.set_defaults(func=_analyze_gradient)


def _count(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.lstrip("-").isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {text!r}")
        return int(text)

    return parse


def _add_set(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ZooError, OSError) as err:  # every verb: what a user can cause (files included) is one line, exit 2
        print(f"zoo: error: {user_error_text(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def user_error_text(err: Exception) -> str:
    """The error as one line: an OSError names what failed on which file, without its errno prefix."""
    if isinstance(err, OSError) and not isinstance(err, ZooError) and err.strerror:
        text = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    else:
        text = str(err) or type(err).__name__
    return " ".join(line.strip() for line in text.splitlines())


def _console():
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=240)  # logs and pipes get the whole table


def _train(args: argparse.Namespace) -> None:
    from zoo.train import TrainingInterrupted, train

    if (args.recipe is None) == (args.resume is None):
        raise ZooError("give a recipe file or --resume RUN_DIR (one of them)")
    if args.resume is not None and args.run_dir is not None:
        raise ZooError("give --resume RUN_DIR or --run-dir DIR, not both (--run-dir resumes the run in it anyway)")
    try:
        result = train(args.recipe, args.overrides, resume=args.resume, run_dir=args.run_dir)
    except TrainingInterrupted as stop:
        print(f"zoo: {stop}", file=sys.stderr)
        raise SystemExit(stop.exit_code) from None
    if not result.main_process:  # under torchrun rank 0 alone reports
        return
    from zoo.report import compare, rich_table

    _console().print(rich_table(compare([result.run_dir])))
    print(f"run folder: {result.run_dir}")


def _bench(args: argparse.Namespace) -> None:
    import json

    from zoo.bench import bench, bench_table

    result = bench(
        args.recipe, args.overrides, steps=args.steps, warmup=args.warmup, peer=args.peer, workers=args.workers
    )
    _console().print(bench_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def _compare(args: argparse.Namespace) -> None:
    from zoo.report import compare, rich_table, to_json, to_markdown

    if args.plots or args.html:
        from zoo.plotting import require_matplotlib

        require_matplotlib()  # before any file is written
    rows = compare(args.runs)
    _console().print(rich_table(rows))
    for target, render in ((args.markdown, to_markdown), (args.json, to_json)):
        if target:
            Path(target).write_text(render(rows))
    if args.plots or args.html:
        from zoo.reports import load_runs, write_figures, write_html

        runs = load_runs(args.runs)
        if args.plots:
            print(f"figures: {', '.join(str(p) for p in write_figures(runs, args.plots))}")
        if args.html:
            print(f"report: {write_html(runs, args.html, figures=True)}")


def _show(args: argparse.Namespace) -> None:
    from zoo.show import show_run

    show_run(args.run, _console())


def _export(args: argparse.Namespace) -> None:
    from zoo.export import export_backbone

    print(f"backbone written to {export_backbone(args.run, args.out)}")


def _analyze_hessian(args: argparse.Namespace) -> None:
    from zoo.analysis.commands import hessian_command
    from zoo.analysis.hessian import HessianSettings

    settings = HessianSettings(
        params=args.params,
        top_k=args.top_k,
        batch=args.batch,
        seed=args.seed,
        lanczos_steps=args.lanczos_steps,
        trace_probes=args.trace_probes,
        density_probes=args.density_probes,
        density_steps=args.density_steps,
    )
    hessian_command(args.runs, settings, args.checkpoint, args.figure, _console())


def _analyze_gradient(args: argparse.Namespace) -> None:
    from zoo.analysis.commands import gradient_command

    gradient_command(args.runs, args.batch, args.checkpoint, args.seed, _console())


def _eval(args: argparse.Namespace) -> None:
    from rich.console import Console

    from zoo.evaluate.run import evaluate_run
    from zoo.report import compare, rich_table

    both, progress = args.linear == args.knn, Console(stderr=True)
    for run in args.runs:
        evaluate_run(run, linear=both or args.linear, knn=both or args.knn, overrides=args.overrides, console=progress)
        print(f"evaluated {run}: results in {Path(run) / 'eval.json'} and summary.json")
    _console().print(rich_table(compare(args.runs)))


def _suite(args: argparse.Namespace) -> None:
    from zoo.report import rich_table
    from zoo.suite import run_suite
    from zoo.train import TrainingInterrupted

    try:
        result = run_suite(args.suite, args.overrides, out_dir=args.out)
    except TrainingInterrupted as stop:
        again = f"zoo suite {args.suite}" + (f" --out {args.out}" if args.out else "")
        print(f"zoo: interrupted; the suite continues where it stopped with: {again}", file=sys.stderr)
        raise SystemExit(stop.exit_code) from None
    _console().print(rich_table(result.rows))
    print(f"suite folder: {result.folder} (comparison.md, comparison.json, comparison.html)")


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

    from zoo.backbones import list_backbones, timm_name

    rows = [
        [n, timm.models.model_entrypoint(timm_name(n)).__module__.rsplit(".", 1)[-1]] for n in list_backbones(pattern)
    ]
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
