"""The method registry. Every module in this package is imported here, so adding one file adds one method."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from zoo.methods.base import Method
from zoo.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")


def register_method(name: str):
    """Class decorator: register a `Method` subclass under `name` (timm style)."""

    def decorator(cls: type[Method]) -> type[Method]:
        cls.name = name
        return METHODS.register(name)(cls)

    return decorator


def list_methods(pattern: str | None = None) -> list[str]:
    """Registered method names matching the fnmatch `pattern`, sorted."""
    return METHODS.list(pattern)


def get_method_class(name: str) -> type[Method]:
    return METHODS.get(name)


def create_method(name: str, *, backbone: str = "resnet18", image_size: int = 32, **hparams: Any) -> Method:
    """Build method `name` on a timm `backbone`; `hparams` override the method's published defaults."""
    return METHODS.get(name)(backbone=backbone, image_size=image_size, **hparams)


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["METHODS", "Method", "create_method", "get_method_class", "list_methods", "register_method"]
