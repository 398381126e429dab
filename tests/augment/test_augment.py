"""Multi-view augmentation: presets as data, views on the input's device, reproducible, normalised."""

from __future__ import annotations

import kornia.augmentation as K
import pytest
import torch

from zoo.augment import (
    NORMALIZATION,
    PRESETS,
    AugmentPreset,
    MultiViewAugment,
    create_augment,
    list_augments,
    to_model_input,
)
from zoo.augment.pipeline import ColorJitter
from zoo.errors import ZooError

ALL = list_augments()


def images(n: int = 8, size: int = 32, channels: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)


def unnormalise(view: torch.Tensor, aug: MultiViewAugment) -> torch.Tensor:
    mean = torch.tensor(aug.mean, device=view.device).view(1, -1, 1, 1)
    std = torch.tensor(aug.std, device=view.device).view(1, -1, 1, 1)
    return view * std + mean


def ops(aug: MultiViewAugment, view: int) -> dict[type, torch.nn.Module]:
    return {type(op): op for op in aug.pipeline(view)}


def run(aug: MultiViewAugment, x: torch.Tensor, seed: int = 0) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    return aug(x)


def test_the_paper_presets_are_registered() -> None:
    assert {"simclr", "byol", "mio"} <= set(ALL)
    assert list_augments("sim*") == ["simclr"]
    assert all(isinstance(PRESETS.get(name), AugmentPreset) for name in ALL)


