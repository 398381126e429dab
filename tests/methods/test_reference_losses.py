"""Every method's loss against its reference formula, written out here from the paper and solo-learn's maths.

Each case feeds fixed embeddings to the method's criterion and to an independent formula and compares the value and
the gradient with respect to the embeddings (the gradient scale matters: LARS does not rescale biases and norms).
References: solo-learn solo/losses/*.py and solo/methods/*.py; DCL/DCLW from the paper (Yeh et al., eq. 6).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import zoo
from tests.conftest import TINY_BACKBONE

N, D = 8, 16


def _embeddings(*shapes: tuple[int, ...], seed: int = 0) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64).float().requires_grad_() for shape in shapes]


def _assert_same(got: Tensor, expected: Tensor, inputs: list[Tensor]) -> None:
    """Same value and same gradient with respect to every input."""
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    got_grads = torch.autograd.grad(got, inputs)
    expected_grads = torch.autograd.grad(expected, inputs)
    for a, b in zip(got_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def _method(name: str, **hparams: object) -> zoo.Method:
    return zoo.create_method(name, backbone=TINY_BACKBONE, **hparams)


def _cos(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def _nt_xent(z1: Tensor, z2: Tensor, t: float) -> Tensor:
    """solo-learn solo/losses/simclr.py: -mean_i log(pos_i / (pos_i + sum of negatives_i)) over the 2N views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = torch.exp(z @ z.T / t)
    index = torch.arange(z1.shape[0]).repeat(2)
    same = index[:, None] == index[None, :]
    pos = (sim * (same & ~torch.eye(len(z), dtype=torch.bool))).sum(1)
    neg = (sim * ~same).sum(1)
    return -torch.log(pos / (pos + neg)).mean()


def test_simclr_nt_xent() -> None:
    z1, z2 = _embeddings((N, D), (N, D))
    method = _method("simclr", temperature=0.3)
    _assert_same(method.criterion(z1, z2), _nt_xent(z1, z2, 0.3), [z1, z2])


