"""`zoo train` end to end on the new datasets' fixtures with a tiny backbone."""

from pathlib import Path

import pytest

from tests.conftest import TINY_BACKBONE
from tests.data.layouts import save_image, write_stl10
from zoo.cli import main

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TINY = [
    f"backbone.name={TINY_BACKBONE}",
    "method.proj_hidden_dim=32",
    "method.proj_output_dim=16",
    "schedule.epochs=1",
    "schedule.batch_size=8",
    "schedule.warmup_epochs=0",
    "eval.knn_k=5",
]


def _sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "cache"))


def test_zoo_train_mi_binary_stl10(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stl10(tmp_path / "data", n_train=8, n_test=6, n_unlabeled=16)
    extra = [f'data.root="{tmp_path / "data"}"', f'run.out_dir="{tmp_path / "runs"}"', "data.device_memory_budget=0"]
    assert main(["train", str(RECIPES / "mi_binary_stl10.toml"), *_sets([*TINY, *extra])]) == 0
    err = capsys.readouterr().err
    assert "stl10 train+unlabeled, 24 images" in err and "streamed from host memory" in err
    summary = (tmp_path / "runs" / "mi_binary_stl10" / "summary.json").read_text()
    assert '"steps": 3' in summary and '"knn_top1": null' not in summary


def test_unlabeled_folder_trains_and_skips_evaluation_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k in range(8):
        save_image(tmp_path / "photos" / f"{k}.png", k, (12, 12))
    extra = [
        "data.dataset=image-folder",
        f'data.root="{tmp_path / "photos"}"',
        "data.labels=false",
        "data.store_size=16",
        "backbone.image_size=16",
        f'run.out_dir="{tmp_path / "runs"}"',
    ]
    assert main(["train", str(RECIPES / "mi_binary_stl10.toml"), *_sets([*TINY, *extra])]) == 0
    err = capsys.readouterr().err
    assert err.count("kNN evaluation skipped") == 1 and "eval_root" in err
