"""The generic registry behind methods, backbones, presets and datasets."""

from __future__ import annotations

import pytest

import zoo
from zoo.registry import Registry


def test_wildcard_listing_is_sorted() -> None:
    reg: Registry[int] = Registry("thing")
    for name in ("b-two", "a-one", "b-one"):
        reg.register(name)(1)
    assert reg.list() == ["a-one", "b-one", "b-two"]
    assert reg.list("b-*") == ["b-one", "b-two"]
    assert reg.list("z*") == []


def test_duplicate_registration_is_an_error() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("x")(1)
    with pytest.raises(ValueError, match="twice"):
        reg.register("x")(2)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(zoo.UnknownNameError, match="unknown method 'simclrr'.*'simclr'"):
        zoo.create_method("simclrr")
    with pytest.raises(zoo.ZooError, match="unknown backbone 'resnet19'.*resnet18"):
        zoo.create_backbone("resnet19")


def test_list_methods_with_pattern() -> None:
    assert zoo.list_methods("mi-binary*") == ["mi-binary", "mi-binary-moco", "mi-binary-naive"]
    assert zoo.list_methods() == sorted(zoo.list_methods())
