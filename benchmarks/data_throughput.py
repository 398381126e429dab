"""Data-path speed: decode-once images/s on a generated folder of JPEGs, and streaming vs device-resident batches/s.

python benchmarks/data_throughput.py --images 512 --source-size 375 500 --store-size 96 --stream-images 20000

The decode benchmark writes `--images` random-texture JPEGs (ImageNet-like 375x500 by default) into a temporary
class-folder root, then times `create_dataset("image-folder", ...)` from an empty cache (list, decode, resize, write)
and again from the warm cache. The loader benchmark memory-maps a (N, 3, S, S) uint8 array, as the cache stores it,
and times one epoch of `DeviceLoader` and `StreamingLoader` on the chosen device, after one untimed epoch each.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.io import encode_jpeg

from zoo.data import DeviceLoader, ImageDataset, StreamingLoader, create_dataset
from zoo.data.cache import open_images


def write_jpegs(root: Path, n: int, size: tuple[int, int], classes: int = 10) -> None:
    """n JPEGs of smooth random textures (JPEG-typical entropy) in `classes` class folders of root/train."""
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        low = torch.randint(0, 256, (3, size[0] // 8, size[1] // 8), generator=g, dtype=torch.uint8)
        image = torch.nn.functional.interpolate(low[None].float(), size=size, mode="bilinear")[0].to(torch.uint8)
        path = root / "train" / f"c{i % classes}" / f"{i}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_jpeg(image, quality=90).numpy().tobytes())


def bench_decode(n: int, size: tuple[int, int], store_size: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_jpegs(root / "folder", n, size)
        os.environ["ZOO_DATA"] = str(root / "cache")
        started = time.perf_counter()
        create_dataset("image-folder", root=root / "folder", store_size=store_size)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        create_dataset("image-folder", root=root / "folder", store_size=store_size)
        return n / cold, time.perf_counter() - started


def bench_loaders(n: int, size: int, batch: int, device: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "images.npy"
        images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
        images[:] = np.random.default_rng(0).integers(0, 256, size=(1, 3, size, size), dtype=np.uint8)
        images.flush()
        del images
        dataset = ImageDataset("bench", open_images(path), torch.zeros(n, dtype=torch.int64), 1, ["x"], "imagenet")
        rates = {}
        for name, cls in (("device-resident", DeviceLoader), ("streaming", StreamingLoader)):
            loader = cls(dataset, batch_size=batch, device=device)
            for _ in loader.epoch(0):  # warm-up: map the pages, start the device
                pass
            started = time.perf_counter()
            for images_batch, _ in loader.epoch(1):
                images_batch.float().mean()  # touch the batch, as a training step would
            if device == "cuda":
                torch.cuda.synchronize()
            rates[name] = len(loader) / (time.perf_counter() - started)
        return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--source-size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    parser.add_argument("--store-size", type=int, default=96)
    parser.add_argument("--stream-images", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    per_s, warm = bench_decode(args.images, tuple(args.source_size), args.store_size)
    print(
        f"decode once: {args.images} JPEGs {args.source_size[0]}x{args.source_size[1]} -> {args.store_size} px: "
        f"{per_s:.0f} images/s on {os.cpu_count()} cores; second load from the cache {warm * 1000:.0f} ms"
    )
    rates = bench_loaders(args.stream_images, args.store_size, args.batch, args.device)
    for name, rate in rates.items():
        print(f"{name} loader ({args.device}): {rate:.1f} batches/s of {args.batch} ({rate * args.batch:.0f} images/s)")


if __name__ == "__main__":
    main()