def _dcl(z1: Tensor, z2: Tensor, t: float, sigma: float | None) -> Tensor:
    """DCL (Yeh et al. eq. 6): -w_i s_ii' / t + log sum over the 2N - 2 negatives of exp(s / t), mean over anchors."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / t
    partner = torch.arange(2 * n).roll(n)
    positive = logits[torch.arange(2 * n), partner]
    weight = torch.ones(2 * n)
    if sigma is not None:  # DCLW: 2 - N softmax over the batch of s_ii' / sigma, no gradient through the weight
        s = (F.normalize(z1, dim=1) * F.normalize(z2, dim=1)).sum(1).detach() / sigma
        weight = (2 - n * torch.softmax(s, dim=0)).repeat(2)
    negatives = ~torch.eye(2 * n, dtype=torch.bool)
    negatives[torch.arange(2 * n), partner] = False
    lse = torch.logsumexp(logits.masked_fill(~negatives, -torch.inf), dim=1)
    return (-weight * positive + lse).mean()


@pytest.mark.parametrize(("name", "sigma"), [("dcl", None), ("dclw", 0.5)])
def test_dcl_and_dclw(name: str, sigma: float | None) -> None:
    z1, z2 = _embeddings((N, D), (N, D))
    method = _method(name)
    _assert_same(method.criterion(z1, z2), _dcl(z1, z2, 0.1, sigma), [z1, z2])


def test_byol_sums_two_minus_two_cos_over_both_directions() -> None:
    """solo-learn solo/losses/byol.py and solo/methods/byol.py: sum over directions of 2 - 2 mean cos."""
    p1, p2, t1, t2 = _embeddings((N, D), (N, D), (N, D), (N, D))
    method = _method("byol")
    got = method.criterion(p1, t2) + method.criterion(p2, t1)
    expected = (2 - 2 * _cos(p1, t2).mean()) + (2 - 2 * _cos(p2, t1).mean())
    _assert_same(got, expected, [p1, p2])


def test_simsiam_is_half_the_sum_of_negative_cosines() -> None:
    """solo-learn solo/losses/simsiam.py and solo/methods/simsiam.py: (-mean cos(p1, z2) - mean cos(p2, z1)) / 2."""
    p1, p2, z1, z2 = _embeddings((N, D), (N, D), (N, D), (N, D))
    method = _method("simsiam")
    got = 0.5 * (method.criterion(p1, z2) + method.criterion(p2, z1))
    _assert_same(got, -0.5 * (_cos(p1, z2).mean() + _cos(p2, z1).mean()), [p1, p2])


def test_nnclr_one_way_cross_entropy() -> None:
    """solo-learn solo/losses/nnclr.py: CE(normalize(nn) normalize(p)^T / t, arange)."""
    nn, p = _embeddings((N, D), (N, D))
    method = _method("nnclr", temperature=0.3, queue_size=16)
    logits = F.normalize(nn, dim=1) @ F.normalize(p, dim=1).T / 0.3
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    _assert_same(method.criterion(nn, p), -log_prob.diagonal().mean(), [nn, p])
    ntxent = _method("nnclr", temperature=0.3, queue_size=16, loss="ntxent")
    _assert_same(ntxent.criterion(nn, p), _nt_xent(nn, p, 0.3), [nn, p])


def test_moco_v3_cross_entropy_scaled_by_two_tau() -> None:
    """solo-learn solo/losses/mocov3.py: 2 t CE(normalize(q) normalize(k)^T / t, arange) per direction."""
    q, k = _embeddings((N, D), (N, D))
    method = _method("moco-v3", temperature=0.2)
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.2
    expected = 2 * 0.2 * -(logits.diagonal() - torch.logsumexp(logits, dim=1)).mean()
    _assert_same(method.criterion(q, k), expected, [q, k])


def test_moco_v2_positive_against_the_queue() -> None:
    """solo-learn solo/losses/mocov2plus.py: CE over [q.k, q.queue] / t with the positive first."""
    q, k = _embeddings((N, D), (N, D))
    method = _method("moco-v2", temperature=0.2, queue_size=32, proj_output_dim=D)
    queue = F.normalize(method.criteria[0].criterion.memory_bank.bank.clone(), dim=1)
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.T], dim=1) / 0.2
    expected = -(logits[:, 0] - torch.logsumexp(logits, dim=1)).mean()
    _assert_same(method.criteria[0](q, k), expected, [q, k])


def _vicreg(z1: Tensor, z2: Tensor, variance_sum: bool) -> Tensor:
    """solo-learn solo/losses/vicreg.py (variance summed over views); official code: their mean."""

    def std_hinge(z: Tensor) -> Tensor:
        return F.relu(1 - torch.sqrt(z.var(dim=0) + 1e-4)).mean()

    def off_diagonal_cov(z: Tensor) -> Tensor:
        zc = z - z.mean(dim=0)
        cov = zc.T @ zc / (z.shape[0] - 1)
        return (cov**2).sum().sub((cov.diagonal() ** 2).sum()) / z.shape[1]

    variance = std_hinge(z1) + std_hinge(z2)
    variance = variance if variance_sum else variance / 2
    return 25 * ((z1 - z2) ** 2).mean() + 25 * variance + off_diagonal_cov(z1) + off_diagonal_cov(z2)


@pytest.mark.parametrize("variance", ["sum", "mean"])
def test_vicreg(variance: str) -> None:
    z1, z2 = _embeddings((N, D), (N, D))
    z1.data.mul_(0.3)  # stds below 1, so the variance hinge is active
    method = _method("vicreg", variance=variance)
    _assert_same(method.criterion(z1, z2), _vicreg(z1, z2, variance == "sum"), [z1, z2])


def test_barlow_twins() -> None:
    """solo-learn solo/losses/barlow.py: scale * (sum (c_ii - 1)^2 + lambda sum_{i != j} c_ij^2)."""
    z1, z2 = _embeddings((N, D), (N, D))
    method = _method("barlow-twins")

    def standardise(z: Tensor) -> Tensor:
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)

    c = standardise(z1).T @ standardise(z2) / N
    on = ((c.diagonal() - 1) ** 2).sum()
    off = (c**2).sum() - (c.diagonal() ** 2).sum()
    got = method.hparams["scale_loss"] * method.criterion(z1, z2)
    _assert_same(got, 0.1 * (on + 0.0051 * off), [z1, z2])


def test_dino_cross_entropy_over_cross_view_pairs() -> None:
    """solo-learn solo/losses/dino.py: mean over (teacher iq, student iv != iq) of -sum softmax_t log softmax_s."""
    k = 12
    t1, t2, s1, s2, s3 = _embeddings((N, k), (N, k), (N, k), (N, k), (N, k))
    method = _method("dino", num_prototypes=k, proj_output_dim=8, proj_hidden_dim=16)
    center = torch.randn(1, k) * 0.1
    method.criterion.criterion.center.copy_(center.view(1, 1, k))
    tt, ts = 0.07, 0.1
    teacher = [torch.softmax((t.detach() - center) / tt, dim=1) for t in (t1, t2)]
    student = [torch.log_softmax(s / ts, dim=1) for s in (s1, s2, s3)]
    terms = [-(q * p).sum(1).mean() for iq, q in enumerate(teacher) for iv, p in enumerate(student) if iv != iq]
    expected = sum(terms) / len(terms)
    got = method.criterion([t1, t2], [s1, s2, s3], teacher_temp=tt)
    _assert_same(got, expected, [s1, s2, s3])


def _sinkhorn(scores: Tensor, iterations: int, epsilon: float) -> Tensor:
    """solo-learn solo/utils/sinkhorn_knopp.py, one process."""
    q = torch.exp(scores / epsilon).T
    k, b = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / k
        q = q / q.sum(dim=0, keepdim=True) / b
    return (q * b).T


def test_swav_swapped_prediction() -> None:
    """solo-learn solo/losses/swav.py: mean over (codes of view a, prediction of view v != a) of -sum q log p."""
    k = 10
    s1, s2 = _embeddings((N, k), (N, k))
    method = _method("swav", num_prototypes=k, temperature=0.1)
    codes = [_sinkhorn(s.detach(), 3, 0.05) for s in (s1, s2)]
    terms = [-(codes[a] * torch.log_softmax(s / 0.1, dim=1)).sum(1).mean() for a, s in ((0, s2), (1, s1))]
    _assert_same(method.criterion([s1, s2], []).squeeze(0), sum(terms) / 2, [s1, s2])


def _supcon(z: Tensor, labels: Tensor, t: float, variant: str) -> Tensor:
    """Khosla et al. eq. 2 (out) and solo-learn solo/losses/simclr.py with class labels (in, no 1/|P|)."""
    u = F.normalize(z, dim=1)
    sim = torch.exp(u @ u.T / t)
    eye = torch.eye(len(z), dtype=torch.bool)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    denominator = (sim * ~eye).sum(1)
    if variant == "in":
        return -torch.log((sim * positive).sum(1) / denominator).mean()
    log_prob = torch.log(sim / denominator[:, None])
    return -((log_prob * positive).sum(1) / positive.sum(1)).mean()


@pytest.mark.parametrize("variant", ["in", "out"])
def test_supcon(variant: str) -> None:
    (z,) = _embeddings((2 * N, D))
    labels = (torch.arange(N) % 3).repeat(2)
    method = _method("supcon", variant=variant, temperature=0.2)
    _assert_same(method.criterion(z, labels), _supcon(z, labels, 0.2, variant), [z])


def test_supcon_defaults_to_solo_learns_form() -> None:
    assert _method("supcon").hparams["variant"] == "in"
