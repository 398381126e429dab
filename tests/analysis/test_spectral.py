"""Lanczos, Hutchinson and SLQ against dense linear algebra: a quadratic with a known spectrum, a tiny network."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zoo.analysis import HessianOperator, density, hutchinson_trace, lanczos, slq, top_eigenvalues
from zoo.methods.mi_binary import MIBinaryLoss

F64 = (torch.float64, torch.device("cpu"))


def _known_spectrum(n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """A symmetric matrix with eigenvalues spread over [-3, 50], a few negative, and a double one."""
    g = torch.Generator().manual_seed(7)
    values = torch.cat([torch.tensor([50.0, 20.0, 20.0, -3.0, -1.0]), torch.linspace(-0.5, 5.0, n - 5)]).double()
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q @ torch.diag(values) @ q.T, values.sort(descending=True).values


class _Quadratic(nn.Module):
    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = a
        self.x = nn.Parameter(torch.randn(a.shape[0], dtype=torch.float64))

    def loss(self) -> torch.Tensor:
        return 0.5 * self.x @ self.a @ self.x + self.x.sum()


def test_quadratic_top_k_trace_and_density() -> None:
    a, values = _known_spectrum()
    model = _Quadratic(a)
    op = HessianOperator(model.loss(), [model.x])
    top = top_eigenvalues(op, op.dim, 4, 60, torch.Generator().manual_seed(0), *F64)
    assert top.values[:2] == pytest.approx([50.0, 20.0], abs=1e-9)  # the double eigenvalue shows once: Krylov
    assert top.smallest == pytest.approx(-3.0, abs=1e-9)
    assert max(top.residuals[:2]) < 1e-8 and top.smallest_residual < 1e-8
    trace, se, _ = hutchinson_trace(op, op.dim, 100, torch.Generator().manual_seed(0), *F64)
    assert abs(trace - float(values.sum())) < 4 * se
    # SLQ run to the end: exact quadratures of each probe's spectral measure; 7 of the 60 eigenvalues are negative
    quad = slq(lambda v: a @ v, op.dim, 50, op.dim, torch.Generator().manual_seed(0), *F64)
    for _, ws in quad.each():
        assert sum(ws) == pytest.approx(1.0, abs=1e-12)
    assert quad.negative_mass(1e-6) == pytest.approx(float((values < 0).double().mean()), abs=0.035)


def test_lanczos_run_to_the_end_is_exact_and_stops_on_an_exhausted_krylov_space() -> None:
    a, values = _known_spectrum(30)
    tri = lanczos(lambda v: a @ v, torch.randn(30, dtype=torch.float64), 30)
    theta, _ = tri.ritz()
    torch.testing.assert_close(theta, values.sort().values, atol=1e-9, rtol=0)
    torch.testing.assert_close(tri.basis @ tri.basis.T, torch.eye(30, dtype=torch.float64), atol=1e-12, rtol=0)
    q = torch.linalg.qr(torch.randn(30, 4, dtype=torch.float64))[0]
    low_rank = q @ torch.diag(torch.tensor([4.0, 2.0, -1.0, 0.5], dtype=torch.float64)) @ q.T
    theta, _ = lanczos(lambda v: low_rank @ v, torch.randn(30, dtype=torch.float64), 30).ritz()
    assert len(theta) == 5  # four eigenvalues and the null space: the Krylov space has dimension 5
    torch.testing.assert_close(theta, torch.tensor([-1.0, 0.0, 0.5, 2.0, 4.0], dtype=torch.float64), atol=1e-9, rtol=0)


class _Tiny(nn.Module):
    """About a hundred parameters: linear, BatchNorm (batch statistics), ReLU, linear; mi-binary's loss on two views."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
        self.criterion = MIBinaryLoss(0.3, 0.3)
        g = torch.Generator().manual_seed(2)
        self.views = [torch.randn(8, 4, generator=g, dtype=torch.float64) for _ in range(2)]

    def loss(self) -> torch.Tensor:
        z1, z2 = self.net(torch.cat(self.views)).chunk(2)
        return self.criterion(z1, z2)


def _dense(model: _Tiny) -> torch.Tensor:
    names = [n for n, _ in model.net.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(theta: torch.Tensor) -> torch.Tensor:
        chunks = theta.split([math.prod(s) for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        z1, z2 = torch.func.functional_call(model.net, params, (torch.cat(model.views),)).chunk(2)
        return model.criterion(z1, z2)

    return torch.autograd.functional.hessian(f, flat)


@pytest.fixture(scope="module")
def tiny() -> tuple[_Tiny, HessianOperator, torch.Tensor]:
    torch.manual_seed(0)
    model = _Tiny().double().train()
    h = _dense(model)
    return model, HessianOperator(model.loss(), list(model.parameters())), h


def test_hvp_equals_dense_hessian_times_vector(tiny) -> None:
    _, op, h = tiny
    v = torch.randn(op.dim, dtype=torch.float64)
    torch.testing.assert_close(op(v), h @ v, atol=1e-10, rtol=1e-8)


def test_tiny_network_top_k_trace_density_against_dense(tiny) -> None:
    _, op, h = tiny
    exact = torch.linalg.eigvalsh(h).flip(0)
    top = top_eigenvalues(op, op.dim, 5, op.dim, torch.Generator().manual_seed(0), *F64)
    assert top.values == pytest.approx(exact[:5].tolist(), abs=1e-7)
    assert top.smallest == pytest.approx(float(exact[-1]), abs=1e-7)
    assert max(top.residuals) < 1e-6
    # Hutchinson: every probe value is v^T H v exactly; the mean is within a few standard errors of tr(H)
    gen = torch.Generator().manual_seed(1)
    trace, se, samples = hutchinson_trace(op, op.dim, 32, gen, *F64)
    gen = torch.Generator().manual_seed(1)
    first = torch.randint(0, 2, (op.dim,), generator=gen).double() * 2 - 1
    assert samples[0] == pytest.approx(float(first @ h @ first), rel=1e-9)
    assert abs(trace - float(h.trace())) < 4 * se
    # SLQ run to the end: each probe's quadrature of the Gaussian kernel is exactly v^T k(H) v / n
    quad = slq(op, op.dim, 2, op.dim, torch.Generator().manual_seed(2), *F64)
    grid, sigma = torch.linspace(float(exact[-1]) - 1, float(exact[0]) + 1, 50, dtype=torch.float64), 0.3
    gen = torch.Generator().manual_seed(2)
    evals, evecs = torch.linalg.eigh(h)
    expected = torch.zeros_like(grid)
    for _ in range(2):
        v = torch.randint(0, 2, (op.dim,), generator=gen).double() * 2 - 1
        w = (evecs.T @ v) ** 2 / op.dim  # spectral measure of v: eigenvalue weights
        kernel = torch.exp(-((grid[:, None] - evals) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
        expected += kernel @ w / 2
    torch.testing.assert_close(density(quad, grid, sigma), expected, atol=1e-8, rtol=1e-6)


def test_same_seed_same_numbers(tiny) -> None:
    _, op, _ = tiny
    runs = [
        (
            top_eigenvalues(op, op.dim, 3, 20, torch.Generator().manual_seed(5), *F64).values,
            hutchinson_trace(op, op.dim, 5, torch.Generator().manual_seed(5), *F64)[0],
            slq(op, op.dim, 2, 10, torch.Generator().manual_seed(5), *F64).nodes,
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
