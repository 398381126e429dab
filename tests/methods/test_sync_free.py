"""zoo's sync-free losses give lightly's values and gradients, and index what lightly's boolean masks select."""

from __future__ import annotations

from collections.abc import Callable

import lightly.loss
import pytest
import torch

from zoo.methods import sync_free


def _pair(n: int = 12, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("offset", [0, 3, 8])
def test_drop_and_take_diagonal_match_the_rank_mask(offset: int) -> None:
    n, m = 4, 12
    x = torch.randn(n, m)
    mask = torch.zeros(n, m, dtype=torch.bool)
    mask[torch.arange(n), torch.arange(n) + offset] = True  # lightly's dist.eye_rank for rank offset / n
    torch.testing.assert_close(sync_free.drop_diagonal(x, offset), x[~mask].view(n, -1), rtol=0, atol=0)
    torch.testing.assert_close(sync_free.take_diagonal(x, offset), x[mask], rtol=0, atol=0)


PAIRS: dict[str, tuple[Callable[[], torch.nn.Module], Callable[[], torch.nn.Module]]] = {
    "ntxent": (lambda: sync_free.NTXentLoss(temperature=0.2), lambda: lightly.loss.NTXentLoss(temperature=0.2)),
    "dcl": (lambda: sync_free.DCLLoss(temperature=0.3), lambda: lightly.loss.DCLLoss(temperature=0.3)),
    "dclw": (lambda: sync_free.DCLWLoss(temperature=0.3, sigma=0.7), lambda: lightly.loss.DCLWLoss(0.3, sigma=0.7)),
    "vicreg": (lambda: sync_free.VICRegLoss(), lambda: lightly.loss.VICRegLoss()),
}


@pytest.mark.parametrize("name", PAIRS)
def test_values_and_gradients_match_lightly(name: str) -> None:
    ours, theirs = (make() for make in PAIRS[name])
    for seed in range(3):
        a, b = _pair(seed=seed)
        a1, b1 = a.clone().requires_grad_(), b.clone().requires_grad_()
        a2, b2 = a.clone().requires_grad_(), b.clone().requires_grad_()
        mine, reference = ours(a1, b1), theirs(a2, b2)
        mine.backward()
        reference.backward()
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a1.grad, a2.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b1.grad, b2.grad, rtol=1e-10, atol=1e-12)


def test_vicreg_covariance_matches_lightly_on_extra_dimensions() -> None:
    x = torch.randn(8, 3, 5, dtype=torch.float64)  # VICRegL's local features: (batch, locations, dim)
    from lightly.loss.vicreg_loss import covariance_loss

    torch.testing.assert_close(sync_free.covariance_loss(x), covariance_loss(x), rtol=1e-12, atol=1e-12)


def test_ntxent_with_a_memory_bank_keeps_lightlys_path() -> None:
    torch.manual_seed(0)
    ours = sync_free.NTXentLoss(memory_bank_size=(32, 16))
    torch.manual_seed(0)  # the bank starts random
    theirs = lightly.loss.NTXentLoss(memory_bank_size=(32, 16))
    for seed in range(3):  # and fills identically
        a, b = _pair(8, 16, seed=seed)
        torch.testing.assert_close(ours(a.float(), b.float()), theirs(a.float(), b.float()))
