"""What every method shares: backbone, multi-view forward, momentum targets, optimiser groups, hyper-parameters.

A method file subclasses `Method`, declares its `defaults`, builds its head(s) in `__init__` and writes `loss`.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from lightly.models.utils import concat_all_gather, deactivate_requires_grad, update_momentum
from lightly.utils import dist as lightly_dist
from lightly.utils.scheduler import cosine_schedule
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from zoo.backbones import create_backbone, is_vit
from zoo.errors import UnknownNameError, ZooError
from zoo.registry import did_you_mean

# progress in [0, 1] is mapped onto this many steps for lightly's step-based cosine schedule
_SCHEDULE_RESOLUTION = 100_000


class Method(nn.Module):
    """Base class of every SSL method; the trainer and the tests only rely on what is defined here."""

    name: ClassVar[str] = ""  # set by @register_method
    family: ClassVar[str] = ""  # contrastive, binary-contrastive, distillation, redundancy-reduction, ...
    paper: ClassVar[str] = ""  # short citation of the method's paper
    default_augment: ClassVar[str] = "simclr"  # augmentation preset the method was published with
    defaults: ClassVar[dict[str, Any]] = {}  # hyper-parameters and their published defaults
    positive: ClassVar[tuple[str, ...]] = ()  # hyper-parameters that must be > 0 (temperatures), checked at load
    requires_labels: ClassVar[bool] = False  # supervised methods receive the batch's labels in `loss`
    requires_vit: ClassVar[bool] = False  # masked-token methods (MAE, MSN) need one of timm's Vision Transformers
    n_views: ClassVar[int] = 2  # global views the method expects per image
    n_local_views: ClassVar[int] = 0  # extra small multi-crop views (SwAV, DINO), after the global ones
    local_view_ratio: ClassVar[float] = 0.5  # local view size as a fraction of the global image size
    # under data-parallel training, BatchNorm over the global batch (`[run] sync_bn` overrides): what the
    # references do (SimCLR, BYOL, Barlow Twins, VICReg, SwAV, DINO with a ResNet, MoCo v3, SimSiam use SyncBN)
    sync_bn: ClassVar[bool] = True

    def __init__(
        self,
        *,
        backbone: str = "resnet18",
        image_size: int = 32,
        small_stem: bool | None = None,
        pretrained: bool = False,
        **hparams: Any,
    ) -> None:
        super().__init__()
        self.hparams: dict[str, Any] = resolve_hparams(type(self), hparams)
        if self.requires_vit and not is_vit(backbone):
            raise ZooError(
                f"method {self.name!r} needs a Vision Transformer backbone, got {backbone!r}: use vit_tiny, "
                "vit_small or another of timm's vision_transformer models (zoo list backbones 'vit_*')"
            )
        self.backbone_name = backbone
        self.image_size = image_size
        self.backbone, self.num_features = create_backbone(
            backbone, image_size=image_size, small_stem=small_stem, pretrained=pretrained
        )
        self._momentum_pairs: list[tuple[nn.Module, nn.Module]] = []
        # optimiser steps taken: a buffer for checkpoints, mirrored by an int so no step waits on the device
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.step_count = 0
        self.register_load_state_dict_post_hook(_sync_step_count)

    # --- the contract -------------------------------------------------------------------------------------
    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        """The SSL loss of a batch given as `view_sizes()` augmented views (same images, same order): two or more,
        or one for a method that sets `n_views = 1` (MAE reconstructs its single view)."""
        raise NotImplementedError

    def embed(self, images: Tensor) -> Tensor:
        """Backbone features (B, num_features) used for evaluation."""
        return self.backbone(images)

    def view_sizes(self) -> list[int]:
        """The side length of every view `loss` expects, global views first; the trainer builds them so."""
        local = max(8, round(self.image_size * self.local_view_ratio))
        return [self.image_size] * self.n_views + [local] * self.n_local_views

    def forward(self, images: Tensor) -> Tensor:
        return self.embed(images)

    def epoch_start(self, epoch: int, batches: Tensor) -> None:
        """Called by the trainer before the first step of each epoch, and again when a run resumes inside one.

        `batches` (steps, batch), on the CPU, holds the dataset index of every image this process gets at each step
        of the epoch, in order. It runs outside the training step, so it may wait for the device (DeepCluster v2
        clusters its memory bank here). No-op by default.
        """

    def step_end(self, progress: float) -> None:
        """Called after every optimiser step: counts it and moves momentum targets on a cosine schedule (BYOL 3.2)."""
        self.step_count += 1
        self.steps_done.fill_(self.step_count)
        if not self._momentum_pairs:
            return
        m = self.momentum_at(progress)
        for online, target in self._momentum_pairs:
            update_momentum(online, target, m)

    def momentum_at(self, progress: float) -> float:
        """EMA coefficient: `momentum` at the start of training, `momentum_end` at its end, cosine in between."""
        step = round(min(max(progress, 0.0), 1.0) * _SCHEDULE_RESOLUTION)
        return cosine_schedule(
            step, _SCHEDULE_RESOLUTION + 1, self.hparams["momentum"], self.hparams.get("momentum_end", 1.0)
        )

    def param_groups(self, exclude_bias_n_norm: bool = True) -> list[dict[str, Any]]:
        """Optimiser groups of every trainable parameter.

        With `exclude_bias_n_norm` biases and norm parameters (1-D) go to a group with no weight decay (and so no
        LARS adaptation); without it everything is in one group, as solo-learn does under SGD.
        """
        return split_decay([p for p in self.parameters() if p.requires_grad], exclude_bias_n_norm)

    # --- helpers for method files ---------------------------------------------------------------------------
    def momentum_copy(self, module: nn.Module) -> nn.Module:
        """A frozen copy of `module` that `step_end` moves towards it by EMA; needs a `momentum` hyper-parameter."""
        if "momentum" not in self.hparams:
            raise TypeError(f"{type(self).__name__} uses a momentum target but declares no 'momentum' default")
        target = copy.deepcopy(module)
        deactivate_requires_grad(target)
        self._momentum_pairs.append((module, target))
        return target

    def freeze_for_steps(self, module: nn.Module, hparam: str) -> None:
        """Zero the gradients of `module` until `hparams[hparam]` steps are done (SwAV prototypes, DINO last layer).

        Zeroed rather than dropped: every parameter keeps a gradient (data-parallel training needs one) and
        `requires_grad` never changes under the optimiser.
        """

        def hold(grad: Tensor) -> Tensor:
            return grad if self.step_count >= self.hparams[hparam] else torch.zeros_like(grad)

        for p in module.parameters():
            if p.requires_grad:
                p.register_hook(hold)

    def encode(self, views: Sequence[Tensor], *modules: nn.Module) -> list[Tensor]:
        """Apply `modules` in sequence to every view; views of one size share one batched pass."""
        out: list[Tensor | None] = [None] * len(views)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, v in enumerate(views):
            by_shape.setdefault(tuple(v.shape[1:]), []).append(i)
        for idx in by_shape.values():
            x = torch.cat([views[i] for i in idx])
            for module in modules:
                x = module(x)
            for i, chunk in zip(idx, x.chunk(len(idx)), strict=True):
                out[i] = chunk
        return out  # type: ignore[return-value]


def split_decay(params: list[nn.Parameter], exclude_bias_n_norm: bool, **options: Any) -> list[dict[str, Any]]:
    """`params` as optimiser groups carrying `options`: 1-D ones apart without weight decay if asked; none empty."""
    if not exclude_bias_n_norm:
        groups = [{"params": params, **options}]
    else:
        groups = [
            {"params": [p for p in params if p.ndim > 1], **options},
            {"params": [p for p in params if p.ndim <= 1], **options, "weight_decay": 0.0},
        ]
    return [g for g in groups if g["params"]]


def unit_prototypes(input_dim: int, n_prototypes: int, learn_norm: bool = False) -> nn.Module:
    """A bias-free linear layer whose rows are unit vectors by weight normalisation (norm fixed at 1 unless learned).

    The prototypes of SwAV and DINO as solo-learn builds them (solo-learn solo/methods/swav.py, solo/methods/dino.py):
    the gradient flows through the normalisation. torch's parametrization API, unlike the deprecated
    `nn.utils.weight_norm`, leaves a module that can be deep-copied (a momentum teacher, pytorch#103001).
    """
    layer = weight_norm(nn.Linear(input_dim, n_prototypes, bias=False))
    magnitude = layer.parametrizations.weight.original0
    magnitude.data.fill_(1.0)
    magnitude.requires_grad_(learn_norm)
    return layer


class Float32Loss(nn.Module):
    """Run `criterion` in float32 with autocast off: similarities, softmaxes and log-sum-exps never in 16 bits.

    Under mixed precision lightly's losses would compute their similarity matrices in bfloat16 (about 3 significant
    digits), which is coarser than the gaps between the logits they compare. Tensor arguments (also inside lists
    and tuples) are cast to float32; everything else, and the wrapped module's state, passes through unchanged.
    """

    def __init__(self, criterion: nn.Module) -> None:
        super().__init__()
        self.criterion = criterion

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        args, kwargs = _to_float32(args), {k: _to_float32(v) for k, v in kwargs.items()}
        device = next((t.device for t in _tensors(args)), torch.device("cpu"))
        with torch.autocast(device.type, enabled=False):
            return self.criterion(*args, **kwargs)


def _to_float32(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, list | tuple):
        return type(value)(_to_float32(v) for v in value)
    return value


def _tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


def _sync_step_count(module: nn.Module, incompatible_keys: object) -> None:
    module.step_count = int(module.steps_done)


def persist_bank(bank: nn.Module) -> nn.Module:
    """Make a lightly memory bank part of the state dict (lightly registers it non-persistent), so resume keeps it,
    and let it enqueue without a host sync.

    lightly reads its write position with `int(self.bank_ptr)` from a device buffer at every step; here the position
    is mirrored by a Python int (as `Method.step_count` mirrors `steps_done`) and the buffer only follows it.
    """
    bank.register_buffer("bank", bank.bank)
    bank.register_buffer("bank_ptr", bank.bank_ptr)
    bank.host_ptr = int(bank.bank_ptr)
    bank._dequeue_and_enqueue = types.MethodType(_enqueue_without_sync, bank)
    bank.register_load_state_dict_post_hook(_sync_bank_ptr)
    return bank


@torch.no_grad()
def _enqueue_without_sync(bank: nn.Module, batch: Tensor) -> None:
    """lightly's `MemoryBankModule._dequeue_and_enqueue` (same writes, same wrap-around) on the host-side pointer."""
    if bank.gather_distributed and lightly_dist.world_size() > 1:
        batch = concat_all_gather(batch)
    ptr, size, n = bank.host_ptr, bank.size[0], batch.shape[0]
    if ptr + n >= size:
        bank.bank[ptr:] = batch[: size - ptr].detach()
        ptr = 0
    else:
        bank.bank[ptr : ptr + n] = batch.detach()
        ptr += n
    bank.host_ptr = ptr
    bank.bank_ptr.fill_(ptr)


