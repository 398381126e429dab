"""Decode JPEG/PNG files once, in parallel, into a uint8 array at a fixed stored size.

torchvision.io reads and decodes (libjpeg-turbo / libpng) and releases the GIL, so a thread pool scales with the
cores without worker processes. Each image becomes RGB, its shorter side is resized to the stored size (bilinear,
antialiased) and the centre square is kept: one fixed shape per dataset, so a split is one array.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2 import functional as F

from zoo.errors import DataError
from zoo.progress import work_progress

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
_CHUNK = 2048  # files in flight at once: bounds the futures held, not the parallelism


def decode_file(path: Path, size: int) -> torch.Tensor:
    """One image file -> (3, size, size) uint8: RGB, shorter side resized to `size`, centre square."""
    image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
    if image.shape[-2:] != (size, size):
        image = F.center_crop(F.resize(image, [size], antialias=True), [size, size])
    return image


def decode_into(
    paths: Sequence[Path],
    out: np.ndarray,
    *,
    skip_corrupt: bool,
    what: str,
    console: Console | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Decode `paths[i]` into `out[i]` ((N, 3, S, S) uint8) with a progress bar; returns the keep mask (N,) bool.

    An unreadable file raises `DataError` naming it, or is dropped from the mask with `skip_corrupt`.
    """
    console = console or Console(stderr=True)
    size = out.shape[-1]
    keep = np.ones(len(paths), dtype=bool)
    bad: list[Path] = []

    def work(i: int) -> None:
        try:
            out[i] = decode_file(paths[i], size).numpy()
        except (RuntimeError, OSError) as err:
            if not skip_corrupt:
                reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise DataError(
                    f"cannot decode image {paths[i]} ({reason}); fix or delete it, or set `skip_corrupt = true` "
                    "in [data] to skip unreadable images"
                ) from None
            keep[i] = False
            bad.append(paths[i])

    started = time.perf_counter()
    pool = ThreadPoolExecutor(workers or os.cpu_count() or 1)
    with work_progress(console, what, len(paths)) as advance, pool:
        for start in range(0, len(paths), _CHUNK):
            futures = [pool.submit(work, i) for i in range(start, min(start + _CHUNK, len(paths)))]
            try:
                for future in futures:
                    future.result()
                    advance()
            except DataError:
                pool.shutdown(cancel_futures=True)
                raise
    seconds = time.perf_counter() - started
    skipped = f"; skipped {len(bad)} unreadable (first: {bad[0]})" if bad else ""
    console.print(
        f"{what}: decoded {int(keep.sum())} images to {size} px in {seconds:.1f} s "
        f"({len(paths) / max(seconds, 1e-9):.0f} images/s){skipped}",
        highlight=False,
    )
    return keep


def image_files(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The JPEG/PNG files of `folder` (any case of suffix), sorted by path."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
