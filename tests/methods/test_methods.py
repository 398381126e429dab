"""Every registered method, timm style: the contract DESIGN.md promises the trainer, tests and reports."""

from __future__ import annotations

import pytest
import torch

import zoo
from tests.conftest import TINY_BACKBONE, reload_state, tiny_backbone
from zoo.methods import get_method_class

METHODS = zoo.list_methods()


def _views(method: zoo.Method, batch: int = 8, seed: int = 1) -> tuple[list[torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, size, size, generator=g) for size in method.view_sizes()]
    return views, torch.arange(batch) % 4


def _loss(method: zoo.Method, views: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    return method.loss(views, labels if method.requires_labels else None)


@pytest.mark.parametrize("name", METHODS)
def test_loss_is_finite_and_reaches_every_trainable_parameter(name: str) -> None:
    method = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32)
    views, labels = _views(method)
    loss = _loss(method, views, labels)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for pname, p in method.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient reaches {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", METHODS)
def test_momentum_targets_change_only_in_step_end(name: str) -> None:
    method = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32)
    # weight-normalised prototypes (SwAV, DINO) keep their norm fixed at 1, and MAE's sine-cosine positional
    # embeddings are fixed tables: frozen, but no momentum target
    fixed = ("original0", "pos_embed")
    frozen = [p for n, p in method.named_parameters() if not p.requires_grad and not n.endswith(fixed)]
    if not method._momentum_pairs:
        assert not frozen, f"{name} has frozen parameters but no momentum target"
        return
    before = [p.detach().clone() for p in frozen]
    optimizer = torch.optim.SGD(method.param_groups()[0]["params"], lr=0.5)
    views, labels = _views(method)
    _loss(method, views, labels).backward()
    optimizer.step()
    assert all(torch.equal(a, p) for a, p in zip(before, frozen, strict=True)), "target moved in optimiser step"
    method.step_end(0.0)
    assert any(not torch.equal(a, p) for a, p in zip(before, frozen, strict=True)), "step_end left targets alone"


# solo-learn's CIFAR DINO has no teacher warm-up: at 0.07 from step 0 the cross-entropy rises over the first steps on
# one batch (the instability the warm-up exists for), so this smoke test uses the paper's 30-epoch warm-up
# DeepCluster v2's k-means clusters the 16 images of the batch: at most 16 clusters
SMOKE_OVERRIDES: dict[str, dict[str, object]] = {
    "dino": {"warmup_teacher_temperature_steps": 30 * 195},
    "deepclusterv2": {"num_prototypes": [4, 4, 4]},
    "mae": {"decoder_embed_dim": 64, "decoder_depth": 2, "decoder_num_heads": 4},  # the published decoder: 40 s
}


def _first_epoch(method: zoo.Method, views: list[torch.Tensor], labels: torch.Tensor) -> None:
    """A method that acts at epoch boundaries gets one epoch of the batch first, as the trainer would run it: epoch 0
    fills what epoch 1's start needs (DeepCluster v2's memory bank, whose k-means gives the targets)."""
    if type(method).epoch_start is zoo.Method.epoch_start:
        return
    plan = torch.arange(len(labels))[None]  # an epoch of one step: this batch
    method.epoch_start(0, plan)
    _loss(method, views, labels)
    method.step_end(0.0)
    method.epoch_start(1, plan)


@pytest.mark.parametrize("name", METHODS)
def test_loss_decreases_on_a_fixed_batch(name: str) -> None:
    method = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32, **SMOKE_OVERRIDES.get(name, {}))
    optimizer = torch.optim.AdamW(method.param_groups(), lr=1e-3, weight_decay=0.0)
    views, labels = _views(method, batch=16)
    _first_epoch(method, views, labels)
    # queues fill with this batch's own past keys (hard negatives); judge the model with the starting buffers
    start_buffers = {k: b.clone() for k, b in method.named_buffers()}
    first = _loss(method, views, labels).item()
    for step in range(20):
        loss = _loss(method, views, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.step_end(step / 20)
    method.load_state_dict(start_buffers, strict=False)
    last = _loss(method, views, labels).item()
    assert last < first, f"{name}: {first:.4f} -> {last:.4f}"


@pytest.mark.parametrize("name", METHODS)
def test_state_dict_round_trips(name: str) -> None:
    a = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32)
    b = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32)
    reload_state(a, b)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize("name", METHODS)
def test_contract_metadata(name: str) -> None:
    cls = get_method_class(name)
    assert cls.name == name and cls.family and cls.paper and cls.default_augment in zoo.list_augments()
    method = zoo.create_method(name, backbone=tiny_backbone(name), image_size=32)
    assert method.hparams == cls.defaults
    features = method.embed(torch.randn(3, 3, 32, 32))
    assert features.shape == (3, method.num_features)
    groups = method.param_groups()  # exclude_bias_n_norm: 1-D parameters exactly in the zero-decay groups
    for group in groups:
        assert all(p.ndim <= 1 for p in group["params"]) == (group.get("weight_decay") == 0.0)
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in method.parameters() if p.requires_grad)


def test_unknown_hyper_parameter_names_the_closest() -> None:
    with pytest.raises(zoo.UnknownNameError, match="'tau'.*tau_neg"):
        zoo.create_method("mi-binary", backbone=TINY_BACKBONE, tau=0.1)


def test_wrong_hyper_parameter_type() -> None:
    with pytest.raises(zoo.ZooError, match="tau_pos.*float"):
        zoo.create_method("mi-binary", backbone=TINY_BACKBONE, tau_pos="hot")


def test_int_is_accepted_for_float_hyper_parameter() -> None:
    method = zoo.create_method("mi-binary", backbone=TINY_BACKBONE, tau_pos=1)
    assert method.hparams["tau_pos"] == 1.0 and isinstance(method.hparams["tau_pos"], float)
