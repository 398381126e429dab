"""`zoo bench`: the trainer's own step measured with a phase breakdown, and the DataLoader peer beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from zoo.augment import create_augment
from zoo.augment.pipeline import view_specs
from zoo.bench.peer import peer_loader, view_transform
from zoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "method.proj_hidden_dim=64",
    "method.proj_output_dim=32",
    "data.fraction=0.05",
    "schedule.batch_size=32",
]


def _sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def test_bench_reports_phases_memory_and_the_peer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", str(ROOT / "recipes" / "quickstart.toml"), "--steps", "2", "--warmup", "1", "--workers", "0"]
    assert main([*args, "--json", str(out), *_sets(TINY)]) == 0
    result = json.loads(out.read_text())
    assert result["data"] == "fashion-mnist-small" and result["steps"] == 2 and result["batch_size"] == 32
    assert result["views"] == 2 and result["views_per_s"] == pytest.approx(2 * result["images_per_s"])
    assert list(result["phase_ms"]) == ["data", "augment", "forward", "loss", "backward", "optimizer"]
    assert all(ms >= 0 for ms in result["phase_ms"].values()) and result["phase_ms"]["forward"] > 0
    assert result["peak_memory_mb"] > 0 and result["images_per_s"] > 0 and result["peer_images_per_s"] > 0
    assert result["peer_ratio"] == pytest.approx(result["images_per_s"] / result["peer_images_per_s"])
    assert result["step_settings"].startswith(("fp32", "bf16"))
    assert "zoo / peer" in capsys.readouterr().out
    assert not (Path.cwd() / "runs" / "quickstart-bench").exists()


def test_bench_without_the_dataset_measures_random_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    recipe = ROOT / "recipes" / "mi_binary_cifar10.toml"
    sets = [
        *TINY[:2], f'data.root="{tmp_path}"', "backbone.name=test_resnet", "schedule.batch_size=16",
        "optim.name=sgd", "run.precision=fp32",
    ]  # fmt: skip
    assert main(["bench", str(recipe), "--steps", "1", "--no-peer", "--json", str(out), *_sets(sets)]) == 0
    result = json.loads(out.read_text())
    assert result["data"] == "synthetic" and result["peer_images_per_s"] is None
    assert result["step_settings"].startswith("fp32")
    assert "random images of the same shape" in capsys.readouterr().err


def test_bench_user_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:  # argparse's own check, one line
        main(["bench", str(ROOT / "recipes" / "quickstart.toml"), "--steps", "0"])
    assert stop.value.code == 2
    assert main(["bench", str(ROOT / "recipes" / "quickstart.toml"), "--set", "run.precision=fp8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--steps" in err[0] and "run.precision" in err[1]


def test_peer_views_match_zoo_views_in_shape_and_scale() -> None:
    augment = create_augment("solo-symmetric", image_size=32, n_views=2, normalize="cifar10")
    images = torch.randint(0, 256, (8, 3, 40, 40), dtype=torch.uint8)
    (views, labels) = next(iter(peer_loader(images, torch.arange(8), augment, batch_size=4, workers=0,
                                            pin_memory=False)))  # fmt: skip
    ours = augment(images[:4])
    assert [v.shape for v in views] == [v.shape for v in ours] and labels.shape == (4,)
    assert all(v.dtype == torch.float32 for v in views)
    # normalised alike: the mean over many views is near the normalised mean of the images in both pipelines
    spec = view_specs(augment.preset, 32, 2, 0, augment.local_size)[0]
    transform = view_transform(augment.preset, spec, augment.mean, augment.std)
    theirs = torch.stack([transform(images[0]) for _ in range(64)]).mean()
    zoo_mean = torch.cat(augment(images[:1].repeat(64, 1, 1, 1))).mean()
    assert abs(float(theirs) - float(zoo_mean)) < 0.15


def test_separate_unsynchronised_pass_gives_images_per_second_and_clean_phases(tmp_path: Path) -> None:
    """The CUDA way of measuring (images/s from a pass without synchronisation, phases from a second), forced on
    the CPU: the phase hooks must not count the first pass, and images/s must be a rate, not seconds."""
    from rich.console import Console

    from zoo.bench import bench

    steps, batch = 3, 32
    recipe = ROOT / "recipes" / "quickstart.toml"
    result = bench(recipe, TINY, steps=steps, warmup=1, peer=False, console=Console(quiet=True), separate_pass=True)
    assert all(ms >= 0 for ms in result.phase_ms.values()), result.phase_ms
    phased_images_per_s = steps * batch / (sum(result.phase_ms.values()) * steps / 1e3)
    assert phased_images_per_s / 4 < result.images_per_s < phased_images_per_s * 4
