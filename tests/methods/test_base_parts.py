"""What base.py gives every method: the float32 loss wrapper, optimiser groups, unit prototypes; SimCLR's projector."""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from torch import nn

import zoo
from tests.conftest import TINY_BACKBONE, tiny_backbone
from zoo.methods.base import Float32Loss, unit_prototypes


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 32, generator=g), torch.randn(16, 32, generator=g)


def test_float32_loss_is_exact_under_bfloat16_autocast_where_lightly_is_not() -> None:
    z1, z2 = _pair()
    exact = NTXentLoss(temperature=0.1)(z1, z2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        wrapped = Float32Loss(NTXentLoss(temperature=0.1))(z1.bfloat16(), z2.bfloat16())
        bare = NTXentLoss(temperature=0.1)(z1, z2)
    reference = NTXentLoss(temperature=0.1)(z1.bfloat16().float(), z2.bfloat16().float())
    assert wrapped.dtype == torch.float32
    torch.testing.assert_close(wrapped, reference, rtol=0, atol=1e-6)
    torch.testing.assert_close(Float32Loss(NTXentLoss(temperature=0.1))(z1, z2), exact, rtol=0, atol=1e-6)
    assert (bare.float() - exact).abs() > 1e-6, "lightly's loss was already float32 under autocast"


def test_float32_loss_casts_lists_and_keywords_and_keeps_state() -> None:
    seen = {}

    class Probe(nn.Module):
        def forward(self, xs: list[torch.Tensor], scale: torch.Tensor, name: str) -> torch.Tensor:
            seen.update(dtypes=[x.dtype for x in xs] + [scale.dtype], autocast=torch.is_autocast_enabled("cpu"))
            seen["product"] = (xs[0] @ xs[1].T).dtype
            return xs[0].sum() * scale

    with torch.autocast("cpu", dtype=torch.bfloat16):
        Float32Loss(Probe())([torch.ones(2, 2, dtype=torch.bfloat16)] * 2, scale=torch.tensor(2.0).half(), name="x")
    assert seen == {"dtypes": [torch.float32] * 3, "autocast": False, "product": torch.float32}


def test_every_method_loss_is_float32_under_autocast() -> None:
    for name in zoo.list_methods():
        method = zoo.create_method(name, backbone=tiny_backbone(name))
        views = [torch.randn(8, 3, s, s) for s in method.view_sizes()]
        labels = torch.arange(8) % 4 if method.requires_labels else None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = method.loss(views, labels)
        assert loss.dtype == torch.float32 and torch.isfinite(loss), name


def test_param_groups_split_or_merge_biases_and_norms() -> None:
    method = zoo.create_method("simclr", backbone=TINY_BACKBONE)
    trainable = {id(p) for p in method.parameters() if p.requires_grad}
    split = method.param_groups()
    assert [g.get("weight_decay") for g in split] == [None, 0.0]
    assert all(p.ndim <= 1 for p in split[1]["params"]) and all(p.ndim > 1 for p in split[0]["params"])
    (merged,) = method.param_groups(exclude_bias_n_norm=False)
    assert "weight_decay" not in merged
    for groups in (split, [merged]):
        ids = [id(p) for g in groups for p in g["params"]]
        assert sorted(ids) == sorted(trainable)


def test_simsiam_predictor_keeps_a_static_lr() -> None:
    method = zoo.create_method("simsiam", backbone=TINY_BACKBONE)
    predictor = {id(p) for p in method.predictor.parameters()}
    for exclude in (True, False):
        groups = method.param_groups(exclude_bias_n_norm=exclude)
        assert len(groups) == (4 if exclude else 2)
        for g in groups:
            ids = {id(p) for p in g["params"]}
            assert ids <= predictor if g.get("static_lr") else not ids & predictor
        assert {id(p) for g in groups if g.get("static_lr") for p in g["params"]} == predictor


def test_unit_prototypes_are_bias_free_and_unit_norm() -> None:
    layer = unit_prototypes(8, 5)
    assert layer.bias is None and layer.weight.shape == (5, 8)
    torch.testing.assert_close(layer.weight.norm(dim=1), torch.ones(5))
    assert [p.requires_grad for p in layer.parameters()] == [False, True]
    assert unit_prototypes(8, 5, learn_norm=True).parametrizations.weight.original0.requires_grad


def test_simclr_projector_follows_solo_learn_without_batch_norm() -> None:
    plain = zoo.create_method("simclr", backbone=TINY_BACKBONE)
    assert [type(m) for m in plain.projector.layers] == [nn.Linear, nn.ReLU, nn.Linear]
    assert all(m.bias is not None for m in plain.projector.layers if isinstance(m, nn.Linear))
    lightly = zoo.create_method("simclr", backbone=TINY_BACKBONE, proj_batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in lightly.projector.layers) == 2
    dcl = zoo.create_method("dcl", backbone=TINY_BACKBONE)  # lightly's CIFAR-10 benchmark: 512 -> 128 with BN
    assert sum(isinstance(m, nn.BatchNorm1d) for m in dcl.projector.layers) == 2


def test_persisted_bank_enqueues_as_lightly_without_reading_the_device() -> None:
    from lightly.models.modules.memory_bank import MemoryBankModule

    from zoo.methods.base import persist_bank

    torch.manual_seed(0)
    reference = MemoryBankModule((10, 4), feature_dim_first=False)
    torch.manual_seed(0)
    ours = persist_bank(MemoryBankModule((10, 4), feature_dim_first=False))
    for step in range(7):  # wraps around twice, dropping the batch's overflow as lightly does
        batch = torch.randn(3, 4)
        reference(batch, update=True)
        ours(batch, update=True)
        assert torch.equal(reference.bank, ours.bank), step
        assert int(reference.bank_ptr) == int(ours.bank_ptr) == ours.host_ptr, step
    restored = persist_bank(MemoryBankModule((10, 4), feature_dim_first=False))
    restored.load_state_dict(ours.state_dict())
    assert restored.host_ptr == ours.host_ptr and torch.equal(restored.bank, ours.bank)
