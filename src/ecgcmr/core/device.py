"""The configured compute device."""

from __future__ import annotations

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """A configured device: ``auto`` is the GPU if there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
