"""The `[run] precision` / `channels_last` / `compile` table of a recipe: images/s of each combination (`zoo bench`'s
measurement, combinations alternated round by round in one process so that a busy machine hurts them alike) and,
with `--accuracy`, the kNN top-1 each reaches after the same number of steps. A benchmark, not a test: results go to
RESULTS.md with the command.

    python benchmarks/speed_settings.py recipes/quickstart.toml --steps 10 --rounds 3
    python benchmarks/speed_settings.py recipes/quickstart.toml --accuracy --set schedule.epochs=3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from rich.console import Console

from zoo.bench import bench
from zoo.train import train

COMBINATIONS = {
    "fp32": ["run.precision=fp32", "run.channels_last=false"],
    "fp32 + channels_last": ["run.precision=fp32", "run.channels_last=true"],
    "bf16": ["run.precision=bf16", "run.channels_last=false"],
    "bf16 + channels_last": ["run.precision=bf16", "run.channels_last=true"],
}
COMPILED = {
    "fp32 + channels_last + compile": ["run.precision=fp32", "run.channels_last=true", "run.compile=true"],
    "bf16 + channels_last + compile": ["run.precision=bf16", "run.channels_last=true", "run.compile=true"],
}


def speed(recipe: str, sets: list[str], names: list[str], steps: int, rounds: int) -> dict[str, list[float]]:
    quiet = Console(quiet=True)
    table = {**COMBINATIONS, **COMPILED}
    results: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            result = bench(recipe, [*sets, *table[name]], steps=steps, warmup=2, peer=False, console=quiet)
            results[name].append(result.images_per_s)
    return results


def accuracy(recipe: str, sets: list[str], names: list[str]) -> dict[str, dict[str, float]]:
    table = {**COMBINATIONS, **COMPILED}
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as runs:
        for i, name in enumerate(names):
            where = [f'run.out_dir="{runs}"', f"run.name=setting-{i}", "eval.linear_epochs=0"]
            summary = train(recipe, [*sets, *table[name], *where], console=Console(quiet=True)).summary
            out[name] = {"knn_top1": summary["knn_top1"], "images_per_s": summary["images_per_s"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="add the compiled combination (slow first step)")
    parser.add_argument("--accuracy", action="store_true", help="train each combination; kNN top-1 at equal steps")
    parser.add_argument("--only", nargs="+", help="these combinations only")
    args = parser.parse_args()
    known = {**COMBINATIONS, **COMPILED}
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        parser.error(f"unknown combination {unknown[0]!r}; choose from {', '.join(map(repr, known))}")
    names = args.only or [*COMBINATIONS, *(COMPILED if args.compile else {})]
    if args.accuracy:
        print("| setting | kNN top-1 | images/s (training) |\n|---|---|---|")
        for name, r in accuracy(args.recipe, args.sets, names).items():
            print(f"| {name} | {r['knn_top1']:.2f} | {r['images_per_s']:.0f} |")
        return
    results = speed(args.recipe, args.sets, names, args.steps, args.rounds)
    base = statistics.median(results[names[0]])
    print(f"| setting | images/s (median of {args.rounds}) | all rounds | vs {names[0]} |\n|---|---|---|---|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.0f} | {', '.join(f'{v:.0f}' for v in values)} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
