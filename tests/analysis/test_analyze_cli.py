"""`zoo analyze` on a tiny run: hessian.json, figures, gradient.json; parameter selection; user errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo import create_method
from zoo.analysis import select_parameters
from zoo.cli import main
from zoo.errors import ZooError
from zoo.train import train

QUICKSTART = str(Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml")
TINY = [
    "method.proj_hidden_dim=16",
    "method.proj_output_dim=8",
    "backbone.name=test_resnet",
    "backbone.image_size=28",
    "backbone.small_stem=false",
    "data.fraction=0.02",
    "schedule.epochs=2",
    "schedule.batch_size=50",
    "schedule.warmup_epochs=1",
    "eval.knn_k=10",
    "run.keep_checkpoints=[1]",
]
FAST = ["--batch", "16", "--top-k", "3", "--lanczos-steps", "6", "--trace-probes", "3"]
FAST += ["--density-probes", "1", "--density-steps", "6", "--params", "projector.*"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    return train(QUICKSTART, [*TINY, f'run.out_dir="{out}"']).run_dir


def test_hessian_writes_json_table_and_figures(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["epoch-1.pt", "last.pt", "previous.pt"]
    figure = run_dir / "density.png"
    assert main(["analyze", "hessian", str(run_dir), *FAST, "--checkpoint", "all", "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "λ_max" in out and "epoch-1" in out
    analysis = json.loads((run_dir / "hessian.json").read_text())
    assert [r["epoch"] for r in analysis["results"]] == [1, 2]
    r = analysis["results"][-1]
    assert r["n_params"] == 96 * 16 + 16 * 2 + 16 * 8 + 8 * 2  # bias-free linears, BatchNorm after each
    assert len(r["top_eigenvalues"]) == 3 and r["lambda_max"] >= r["lambda_min"]
    assert r["trace_se"] > 0 and 0 <= r["negative_mass"] <= 1
    assert "BatchNorm" in analysis["state"]
    assert figure.stat().st_size > 0 and (run_dir / "density-epochs.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["analyze", "hessian", str(run_dir), *FAST]) == 0  # same seed, same numbers
    again = json.loads((run_dir / "hessian.json").read_text())["results"][0]
    assert again["top_eigenvalues"] == r["top_eigenvalues"] and again["trace"] == r["trace"]
    assert (run_dir / "hessian.png").is_file()


def test_gradient_closed_form_and_split(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "gradient", str(run_dir), "--batch", "16"]) == 0
    r = json.loads((run_dir / "gradient.json").read_text())["results"][0]
    assert r["closed_form_max_rel_error"] < 1e-9
    for split in (r["embedding"], *r["parameters"].values()):
        assert split["positive_norm"] > 0 and split["negative_norm"] > 0 and -1 <= split["cosine"] <= 1
    assert "cos(g+, g-)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hessian", "{tmp}"], "is not a run folder"),
        (["hessian", "{run}", "--params", "heads"], "parameter set 'heads' selects no trainable parameter"),
        (["hessian", "{run}", "--checkpoint", "epoch-7"], "has no checkpoint 'epoch-7'"),
        (["hessian", "{run}", "--top-k", "0"], "expected an integer >= 1"),
        (["gradient", "{tmp}"], "is not a run folder"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    args: list[str], message: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["analyze", *(a.format(tmp=tmp_path, run=run_dir) for a in args)]
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_parameter_sets_pick_exactly_the_named_parameters() -> None:
    byol = create_method("byol", backbone="test_resnet", proj_hidden_dim=16, proj_output_dim=8, pred_hidden_dim=16)
    names = {n for n, p in byol.named_parameters() if p.requires_grad}
    projector = set(select_parameters(byol, "projector"))
    assert projector == {n for n in names if n.startswith(("projector.", "predictor."))}
    assert set(select_parameters(byol, "backbone")) == {n for n in names if n.startswith("backbone.")}
    assert set(select_parameters(byol, "all")) == names
    assert set(select_parameters(byol, "predictor.*")) == {n for n in names if n.startswith("predictor.")}
    assert not any("momentum" in n for n in select_parameters(byol, "all"))  # EMA copies are frozen
    with pytest.raises(ZooError, match="backbone_momentum"):
        select_parameters(byol, "backbone_momentum.*")  # frozen: nothing trainable matches