@pytest.mark.parametrize("size", [32, 96])
@pytest.mark.parametrize("name", ALL)
def test_views_shape_dtype_range(name: str, size: int) -> None:
    aug = create_augment(name, image_size=size, n_views=2, n_local=2, local_size=size // 2, normalize="stl10")
    x = images(size=size + 8)
    views = run(aug, x)
    assert len(views) == 4
    for i, view in enumerate(views):
        side = size if i < 2 else size // 2
        assert view.shape == (8, 3, side, side)
        assert view.dtype == torch.float32
        assert view.device == x.device
        unit = unnormalise(view, aug)
        assert unit.min() >= -1e-5 and unit.max() <= 1 + 1e-5
    assert not torch.allclose(views[0], views[1])


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_views_other_seed_other_views(name: str) -> None:
    aug = create_augment(name, image_size=96, n_local=1, local_size=32)
    x = images(size=96)
    first, again, other = run(aug, x, 1), run(aug, x, 1), run(aug, x, 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("name", ALL)
def test_uint8_and_float_input_agree(name: str) -> None:
    aug = create_augment(name, image_size=32)
    x = images()
    as_uint8, as_float = run(aug, x), run(aug, x.float() / 255)
    assert all(torch.equal(a, b) for a, b in zip(as_uint8, as_float, strict=True))


def test_input_is_left_untouched() -> None:
    x = images().float() / 255
    before = x.clone()
    run(create_augment("byol", image_size=32), x)
    assert torch.equal(x, before)


def test_grey_input_gives_three_equal_channels() -> None:
    aug = create_augment("simclr", image_size=32, normalize="fashion-mnist")
    grey = images(channels=1)
    views = run(aug, grey)
    assert all(v.shape == (8, 3, 32, 32) for v in views)
    assert all(torch.equal(a, b) for a, b in zip(views, run(aug, grey.expand(-1, 3, -1, -1)), strict=True))
    unit = unnormalise(views[0], aug)
    torch.testing.assert_close(unit[:, 0], unit[:, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(unit[:, 0], unit[:, 2], atol=1e-5, rtol=0)


def test_byol_views_are_asymmetric() -> None:
    aug = create_augment("byol", image_size=96, n_views=3)
    first, second = ops(aug, 0), ops(aug, 1)
    assert first[K.RandomGaussianBlur].p == 1.0 and second[K.RandomGaussianBlur].p == 0.1
    assert K.RandomSolarize not in first and second[K.RandomSolarize].p == 0.2
    assert aug.pipeline(2) is aug.pipeline(0)  # per-view settings cycle
    assert first[ColorJitter].saturation == 0.2
    small = create_augment("byol", image_size=32)  # no blur on 32 px images, solarize kept
    assert K.RandomGaussianBlur not in ops(small, 0) and K.RandomGaussianBlur not in ops(small, 1)
    assert K.RandomSolarize in ops(small, 1)


def test_simclr_views_share_one_pipeline() -> None:
    aug = create_augment("simclr", image_size=96)
    assert len(aug.pipelines) == 1 and aug.pipeline(1) is aug.pipeline(0)
    blur = ops(aug, 0)[K.RandomGaussianBlur]
    assert blur.p == 0.5 and blur.flags["kernel_size"] == (9, 9)
    assert K.RandomGaussianBlur not in ops(create_augment("simclr", image_size=32), 0)


def test_mio_follows_the_paper_per_image_size() -> None:
    cifar = ops(create_augment("mio", image_size=32), 0)
    assert K.RandomGaussianBlur not in cifar and K.RandomSolarize not in cifar
    assert cifar[K.RandomResizedCrop]._param_generator.scale.tolist() == pytest.approx([0.8, 1.0])
    assert cifar[K.RandomGrayscale].p == 0.2 and cifar[ColorJitter].p == 0.8
    stl = ops(create_augment("mio", image_size=96, normalize="stl10"), 0)
    assert stl[K.RandomGaussianBlur].p == 0.5 and stl[K.RandomGaussianBlur].flags["kernel_size"] == (9, 9)
    assert stl[K.RandomSolarize].p == 0.2


def test_solarize_uses_a_fixed_threshold_and_no_shift() -> None:
    aug = create_augment("mio", image_size=96, solarize_p=1.0)
    solarize = ops(aug, 0)[K.RandomSolarize]
    ramp = torch.linspace(0, 1, 101).view(1, 1, 1, 101).repeat(4, 3, 1, 1)
    expected = torch.where(ramp >= 0.5, 1 - ramp, ramp)
    torch.testing.assert_close(solarize(ramp), expected, atol=1e-6, rtol=0)


def test_batched_crop_matches_kornias_per_image_crop() -> None:
    crop = ops(create_augment("simclr", image_size=24), 0)[K.RandomResizedCrop]
    x = images().float() / 255
    per_image = K.RandomResizedCrop((24, 24), cropping_mode="slice")
    torch.testing.assert_close(crop(x), per_image(x, params=crop._params), atol=1e-4, rtol=0)


def test_blur_kernel_is_a_tenth_of_the_size_and_odd() -> None:
    preset = PRESETS.get("simclr")
    assert [preset.blur_kernel(s) for s in (32, 64, 96, 224)] == [3, 7, 9, 23]


@pytest.mark.parametrize("preset", ["solo-symmetric", "solo-symmetric-weak"])
def test_solo_learn_presets_blur_at_32_px_with_a_3_sigma_kernel(preset: str) -> None:
    """solo-learn's CIFAR files keep blur p 0.5 at 32 px; PIL's radius-2 blur spans 13 pixels."""
    blur = ops(create_augment(preset, image_size=32), 0)[K.RandomGaussianBlur]
    assert blur.p == 0.5 and tuple(blur.flags["kernel_size"]) == (13, 13)


def test_solo_asymmetric_has_no_blur_at_32_px_and_solarizes_the_second_view() -> None:
    aug = create_augment("solo-asymmetric", image_size=32)
    assert K.RandomGaussianBlur not in ops(aug, 0) and K.RandomGaussianBlur not in ops(aug, 1)
    assert K.RandomSolarize not in ops(aug, 0) and ops(aug, 1)[K.RandomSolarize].p == 0.2


def test_bicubic_crops_stay_in_the_unit_range() -> None:
    """Bicubic overshoots; the pipeline clamps as PIL's uint8 output does, before jitter and normalisation."""
    aug = create_augment("solo-symmetric", image_size=32, jitter_p=0, gray_p=0, blur_p=0, flip_p=0)
    x = torch.zeros(16, 3, 32, 32)
    x[:, :, ::2] = 1.0  # stripes: the worst case for overshoot
    pipe = aug.pipeline(0)
    cropped = pipe[1](pipe[0](x))
    assert pipe[0].flags["resample"].name.lower() == "bicubic"
    assert cropped.min() >= 0 and cropped.max() <= 1


def test_overrides_replace_preset_fields() -> None:
    aug = create_augment("simclr", image_size=32, crop_scale=[0.2, 1.0], blur_p=0.3, blur_min_size=32)
    assert aug.preset.crop_scale == (0.2, 1.0) and aug.preset.blur_p == (0.3,)
    assert ops(aug, 0)[K.RandomGaussianBlur].p == 0.3
    plain = ops(create_augment("simclr", image_size=32, jitter_p=0, gray_p=0.0, flip_p=0), 0)
    assert set(plain) == {K.RandomResizedCrop, K.Normalize}
    assert PRESETS.get("simclr").crop_scale == (0.08, 1.0)  # the table itself is untouched


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"preset": "simclrr"}, "simclrr"),
        ({"preset": "simclr", "blurp": 0.5}, "blurp"),
        ({"preset": "simclr", "normalize": "cifar"}, "cifar"),
        ({"preset": "simclr", "flip_p": 1.5}, "flip_p"),
        ({"preset": "simclr", "crop_scale": [0.9, 0.1]}, "crop_scale"),
        ({"preset": "simclr", "jitter": [0.4, 0.4]}, "jitter"),
        ({"preset": "simclr", "normalize": ((0.5,), (0.0,))}, "normalize"),
        ({"preset": "simclr", "n_views": 0}, "n_views"),
    ],
)
def test_bad_arguments_raise_zoo_errors_naming_them(kwargs: dict, named: str) -> None:
    kwargs.setdefault("image_size", 32)
    with pytest.raises(ZooError, match=named):
        create_augment(**kwargs)


