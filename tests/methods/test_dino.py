"""DINO: lightly's loss on the same outputs, teacher temperature warm-up, EMA teacher, centring, frozen last layer."""

from __future__ import annotations

import pytest
import torch
from lightly.loss import DINOLoss

import zoo
from tests.conftest import TINY_BACKBONE, reload_state

SMALL = {"proj_hidden_dim": 64, "proj_output_dim": 16, "num_prototypes": 32}


def _reference_loss(method: zoo.Method, views: list[torch.Tensor]) -> tuple[torch.Tensor, DINOLoss]:
    h = method.hparams
    reference = DINOLoss(
        h["num_prototypes"], teacher_temp=h["teacher_temperature"], student_temp=h["student_temperature"]
    )
    reference.center.copy_(method.criterion.criterion.center)
    student = [method.head(method.backbone(v)) for v in views]
    teacher = [method.head_momentum(method.backbone_momentum(v)) for v in views[:2]]
    return reference(teacher, student, teacher_temp=method.teacher_temperature()), reference


def test_defaults_follow_solo_learn_cifar() -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE)
    assert method.n_views == 2 and method.n_local_views == 0  # solo-learn's CIFAR recipe has no local crops
    weight = method.head.last_layer.weight
    assert weight.shape == (4096, 256)
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(4096))  # weight-normalised, norm fixed at 1
    assert not method.head.last_layer.parametrizations.weight.original0.requires_grad
    assert method.teacher_temperature() == pytest.approx(0.07)  # solo-learn: no teacher warm-up on CIFAR
    h = method.hparams
    assert (h["freeze_last_layer_steps"], h["momentum"], h["student_temperature"]) == (195, 0.9995, 0.1)


@pytest.mark.parametrize("sizes", [(32, 32), (32, 32, 16, 16)])
def test_loss_equals_lightly_dino_loss(sizes: tuple[int, ...]) -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, warmup_teacher_temperature_steps=4, **SMALL)
    method.step_end(0.0)  # teacher temperature 0.0475
    with torch.no_grad():
        method.criterion.criterion.center.normal_()
    method.eval()
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(8, 3, s, s, generator=g) for s in sizes]  # local views go to the student only
    expected, reference = _reference_loss(method, views)
    torch.testing.assert_close(method.loss(views), expected)
    torch.testing.assert_close(method.criterion.criterion.center, reference.center)


def test_teacher_temperature_warms_up_linearly_and_resumes() -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, warmup_teacher_temperature_steps=4, **SMALL)
    temperatures = []
    for _ in range(6):
        temperatures.append(method.teacher_temperature())
        method.step_end(0.0)
    assert temperatures == pytest.approx([0.04, 0.0475, 0.055, 0.0625, 0.07, 0.07])
    resumed = zoo.create_method("dino", backbone=TINY_BACKBONE, warmup_teacher_temperature_steps=4, **SMALL)
    reload_state(method, resumed)
    assert int(resumed.steps_done) == 6 and resumed.teacher_temperature() == pytest.approx(0.07)


def test_teacher_is_an_ema_of_the_student(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, momentum=0.9, **SMALL)
    student, teacher = method.head.layers[0].weight, method.head_momentum.layers[0].weight
    assert torch.equal(student, teacher) and student is not teacher and not teacher.requires_grad
    optimizer = torch.optim.SGD(method.param_groups()[0]["params"], lr=0.5)
    method.loss(views32).backward()
    optimizer.step()
    before = teacher.detach().clone()
    method.step_end(0.5)
    m = method.momentum_at(0.5)
    torch.testing.assert_close(teacher, m * before + (1 - m) * student.detach())


def test_last_layer_frozen_for_the_first_steps(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, freeze_last_layer_steps=2, **SMALL)
    direction = method.head.last_layer.parametrizations.weight.original1
    for step in range(3):
        method.zero_grad()
        method.loss(views32).backward()
        assert direction.grad.any() == (step >= 2), f"step {step}"
        assert method.head.layers[0].weight.grad.any()
        method.step_end(step / 3)


def test_loss_decreases_on_a_fixed_batch_once_the_centre_is_held() -> None:
    # With the centre moving from zero, the teacher's entropy rises over the first steps and the cross-entropy with
    # it; with the centre held (centre momentum 1) the target is fixed and the student's loss must fall.
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, center_momentum=1.0, **SMALL)
    optimizer = torch.optim.AdamW(method.param_groups(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    views = [torch.randn(16, 3, 32, 32, generator=g) for _ in range(2)]
    losses = []
    for step in range(10):
        loss = method.loss(views)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.step_end(step / 10)
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_loss_in_float32_under_mixed_precision(views32: list[torch.Tensor]) -> None:
    method = zoo.create_method("dino", backbone=TINY_BACKBONE, **SMALL)
    method.eval()
    with torch.no_grad():
        expected, _ = _reference_loss(method, views32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = method.loss(views32)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected, atol=0.05, rtol=0.0)  # only the networks ran in bfloat16
