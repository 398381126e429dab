"""Hessian-vector products of a scalar loss with respect to a chosen set of parameters (Pearlmutter 1994).

The gradient is taken once with `create_graph=True`; every product is one more backward pass through that graph,
so the batch, its augmentation and BatchNorm's batch statistics are the same for every product. Buffers (BatchNorm
running statistics, EMA targets, queues, memory banks, centres) are restored by `frozen_buffers`: the analysed model
leaves the analysis as it came.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from zoo.errors import ZooError

PARAMETER_SETS: tuple[str, ...] = ("projector", "backbone", "all")

FROZEN_NOTE = (
    "training mode: BatchNorm normalises with the batch's statistics; running statistics, EMA targets, queues, "
    "banks and every other buffer are restored after the analysis; non-trainable parameters (momentum copies) "
    "are constants"
)


def select_parameters(module: nn.Module, which: str) -> dict[str, nn.Parameter]:
    """Trainable parameters by set: "projector" (all but the backbone), "backbone", "all", or an fnmatch pattern.

    Non-trainable parameters (momentum copies) are never selected. No match is a user error naming the choices.
    """
    trainable = {name: p for name, p in module.named_parameters() if p.requires_grad}
    if which == "all":
        chosen = trainable
    elif which == "backbone":
        chosen = {n: p for n, p in trainable.items() if n.startswith("backbone.")}
    elif which == "projector":
        chosen = {n: p for n, p in trainable.items() if not n.startswith("backbone.")}
    else:
        chosen = {n: p for n, p in trainable.items() if fnmatch.fnmatchcase(n, which)}
    if not chosen:
        prefixes = sorted({n.split(".")[0] for n in trainable})
        raise ZooError(
            f"parameter set {which!r} selects no trainable parameter: use one of {', '.join(PARAMETER_SETS)} "
            f"or a name pattern such as '{prefixes[0]}.*' (top-level modules: {', '.join(prefixes)})"
        )
    return chosen


@contextmanager
def frozen_buffers(module: nn.Module) -> Iterator[None]:
    """Run `module` in training mode and restore every buffer and its mode afterwards."""
    saved = {name: b.detach().clone() for name, b in module.named_buffers()}
    was_training = module.training
    module.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in module.named_buffers():
                if name in saved:
                    b.copy_(saved[name])
        module.train(was_training)


class HessianOperator:
    """v -> H v for the Hessian H of `loss` with respect to `params`, on flat vectors (the parameters concatenated).

    `on_product` is called after every product (progress display); `products` counts them.
    """

    def __init__(self, loss: Tensor, params: Sequence[Tensor], on_product: Callable[[], None] | None = None) -> None:
        self.params = list(params)
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        grads = torch.autograd.grad(loss, self.params, create_graph=True, materialize_grads=True)
        # a gradient that does not depend on the parameters (e.g. of a layer the loss is linear in) has H = 0 there
        self._live = [i for i, g in enumerate(grads) if g.requires_grad]
        self._grads = [grads[i] for i in self._live]
        self.on_product = on_product
        self.products = 0

    def __call__(self, v: Tensor) -> Tensor:
        chunks = [c.view_as(p) for c, p in zip(v.to(self.dtype).split(self.sizes), self.params, strict=True)]
        out = [torch.zeros_like(p) for p in self.params]
        if self._grads:
            hv = torch.autograd.grad(
                self._grads,
                self.params,
                grad_outputs=[chunks[i] for i in self._live],
                retain_graph=True,
                materialize_grads=True,
            )
            out = list(hv)
        self.products += 1
        if self.on_product is not None:
            self.on_product()
        return torch.cat([o.reshape(-1) for o in out]).to(v.dtype)
