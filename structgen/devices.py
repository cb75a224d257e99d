"""Device selection: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` and ``mps``."""

from __future__ import annotations

import torch

from .errors import ConfigError


def module_device(module: torch.nn.Module) -> torch.device:
    """Return the device of the module's first parameter, or the CPU for a module without parameters."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


def resolve_device(name: str) -> torch.device:
    """Turn a configured device name into a ``torch.device`` that exists on this machine.

    ``auto`` picks the first CUDA device, then Apple's MPS, then the CPU.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError([("device", f"{name!r} requested but CUDA is not available; use cpu or auto")])
        index = device.index or 0
        if index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ConfigError([("device", f"{name!r} requested but only {count} CUDA device(s) exist")])
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError([("device", "'mps' requested but MPS is not available; use cpu or auto")])
    return device
