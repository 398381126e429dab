"""Training-step throughput of zoo methods (augment on device + loss + backward + optimiser step), and the cost of
the MIO loss against lightly's NT-Xent on the same embeddings. A benchmark, not a test: results go to RESULTS.md.

    python benchmarks/throughput.py --methods mi-binary simclr byol --backbone resnet18 --image-size 32 --batch 256
    python benchmarks/throughput.py --loss-only --batch 256 1024 4096
"""

from __future__ import annotations

import argparse
import time

import torch
from lightly.loss import NTXentLoss

import zoo


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_throughput(
    method_name: str, backbone: str, image_size: int, batch: int, steps: int, device: torch.device
) -> float:
    method = zoo.create_method(method_name, backbone=backbone, image_size=image_size).to(device)
    augment = zoo.create_augment(method.default_augment, image_size=image_size, n_views=method.n_views)
    optimizer = torch.optim.SGD(method.param_groups(), lr=0.01, momentum=0.9)
    images = torch.randint(0, 256, (batch, 3, image_size, image_size), dtype=torch.uint8, device=device)
    labels = torch.arange(batch, device=device) % 10
    cuda = device.type == "cuda"
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            _sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = method.loss(augment(images), labels if method.requires_labels else None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        method.step_end(i / (steps + 2))
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def loss_seconds(loss_fn: torch.nn.Module, n: int, dim: int, repeats: int, device: torch.device) -> float:
    z1 = torch.randn(n, dim, device=device, requires_grad=True)
    z2 = torch.randn(n, dim, device=device, requires_grad=True)
    for i in range(repeats + 2):
        if i == 2:
            _sync(device)
            start = time.perf_counter()
        loss_fn(z1, z2).backward()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["mi-binary", "simclr", "byol"])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, nargs="+", default=[256])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--loss-only", action="store_true", help="time the losses alone on random embeddings")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    card = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {card}, torch {torch.__version__}")
    if args.loss_only:
        print("| batch N | MIBinaryLoss jensen (ms) | MIBinaryLoss naive (ms) | lightly NTXentLoss (ms) |")
        print("|---|---|---|---|")
        for n in args.batch:
            times = [
                loss_seconds(fn, n, 128, args.steps, device) * 1e3
                for fn in (zoo.MIBinaryLoss(bound="jensen"), zoo.MIBinaryLoss(bound="none"), NTXentLoss(0.5))
            ]
            print(f"| {n} | " + " | ".join(f"{t:.2f}" for t in times) + " |")
        return
    print("| method | backbone | image size | batch | images/s |")
    print("|---|---|---|---|---|")
    for name in args.methods:
        for batch in args.batch:
            ips = step_throughput(name, args.backbone, args.image_size, batch, args.steps, device)
            print(f"| {name} | {args.backbone} | {args.image_size} | {batch} | {ips:.0f} |")


if __name__ == "__main__":
    main()
