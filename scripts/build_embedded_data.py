"""Build zoo/data/embedded: a stratified Fashion-MNIST subset as xz-compressed IDX files, plus its licence.

    python scripts/build_embedded_data.py            # 1000 train / 200 test images per class, seed 0

The selection depends only on the source files and the arguments, and xz output is deterministic, so the
same command rebuilds byte-identical files; it prints each file's size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from zoo.data.dataset import stratified_indices
from zoo.data.fashion_mnist import SYSTEM_DIRS, idx_names, read_split
from zoo.data.idx import write_idx

REPO = Path(__file__).resolve().parent.parent
MAX_BYTES = 5_000_000

# Fashion-MNIST's licence, as distributed by upstream and by Debian's dataset-fashion-mnist package.
LICENSE = """\
The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def notice(per_class: dict[str, int], seed: int) -> str:
    """The LICENSE file: what the files are, where they come from, and Fashion-MNIST's MIT licence."""
    counts = ", ".join(f"{n} {split} images per class" for split, n in per_class.items())
    return (
        "The files in this folder are a subset of Fashion-MNIST (Xiao, Rasul & Vollgraf 2017),\n"
        "https://github.com/zalandoresearch/fashion-mnist, by Zalando SE,\n"
        f"chosen by scripts/build_embedded_data.py ({counts}, seed {seed}).\n"
        "Fashion-MNIST is distributed under the following licence:\n\n" + LICENSE
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SYSTEM_DIRS[0], help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", type=Path, default=REPO / "zoo" / "data" / "embedded")
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    per_class = {"train": args.train_per_class, "test": args.test_per_class}
    written = []
    for split, k in per_class.items():
        data = read_split(args.source, split, "fashion-mnist")
        keep = stratified_indices(data.labels, [k] * data.num_classes, args.seed)
        image_name, label_name = idx_names(split)
        write_idx(args.out / f"{image_name}.xz", data.images[keep].squeeze(1))
        write_idx(args.out / f"{label_name}.xz", data.labels[keep].to(torch.uint8))
        written += [args.out / f"{image_name}.xz", args.out / f"{label_name}.xz"]
    (args.out / "LICENSE").write_text(notice(per_class, args.seed))
    written.append(args.out / "LICENSE")

    total = 0
    for path in written:
        size = path.stat().st_size
        total += size
        print(f"{path.name:32} {size:>10,} B  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    print(f"{'total':32} {total:>10,} B")
    if total > MAX_BYTES:
        raise SystemExit(f"embedded data is {total:,} B, over the {MAX_BYTES:,} B budget; use fewer per class")


if __name__ == "__main__":
    main()
