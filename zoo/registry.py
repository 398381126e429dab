"""One small generic registry (timm style) serving methods, backbones, augmentation presets and datasets."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from zoo.errors import UnknownNameError

T = TypeVar("T")


def did_you_mean(name: str, valid: Iterable[str], n: int = 3) -> str:
    """A short hint naming the closest valid names, or listing the valid names when there are few."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=n, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(repr(c) for c in close) + "?"
    if len(valid) <= 12:
        return "valid: " + ", ".join(valid)
    return f"{len(valid)} choices; list them with `zoo list`"


def unknown(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """The one error for a name that is not among the valid ones."""
    return UnknownNameError(f"unknown {kind} {name!r}: {did_you_mean(name, valid)}")


class Registry(Generic[T]):
    """Names -> objects, filled by a decorator; `list(pattern)` takes fnmatch wildcards."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown(self.kind, name, self._entries) from None

    def list(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        if pattern is None:
            return names
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
