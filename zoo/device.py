"""The training / evaluation device a recipe's `run.device` names."""

from __future__ import annotations

import torch

from zoo.errors import ZooError


def pick_device(choice: str) -> torch.device:
    """ "auto": CUDA when available, else the CPU; "cuda" without a CUDA device is a user error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ZooError("run.device = 'cuda' but no CUDA device is available: use 'auto' or 'cpu'")
    return torch.device(choice)
