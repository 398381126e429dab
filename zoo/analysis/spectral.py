"""Spectral estimates from Hessian-vector products alone: top eigenvalues, trace, eigenvalue density.

- Lanczos with full re-orthogonalisation (twice, "twice is enough": Parlett 1998) for extremal eigenvalues, their
  residuals ||H y - theta y|| computed with one more product each.
- Hutchinson (1989) trace estimate with Rademacher probes and its standard error.
- Stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; Yao et al., PyHessian 2020): per Rademacher probe,
  the Ritz values are the nodes and the squared first components of the Ritz vectors the weights of a Gauss
  quadrature of the spectral measure; the density is their average, broadened by a Gaussian.

The routines take any symmetric operator `matvec(v) -> H v` on flat vectors, so they are tested on matrices too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

MatVec = Callable[[Tensor], Tensor]


@dataclass
class Tridiagonal:
    """Lanczos coefficients (float64) and the orthonormal basis (steps x dim, in the start vector's dtype)."""

    alpha: Tensor
    beta: Tensor
    basis: Tensor

    def ritz(self) -> tuple[Tensor, Tensor]:
        """Ritz values (ascending) and the eigenvectors of the tridiagonal matrix (columns)."""
        t = torch.diag(self.alpha) + torch.diag(self.beta, 1) + torch.diag(self.beta, -1)
        return torch.linalg.eigh(t)


def lanczos(matvec: MatVec, start: Tensor, steps: int) -> Tridiagonal:
    """`steps` Lanczos iterations from `start`; stops early when the Krylov space is exhausted (then exact)."""
    n = start.numel()
    steps = min(steps, n)
    basis = start.new_zeros(steps, n)
    q = start / start.norm()
    alpha: list[float] = []
    beta: list[float] = []
    tol = 1e3 * torch.finfo(start.dtype).eps
    for j in range(steps):
        basis[j] = q
        w = matvec(q)
        alpha.append(float(w @ q))
        for _ in range(2):  # full re-orthogonalisation against every basis vector, twice
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        if j == steps - 1:
            break
        b = float(w.norm())
        if b <= tol * max(max(abs(a) for a in alpha), max(beta, default=0.0), 1e-30):
            break  # invariant subspace: the Ritz values are exact eigenvalues
        beta.append(b)
        q = w / b
    m = len(alpha)
    f64 = dict(dtype=torch.float64, device=start.device)
    return Tridiagonal(torch.tensor(alpha, **f64), torch.tensor(beta, **f64), basis[:m])


def rademacher(dim: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A vector of independent +-1 entries (drawn on the CPU from `generator`, so seeds mean the same everywhere)."""
    return (torch.randint(0, 2, (dim,), generator=generator) * 2 - 1).to(dtype=dtype, device=device)


@dataclass
class Eigenpairs:
    """Extremal Ritz pairs: the k largest eigenvalues (descending), the smallest, and their residual norms."""

    values: list[float]
    residuals: list[float]
    smallest: float
    smallest_residual: float
    steps: int


def top_eigenvalues(
    matvec: MatVec, dim: int, k: int, steps: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> Eigenpairs:
    """The k largest eigenvalues and the smallest one, from one Lanczos run with a random start."""
    start = torch.randn(dim, generator=generator).to(dtype=dtype, device=device)
    tri = lanczos(matvec, start, max(steps, k))
    theta, s = tri.ritz()
    order = [*range(len(theta) - 1, max(len(theta) - 1 - k, -1), -1), 0]
    residuals = []
    for i in order:
        y = tri.basis.T @ s[:, i].to(tri.basis.dtype)
        residuals.append(float((matvec(y) - theta[i].item() * y).norm() / y.norm()))
    values = [float(theta[i]) for i in order[:-1]]
    return Eigenpairs(values, residuals[:-1], float(theta[0]), residuals[-1], len(theta))


def hutchinson_trace(
    matvec: MatVec, dim: int, probes: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> tuple[float, float, list[float]]:
    """tr(H) ~ mean of v^T H v over Rademacher v (Hutchinson 1989): (estimate, standard error, per-probe values)."""
    values = []
    for _ in range(probes):
        v = rademacher(dim, generator, dtype, device)
        values.append(float(v @ matvec(v)))
    samples = torch.tensor(values, dtype=torch.float64)
    se = float(samples.std() / math.sqrt(probes)) if probes > 1 else math.nan
    return float(samples.mean()), se, values


@dataclass
class Quadrature:
    """SLQ: Gauss quadrature nodes and weights (each probe's weights sum to 1) of the spectral measure."""

    nodes: list[list[float]]
    weights: list[list[float]]

    def negative_mass(self, tol: float) -> float:
        """The fraction of the spectrum below -tol, averaged over probes."""
        mass = [sum(w for x, w in zip(xs, ws, strict=True) if x < -tol) for xs, ws in self.each()]
        return sum(mass) / len(mass)

    def each(self) -> list[tuple[list[float], list[float]]]:
        return list(zip(self.nodes, self.weights, strict=True))

    def bounds(self) -> tuple[float, float]:
        flat = [x for xs in self.nodes for x in xs]
        return min(flat), max(flat)


def slq(
    matvec: MatVec,
    dim: int,
    probes: int,
    steps: int,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
) -> Quadrature:
    """Stochastic Lanczos quadrature (Ghorbani et al. 2019): `probes` Lanczos runs of `steps` from Rademacher starts."""
    nodes, weights = [], []
    for _ in range(probes):
        tri = lanczos(matvec, rademacher(dim, generator, dtype, device), steps)
        theta, s = tri.ritz()
        nodes.append(theta.tolist())
        weights.append((s[0] ** 2).tolist())
    return Quadrature(nodes, weights)


def density(quadrature: Quadrature, grid: Tensor, sigma: float) -> Tensor:
    """The eigenvalue density on `grid`: each quadrature node a Gaussian of width `sigma`, averaged over probes."""
    total = torch.zeros_like(grid, dtype=torch.float64)
    for xs, ws in quadrature.each():
        x = torch.tensor(xs, dtype=torch.float64)
        w = torch.tensor(ws, dtype=torch.float64)
        kernel = torch.exp(-((grid.double()[:, None] - x) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
        total += kernel @ w
    return total / len(quadrature.nodes)
