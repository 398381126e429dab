"""Random token masking inside a timm Vision Transformer's own forward, for the masked-image methods (MAE, MSN).

timm's `VisionTransformer.forward_features` runs patch embedding, positions, `patch_drop`, blocks and norm.
`MaskedTokens` takes the `patch_drop` slot (timm's place for dropping tokens, an identity by default) and, for one
forward, keeps the prefix tokens (class token) and the patch tokens a mask chose. Masked views so go through
`backbone(images)` itself: hooks on the backbone (the online probe) see the features of the masked view, as
solo-learn's probe sees MAE's masked encoder (solo/methods/mae.py), and no weight is held twice, as it would be with
lightly's `MaskedVisionTransformerTIMM` wrapped around the backbone. The mask is lightly's `random_token_mask` over the
patch tokens and is applied with its `get_at_index` (gathers: no host sync).
"""

from __future__ import annotations

import torch
from lightly.models.utils import get_at_index, random_token_mask
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn

from zoo.errors import ZooError


def check_mask_ratio(method: str, mask_ratio: float) -> None:
    """A user error unless some patches are masked and some kept."""
    if not 0 < mask_ratio < 1:
        raise ZooError(f"method.mask_ratio: expected a value in (0, 1) for method {method!r}, got {mask_ratio!r}")


class MaskedTokens(nn.Module):
    """Installed as `vit.patch_drop`: with `keep` set, keeps only those tokens for the next forward of `vit` and
    records that forward's output tokens (after the final norm, before pooling), for a decoder."""

    def __init__(self, vit: VisionTransformer) -> None:
        super().__init__()
        self.num_prefix_tokens = vit.num_prefix_tokens
        self.patch_size = vit.patch_embed.patch_size
        self._grid = vit.patch_embed.dynamic_feat_size
        self.keep: Tensor | None = None
        self._encoded: Tensor | None = None
        self._recording = False
        vit.patch_drop = self
        vit.norm.register_forward_hook(self._record)

    def forward(self, tokens: Tensor) -> Tensor:
        keep, self.keep = self.keep, None
        self._recording = keep is not None
        if keep is None:
            return tokens
        prefix = torch.arange(self.num_prefix_tokens, device=tokens.device).expand(len(tokens), -1)
        return get_at_index(tokens, torch.cat([prefix, keep + self.num_prefix_tokens], dim=1))

    def _record(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if self._recording:
            self._encoded, self._recording = output, False

    def num_patches(self, images: Tensor) -> int:
        """Patch tokens of `images` (the grid timm's patch embedding cuts, padding included, at any view size)."""
        rows, cols = self._grid((images.shape[-2], images.shape[-1]))
        return rows * cols

    def random_mask(self, images: Tensor, mask_ratio: float) -> tuple[Tensor, Tensor]:
        """(kept, masked) patch indices, (B, n_keep) and (B, n_mask), a fraction `mask_ratio` masked per image."""
        size = (images.shape[0], self.num_patches(images))
        return random_token_mask(size, mask_ratio, mask_class_token=True, device=images.device)

    def encode(self, vit: nn.Module, images: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        """`vit(images)` on the patch tokens `keep` only: its pooled features (B, D) and all its output tokens
        (B, prefix + n_keep, D), prefix tokens first, then the kept patches in the order of `keep`."""
        self.keep = keep
        try:
            pooled = vit(images)
        finally:
            self.keep = None
        tokens, self._encoded = self._encoded, None
        assert tokens is not None, "the masked forward did not reach the ViT's final norm"
        return pooled, tokens
