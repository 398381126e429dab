"""The exceptions users can cause. The CLI prints them on one line and exits 2; bugs keep their tracebacks."""

from __future__ import annotations


class ZooError(Exception):
    """Base of every error a user can cause: bad recipe, unknown name, missing data."""


class UnknownNameError(ZooError, KeyError):
    """A name (method, backbone, preset, dataset, hyper-parameter, recipe key) that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RecipeError(ZooError, ValueError):
    """A recipe that cannot be parsed or validated."""


class DataError(ZooError, FileNotFoundError):
    """A dataset that cannot be found or read."""


class PretrainedWeightsError(ZooError, RuntimeError):
    """Pretrained weights were asked for but cannot be had (no network, no cache)."""


class SuiteError(ZooError, ValueError):
    """A suite file that cannot be parsed or validated."""
