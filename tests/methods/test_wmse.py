"""W-MSE: the whitening against numpy's Cholesky in float64, the loss against solo-learn's loop written out here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import zoo
from tests.conftest import TINY_BACKBONE
from zoo.methods.wmse import SINGULAR_SLICE_EPS, Whitening, WMSELoss


def _correlated(*shape: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(shape[-1], shape[-1], generator=g)
    return torch.randn(*shape, generator=g) @ mixing + 3.0


def _whiten_numpy(x: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Whitening2d of solo-learn (solo/utils/whitening.py) in float64: x - mean, times the inverse Cholesky factor
    of the shrunk unbiased covariance."""
    centred = x - x.mean(axis=0)
    cov = np.cov(x, rowvar=False)
    shrunk = (1 - eps) * cov + eps * np.eye(x.shape[1])
    return centred @ np.linalg.inv(np.linalg.cholesky(shrunk)).T


def test_whitened_covariance_is_the_identity() -> None:
    x = _correlated(3, 200, 16)
    white = Whitening()(x)
    centred = white - white.mean(dim=1, keepdim=True)
    cov = centred.mT @ centred / 199
    torch.testing.assert_close(cov, torch.eye(16).expand(3, 16, 16), atol=2e-3, rtol=0)
    torch.testing.assert_close(white.mean(dim=1), torch.zeros(3, 16), atol=1e-4, rtol=0)
    raw = x - x.mean(dim=1, keepdim=True)
    assert (raw.mT @ raw / 199 - torch.eye(16)).abs().max() > 1.0  # the input was far from white


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_whitening_equals_the_inverse_cholesky_factor(eps: float) -> None:
    x = _correlated(2, 40, 8, seed=1)
    white = Whitening(eps)(x)
    for s in range(2):
        expected = _whiten_numpy(x[s].double().numpy(), eps)
        np.testing.assert_allclose(white[s].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_a_slice_with_fewer_samples_than_dimensions_is_shrunk() -> None:
    x = _correlated(1, 6, 8, seed=2)
    white = Whitening()(x)
    assert torch.isfinite(white).all()
    expected = _whiten_numpy(x[0].double().numpy(), SINGULAR_SLICE_EPS)
    np.testing.assert_allclose(white[0].numpy(), expected, rtol=1e-4, atol=1e-4)


def _grads(loss: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    """d loss / d input, zeros where an input does not reach the loss (the stopped view)."""
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)]


def _solo_learn_wmse(views: list[Tensor], size: int, iters: int, stop_gradient: bool) -> Tensor:
    """solo-learn solo/methods/wmse.py training_step and solo/losses/wmse.py, written out: the views concatenated,
    one permutation per iteration cut into slices, every view's slice whitened alone, 2 - 2 cos per pair."""
    bs = views[0].shape[0]
    v = torch.cat(views)
    total, count = 0.0, 0
    for _ in range(iters):
        z = torch.empty_like(v)
        perm = torch.randperm(bs).view(-1, size)
        for idx in perm:
            for i in range(len(views)):
                rows = idx + i * bs
                xc = v[rows] - v[rows].mean(dim=0)
                cov = xc.T.double() @ xc.double() / (size - 1)
                z[rows] = (xc.double() @ torch.linalg.inv(torch.linalg.cholesky(cov)).T).float()
        for i in range(len(views) - 1):
            for j in range(i + 1, len(views)):
                x0, x1 = z[i * bs : (i + 1) * bs], z[j * bs : (j + 1) * bs]
                x1 = x1.detach() if stop_gradient else x1
                cos = (x0 * x1).sum(1) / (x0.norm(dim=1) * x1.norm(dim=1))
                total = total + 2 - 2 * cos.mean()
                count += 1
    return total / count


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_loss_equals_solo_learns_loop(stop_gradient: bool) -> None:
    views = [_correlated(16, 4, seed=s).requires_grad_() for s in range(3)]
    criterion = WMSELoss(whitening_size=8, whitening_iters=2, stop_gradient=stop_gradient)
    torch.manual_seed(5)  # both draw their permutations from the global generator, in the same order
    got = criterion(views)
    torch.manual_seed(5)
    expected = _solo_learn_wmse(views, size=8, iters=2, stop_gradient=stop_gradient)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(_grads(got, views), _grads(expected, views), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_stop_gradient_leaves_the_last_view_without_gradient() -> None:
    views = [_correlated(16, 4, seed=s).requires_grad_() for s in range(2)]
    first, second = _grads(WMSELoss(whitening_size=16)(views), views)
    assert first.abs().sum() > 0 and second.abs().sum() == 0
    first, second = _grads(WMSELoss(whitening_size=16, stop_gradient=False)(views), views)
    assert first.abs().sum() > 0 and second.abs().sum() > 0


def test_a_remainder_that_fills_no_slice_sits_out() -> None:
    views = [_correlated(20, 4, seed=s).requires_grad_() for s in range(2)]
    grads = torch.autograd.grad(WMSELoss(whitening_size=8, stop_gradient=False)(views), views)
    for grad in grads:
        assert int((grad.abs().sum(dim=1) == 0).sum()) == 4  # 20 = 2 slices of 8 + 4 left out


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("wmse", backbone=TINY_BACKBONE)
    linears = [m for m in method.projector.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in method.projector.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [(m.in_features, m.out_features) for m in linears] == [(method.num_features, 1024), (1024, 64)]
    assert len(norms) == 1 and norms[0].num_features == 1024
    loss = method.criterion.criterion
    assert (loss.whitening_size, loss.whitening_iters, loss.whitening.eps, loss.stop_gradient) == (128, 1, 0.0, True)


def test_bad_whitening_settings_are_user_errors() -> None:
    with pytest.raises(zoo.ZooError, match="whitening_size"):
        zoo.create_method("wmse", backbone=TINY_BACKBONE, whitening_size=1)
