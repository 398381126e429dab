"""zoo: self-supervised representation learning around mi-binary (MIO)."""

from zoo.errors import DataError, RecipeError, UnknownNameError, ZooError

__all__ = ["DataError", "RecipeError", "UnknownNameError", "ZooError"]
__version__ = "0.1.0"
