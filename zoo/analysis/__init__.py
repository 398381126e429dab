"""Convergence analysis of any method at any run's checkpoint (PAPER.md, "Hessian eigen-spectrum").

Hessian-vector products (`hvp`), Lanczos, Hutchinson and stochastic Lanczos quadrature (`spectral`), the spectrum of
a run (`hessian`), mi-binary's closed-form gradient and gradient flow (`gradient`), the paper's plots (`figures`).
"""

from zoo.analysis.gradient import analyze_gradient, gradient_flow
from zoo.analysis.hessian import HessianSettings, analyze_hessian, spectrum
from zoo.analysis.hvp import HessianOperator, frozen_buffers, select_parameters
from zoo.analysis.spectral import Quadrature, density, hutchinson_trace, lanczos, slq, top_eigenvalues

__all__ = [
    "HessianOperator",
    "HessianSettings",
    "Quadrature",
    "analyze_gradient",
    "analyze_hessian",
    "density",
    "frozen_buffers",
    "gradient_flow",
    "hutchinson_trace",
    "lanczos",
    "select_parameters",
    "slq",
    "spectrum",
    "top_eigenvalues",
]