def test_unknown_override_suggests_the_closest_field() -> None:
    with pytest.raises(ZooError, match="'blur_p'"):
        create_augment("byol", image_size=32, blurp=0.5)


def test_explicit_normalisation_pair() -> None:
    aug = create_augment("mio", image_size=32, normalize=([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]))
    assert aug.mean == (0.5, 0.5, 0.5) and aug.std == (0.25, 0.25, 0.25)


def test_normalisation_table() -> None:
    assert set(NORMALIZATION) == {"cifar10", "cifar100", "stl10", "tiny-imagenet", "imagenet", "fashion-mnist"}
    for mean, std in NORMALIZATION.values():
        assert len(mean) == len(std) == 3 and all(0 < v < 1 for v in (*mean, *std))


def test_to_model_input() -> None:
    mean, std = NORMALIZATION["cifar10"]
    x = images()
    out = to_model_input(x, mean=mean, std=std)
    assert out.dtype == torch.float32 and out.shape == (8, 3, 32, 32)
    torch.testing.assert_close(out, to_model_input(x.float() / 255, mean=mean, std=std))
    half = torch.full((2, 1, 28, 28), 0.5)
    grey = to_model_input(half, mean=mean, std=std, size=32)
    assert grey.shape == (2, 3, 32, 32)
    expected = (0.5 - torch.tensor(mean)) / torch.tensor(std)
    torch.testing.assert_close(grey[:, :, 5, 7], expected.expand(2, 3))


def test_prepare_is_deterministic_and_resizes() -> None:
    aug = create_augment("simclr", image_size=32, normalize="tiny-imagenet")
    x = images(size=64)
    out = aug.prepare(x)
    assert out.shape == (8, 3, 32, 32) and torch.equal(out, aug.prepare(x))
    torch.testing.assert_close(out, to_model_input(x, mean=aug.mean, std=aug.std, size=32))


def test_default_local_size_keeps_dinos_ratio() -> None:
    aug = create_augment("byol", image_size=224, n_local=1)
    assert aug.local_size == 96
    assert ops(aug, 2)[K.RandomResizedCrop]._param_generator.scale.tolist() == pytest.approx([0.05, 0.4])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_and_random_parameters_live_on_the_input_device() -> None:
    aug = create_augment("byol", image_size=32, n_local=2, local_size=16)
    x = images().cuda()
    views = run(aug, x)
    assert all(v.device == x.device for v in views)
    sampled = {"batch_prob", "src", "brightness_factor", "sigma", "thresholds"}
    for pipe in aug.pipelines:
        for op in pipe:
            assert op.device == x.device
            assert all(t.device == x.device for k, t in op._params.items() if k in sampled)
    assert all(torch.equal(a, b) for a, b in zip(views, run(aug, x), strict=True))


@pytest.mark.parametrize("p", [1.0, 0.8])
@pytest.mark.parametrize("strengths", [(0.4, 0.4, 0.4, 0.1), (0.4, 0.0, 0.4, 0.0)])
def test_color_jitter_without_host_sync_gives_kornias_images(p: float, strengths: tuple[float, ...]) -> None:
    x = torch.rand(32, 3, 12, 12)
    torch.manual_seed(3)
    expected = K.ColorJitter(*strengths, p=p)(x)
    torch.manual_seed(3)
    torch.testing.assert_close(ColorJitter(*strengths, p=p)(x), expected, rtol=0, atol=0)
