"""DINO (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/dino.yaml and
solo/methods/dino.py): head Linear-GELU-Linear-GELU-Linear with 2048 hidden, 256 bottleneck, 4096 prototypes, no
BatchNorm in the head, weight-normalised last layer with its norm fixed at 1 and frozen for the first epoch, no
gradient clipping (clip_grad 0), student temperature 0.1, teacher temperature 0.07, centre momentum 0.9, EMA teacher
0.9995 -> 1.0. The teacher temperature warm-up (linear from 0.04) lasts 0 epochs: solo-learn's default
(warmup_teacher_temperature_epochs=0), which its CIFAR recipe keeps, so the teacher runs at 0.07 from the start
(the paper warms up over 30 epochs). The recipe's asymmetric augmentation makes two 32 px global crops and no local
crops, so `n_local_views` stays 0. Epoch counts are given as optimiser steps at solo-learn's batch of 256 on
CIFAR-10's 50 000 images (195 steps per epoch). lightly's DINOLoss computes solo-learn's value
(solo/losses/dino.py): cross-entropy averaged over all (teacher view, other student view) pairs.

Recipe: optim=lars lr=0.3 wd=1e-6 batch=256 momentum=0.9 eta=0.02 clip_lr=true warmup_epochs=10 epochs=1000
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from lightly.loss import DINOLoss
from lightly.models.modules.heads import DINOProjectionHead
from lightly.utils.scheduler import linear_warmup_schedule
from torch import Tensor

from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method, unit_prototypes


class DINOHead(DINOProjectionHead):
    """lightly's DINO head with the last layer weight-normalised by torch's parametrization API (`unit_prototypes`).

    lightly builds it with the deprecated `nn.utils.weight_norm`, whose weight is not a graph leaf, so the head
    cannot be deep-copied into the teacher (pytorch#103001). Same function: unit-norm prototypes, norm fixed at 1
    unless `norm_last_layer` is False.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        bottleneck_dim: int,
        output_dim: int,
        batch_norm: bool = False,
        norm_last_layer: bool = True,
    ) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            super().__init__(input_dim, hidden_dim, bottleneck_dim, output_dim, batch_norm)
        self.last_layer = unit_prototypes(bottleneck_dim, output_dim, learn_norm=not norm_last_layer)


@register_method("dino")
class DINO(Method):
    """Self-distillation: the student matches the centred, sharpened output of an EMA teacher on the other views."""

    family = "distillation"
    paper = "Caron et al., DINO, ICCV 2021"
    default_augment = "byol"
    defaults = {
        "proj_hidden_dim": 2048,
        "proj_output_dim": 256,
        "num_prototypes": 4096,
        "use_bn_in_head": False,
        "norm_last_layer": True,
        "student_temperature": 0.1,
        "teacher_temperature": 0.07,
        "warmup_teacher_temperature": 0.04,
        "warmup_teacher_temperature_steps": 0,
        "freeze_last_layer_steps": 195,  # 1 epoch
        "center_momentum": 0.9,
        "momentum": 0.9995,
        "momentum_end": 1.0,
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        self.head = DINOHead(
            self.num_features,
            h["proj_hidden_dim"],
            h["proj_output_dim"],
            h["num_prototypes"],
            h["use_bn_in_head"],
            h["norm_last_layer"],
        )
        self.backbone_momentum = self.momentum_copy(self.backbone)
        self.head_momentum = self.momentum_copy(self.head)
        self.criterion = Float32Loss(
            DINOLoss(
                h["num_prototypes"],
                teacher_temp=h["teacher_temperature"],
                student_temp=h["student_temperature"],
                center_momentum=h["center_momentum"],
            )
        )
        self.freeze_for_steps(self.head.last_layer, "freeze_last_layer_steps")

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        student = self.encode(views, self.backbone, self.head)
        with torch.no_grad():
            teacher = self.encode(views[: self.n_views], self.backbone_momentum, self.head_momentum)
        return self.criterion(teacher, student, teacher_temp=self.teacher_temperature())

    def teacher_temperature(self) -> float:
        """Linear warm-up of the teacher temperature, then constant (DINO, implementation details)."""
        h = self.hparams
        return linear_warmup_schedule(
            self.step_count,
            h["warmup_teacher_temperature_steps"],
            h["warmup_teacher_temperature"],
            h["teacher_temperature"],
        )
