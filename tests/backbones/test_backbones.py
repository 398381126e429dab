"""timm backbones with the small-image stem."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.backbones import is_vit, timm_name
from zoo.backbones.size_check import check_input_sizes
from zoo.backbones.timm_backbones import backbone_stem
from zoo.cli import main
from zoo.errors import PretrainedWeightsError


def test_resnet18_small_stem_at_32px() -> None:
    model, width = zoo.create_backbone("resnet18", image_size=32)
    assert width == 512
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 512)


def test_deep_stem_resnet_is_replaced_too() -> None:
    model, _ = zoo.create_backbone("resnet10t", image_size=28)
    assert isinstance(model.conv1, nn.Conv2d) and model.conv1.out_channels == model.bn1.num_features


@pytest.mark.parametrize(
    ("image_size", "small_stem", "expect_small"), [(96, None, False), (224, True, True), (64, None, False)]
)
def test_stem_override(image_size: int, small_stem: bool | None, expect_small: bool) -> None:
    model, _ = zoo.create_backbone("test_resnet", image_size=image_size, small_stem=small_stem)
    assert isinstance(model.maxpool, nn.Identity) is expect_small


@pytest.mark.parametrize(("image_size", "kernel"), [(64, 3), (96, 3), (224, 7)])
def test_tiny_imagenet_and_stl_sizes_get_a_3x3_stem_with_max_pool(image_size: int, kernel: int) -> None:
    model, width = zoo.create_backbone("resnet18", image_size=image_size)
    assert model.conv1.kernel_size == (kernel, kernel) and isinstance(model.maxpool, nn.MaxPool2d)
    assert model(torch.randn(1, 3, image_size, image_size)).shape == (1, width)
    forced, _ = zoo.create_backbone("resnet18", image_size=image_size, small_stem=False)
    assert forced.conv1.kernel_size == (7, 7)


def test_transformer_takes_the_image_size() -> None:
    model, width = zoo.create_backbone("test_vit", image_size=32)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, width)


def test_list_backbones() -> None:
    names = zoo.list_backbones("resnet1*")
    assert "resnet18" in names and names == sorted(names)


def test_pretrained_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-zoo-cache")
    with pytest.raises(PretrainedWeightsError, match="resnet18"):
        zoo.create_backbone("resnet18", pretrained=True)


def test_width_is_what_the_model_outputs() -> None:
    model, width = zoo.create_backbone("mobilenetv3_small_050", image_size=32)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, width)


VIT_PATCHES = [(32, None, 4), (28, None, 4), (64, None, 16), (32, False, 16), (64, True, 4)]


@pytest.mark.parametrize(("image_size", "small_stem", "patch"), VIT_PATCHES)
def test_vit_gets_4px_patches_up_to_32px(image_size: int, small_stem: bool | None, patch: int) -> None:
    model, width = zoo.create_backbone("test_vit", image_size=image_size, small_stem=small_stem)
    assert model.patch_embed.patch_size == (patch, patch)
    assert model.pos_embed.shape[1] == 1 + (image_size // patch) ** 2  # the class token and the patch grid
    assert backbone_stem(model, image_size, small_stem) == ("small-patch" if patch == 4 else "timm")
    assert model(torch.randn(2, 3, image_size, image_size)).shape == (2, width)


def test_vit_short_names_are_timms_vits_with_64_tokens_at_32px() -> None:
    model, width = zoo.create_backbone("vit_small", image_size=32)
    assert timm_name("vit_small") == "vit_small_patch16_224" and width == 384
    assert model.patch_embed.grid_size == (8, 8) and model.global_pool == "token"  # features: the class token
    assert is_vit("vit_tiny") and is_vit("test_vit") and not is_vit("resnet18") and not is_vit("no_such_model")
    assert {"vit_small", "vit_tiny"} <= set(zoo.list_backbones("vit_*"))
    assert zoo.list_backbones("vit_s*")[0] == "vit_small"


def test_vit_takes_views_of_other_sizes_and_passes_the_size_check() -> None:
    model, width = zoo.create_backbone("test_vit", image_size=32)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, width)  # multi-crop: positions resampled
    assert model.patch_embed(torch.randn(1, 3, 14, 14)).shape[1:3] == (4, 4)  # padded to whole patches
    check_input_sizes(model, "test_vit", [14, 16, 32], torch.device("cpu"))


def test_zoo_list_backbones_shows_the_short_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backbones", "vit_tiny*"]) == 0
    out = capsys.readouterr().out
    assert "vit_tiny " in out and "vit_tiny_patch16_224" in out and "vision_transformer" in out