def _sync_bank_ptr(module: nn.Module, incompatible_keys: Any) -> None:
    module.host_ptr = int(module.bank_ptr)


def resolve_hparams(cls: type[Method], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by `given`; unknown names and values of the wrong type are user errors."""
    resolved = dict(cls.defaults)
    for key, value in given.items():
        if key not in cls.defaults:
            raise UnknownNameError(
                f"unknown hyper-parameter {key!r} for method {cls.name!r}: {did_you_mean(key, cls.defaults)}"
            )
        resolved[key] = coerce_like(cls.defaults[key], value, f"method {cls.name!r} hyper-parameter {key!r}")
        if key in cls.positive and not resolved[key] > 0:
            raise ZooError(f"method.{key}: expected a value > 0 for method {cls.name!r}, got {value!r}")
    return resolved


def coerce_like(default: Any, value: Any, what: str) -> Any:
    """`value` in the type of `default` (an int is a valid float); anything else is a ZooError naming `what`."""
    if isinstance(default, bool) or default is None:
        ok = isinstance(value, bool) if isinstance(default, bool) else True
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list | tuple):
        ok = isinstance(value, list | tuple)
        value = type(default)(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ZooError(f"{what} must be {type(default).__name__} (like the default {default!r}), got {value!r}")
    return value
