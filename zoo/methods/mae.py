"""MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022).

One view per image: 75 % of its patches are dropped, the ViT encoder sees the rest, and a light transformer decoder
fills mask tokens in at the dropped positions and predicts their pixels; the loss is the mean squared error on the
masked patches only, each target patch normalised by its own mean and variance (the paper's `norm_pix_loss`).

CIFAR defaults from solo-learn's published CIFAR-10 recipe (scripts/pretrain/cifar/mae.yaml and solo/methods/mae.py,
solo/losses/mae.py): ViT-S with 4 px patches at 32 px (64 tokens), mask ratio 0.75, decoder 512 wide, 8 blocks,
16 heads, norm_pix_loss true; AdamW lr 2.0e-4 at batch 256, weight decay 0.05, betas (0.9, 0.95), 1000 epochs; one
view with crop and flip only (its augmentations/reconstruction.yaml). As in the paper and solo-learn's ViT
(solo/backbones/vit/vit_mae.py), the encoder's positional embedding is a fixed 2-D sine-cosine table and its weights
start from MAE's initialisation (xavier-uniform linears, the patch projection initialised as a linear).

Built from lightly's parts: `random_token_mask`, `get_at_index`, `set_at_index` and `patchify` (lightly.models.utils),
`MaskedVisionTransformerDecoderTIMM` (lightly's successor of the deprecated `MAEDecoderTIMM`, the same blocks, with the
input embedding and the pixel head as separate linears, as lightly's MAE example builds them). The loss is written
here: lightly has no normalised-pixel loss (its example uses a plain `nn.MSELoss`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightly.models.modules import MaskedVisionTransformerDecoderTIMM
from lightly.models.modules.masked_vision_transformer_timm import init_weights
from lightly.models.utils import get_at_index, initialize_2d_sine_cosine_positional_embedding, patchify, set_at_index
from torch import Tensor, nn

from zoo.errors import ZooError
from zoo.methods import register_method
from zoo.methods.base import Float32Loss, Method
from zoo.methods.token_masking import MaskedTokens, check_mask_ratio


class MAELoss(nn.Module):
    """Mean squared error between predicted and true pixels of the masked patches (MAE, section 3, "Reconstruction
    target"), each target patch first normalised to zero mean and unit variance when `norm_pix_loss`.

    `forward(pred, target)` takes (B, M, P) predictions and pixels of the M masked patches (P = patch^2 * channels);
    the same value as solo-learn's `mae_loss_func` (solo/losses/mae.py), which averages over a mask instead.
    """

    def __init__(self, norm_pix_loss: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm_pix_loss, self.eps = norm_pix_loss, eps

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if self.norm_pix_loss:  # unbiased variance, as the official code and solo-learn
            target = (target - target.mean(dim=-1, keepdim=True)) / (target.var(dim=-1, keepdim=True) + self.eps).sqrt()
        return (pred - target).pow(2).mean()


@register_method("mae")
class MAE(Method):
    """A ViT encodes a quarter of an image's patches; a small decoder reconstructs the pixels of the rest."""

    family = "masked-image-modeling"
    paper = "He et al., MAE, CVPR 2022"
    default_augment = "solo-reconstruction"
    requires_vit = True
    n_views = 1
    defaults = {
        "mask_ratio": 0.75,
        "decoder_embed_dim": 512,
        "decoder_depth": 8,
        "decoder_num_heads": 16,
        "norm_pix_loss": True,
    }
    positive = ("decoder_embed_dim", "decoder_depth", "decoder_num_heads")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        h = self.hparams
        check_mask_ratio(self.name, h["mask_ratio"])
        vit = self.backbone
        self._init_encoder(vit)
        self.masking = MaskedTokens(vit)
        dim = h["decoder_embed_dim"]
        self.decoder_embed = nn.Linear(self.num_features, dim)
        self.decoder = MaskedVisionTransformerDecoderTIMM(
            num_patches=vit.patch_embed.num_patches,
            embed_dim=dim,
            depth=h["decoder_depth"],
            num_heads=h["decoder_num_heads"],
            num_prefix_tokens=vit.num_prefix_tokens,
        )
        patch, channels = vit.patch_embed.patch_size[0], vit.patch_embed.proj.in_channels
        if self.image_size % patch:  # the pixel targets are whole patches
            raise ZooError(f"method 'mae' needs image_size a multiple of the {patch} px patches, got {self.image_size}")
        self.prediction_head = nn.Linear(dim, patch * patch * channels)
        self.decoder_embed.apply(init_weights)
        self.prediction_head.apply(init_weights)
        self.criterion = Float32Loss(MAELoss(h["norm_pix_loss"]))

    @staticmethod
    def _init_encoder(vit: nn.Module) -> None:
        """MAE's encoder initialisation (the official code, lightly's MaskedVisionTransformerTIMM, solo-learn)."""
        initialize_2d_sine_cosine_positional_embedding(vit.pos_embed, num_prefix_tokens=vit.num_prefix_tokens)
        vit.apply(init_weights)
        w = vit.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if vit.cls_token is not None:
            nn.init.normal_(vit.cls_token, std=0.02)

    def loss(self, views: Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        images = views[0]
        keep, masked = self.masking.random_mask(images, self.hparams["mask_ratio"])
        _, tokens = self.masking.encode(self.backbone, images, keep)
        prefix = self.masking.num_prefix_tokens
        x = self.decoder_embed(tokens)
        # the full sequence: encoded tokens at their positions; the decoder puts its mask token at the others
        full = x.new_zeros(len(x), self.decoder.sequence_length, x.shape[-1])
        kept_at = torch.cat([torch.arange(prefix, device=x.device).expand(len(x), -1), keep + prefix], dim=1)
        full = set_at_index(full, kept_at, x)
        decoded = self.decoder(full, idx_mask=masked + prefix)
        pred = self.prediction_head(get_at_index(decoded, masked + prefix))
        target = get_at_index(patchify(images, self.masking.patch_size[0]), masked)
        return self.criterion(pred, target)
