"""MAE: the normalised-pixel loss against solo-learn's formula, the mask, the patch order, the ViT requirement."""

from __future__ import annotations

import pytest
import torch
from lightly.models.utils import get_at_index, patchify

import zoo
from tests.conftest import TINY_VIT
from zoo.methods.mae import MAELoss

SMALL_DECODER = {"decoder_embed_dim": 32, "decoder_depth": 1, "decoder_num_heads": 2}


def solo_learn_mae_loss(target: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor, norm_pix: bool) -> torch.Tensor:
    """solo-learn's mae_loss_func (solo/losses/mae.py) on patchified images, written out: per-patch mean and unbiased
    variance, squared error averaged per patch, then over the patches the mask marks 1 (removed)."""
    n, length, _ = target.shape
    total, count = 0.0, 0.0
    for i in range(n):
        for j in range(length):
            t = target[i, j]
            if norm_pix:
                mean = t.sum() / len(t)
                var = ((t - mean) ** 2).sum() / (len(t) - 1)
                t = (t - mean) / (var + 1e-6) ** 0.5
            total += float(((pred[i, j] - t) ** 2).mean()) * float(mask[i, j])
            count += float(mask[i, j])
    return torch.tensor(total / count)


@pytest.mark.parametrize("norm_pix", [True, False])
def test_loss_is_solo_learns_on_the_masked_patches(norm_pix: bool) -> None:
    g = torch.Generator().manual_seed(0)
    target, pred = torch.randn(3, 16, 12, generator=g) * 2 + 1, torch.randn(3, 16, 12, generator=g)
    masked = torch.stack([torch.randperm(16, generator=g)[:12] for _ in range(3)])
    mask = torch.zeros(3, 16).scatter_(1, masked, 1.0)
    ours = MAELoss(norm_pix)(get_at_index(pred, masked), get_at_index(target, masked))
    torch.testing.assert_close(ours, solo_learn_mae_loss(target, pred, mask, norm_pix), rtol=1e-5, atol=1e-6)


def test_patch_i_of_the_target_is_token_i_of_the_encoder() -> None:
    """patchify's order must be the patch embedding's: a change in one patch changes only that token."""
    method = zoo.create_method("mae", backbone=TINY_VIT, image_size=32, **SMALL_DECODER)
    image = torch.zeros(1, 3, 32, 32)
    changed = image.clone()
    changed[:, :, 8:12, 20:24] = 1.0  # row 2, column 5 of the 8x8 grid of 4 px patches
    embed = method.backbone.patch_embed
    moved = (embed(changed) - embed(image)).flatten(1, 2).abs().sum(-1)[0]
    pixels = (patchify(changed, 4) - patchify(image, 4)).abs().sum(-1)[0]
    assert moved.nonzero().flatten().tolist() == pixels.nonzero().flatten().tolist() == [2 * 8 + 5]


def test_a_quarter_of_the_patches_reaches_the_encoder_and_the_probe_sees_its_class_token() -> None:
    method = zoo.create_method("mae", backbone=TINY_VIT, image_size=32, **SMALL_DECODER)
    images = torch.randn(4, 3, 32, 32)
    keep, masked = method.masking.random_mask(images, 0.75)
    assert keep.shape == (4, 16) and masked.shape == (4, 48)
    assert torch.equal(torch.cat([keep, masked], 1).sort(1).values, torch.arange(64).expand(4, -1))
    pooled, tokens = method.masking.encode(method.backbone, images, keep)
    assert tokens.shape == (4, 17, method.num_features)
    torch.testing.assert_close(pooled, tokens[:, 0])  # timm's pooling of vit_* models: the class token
    seen: list[torch.Tensor] = []
    method.backbone.register_forward_hook(lambda m, i, o: seen.append(o))  # as the online probe's hook
    method.loss([images])
    assert [s.shape for s in seen] == [(4, method.num_features)]
    assert method.masking.keep is None and torch.equal(method.embed(images), method.backbone(images))


def test_the_encoder_positions_are_a_fixed_sine_cosine_table() -> None:
    method = zoo.create_method("mae", backbone=TINY_VIT, image_size=32, **SMALL_DECODER)
    pos = method.backbone.pos_embed
    assert not pos.requires_grad and torch.all(pos[0, 0] == 0)  # the class token's entry is zero (MAE's code)
    assert torch.allclose(pos[0, 1:].abs().max(), torch.tensor(1.0))


@pytest.mark.parametrize("backbone", ["test_resnet", "convnext_atto"])
def test_a_non_vit_backbone_is_one_clear_error(backbone: str) -> None:
    with pytest.raises(zoo.ZooError, match=f"'mae' needs a Vision Transformer backbone, got '{backbone}'.*vit_small"):
        zoo.create_method("mae", backbone=backbone)


def test_mask_ratio_must_leave_patches() -> None:
    with pytest.raises(zoo.ZooError, match="mask_ratio"):
        zoo.create_method("mae", backbone=TINY_VIT, mask_ratio=1.0)


def test_image_size_must_be_whole_patches() -> None:
    with pytest.raises(zoo.ZooError, match="multiple of the 4 px patches, got 30"):
        zoo.create_method("mae", backbone=TINY_VIT, image_size=30, **SMALL_DECODER)
