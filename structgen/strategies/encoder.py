"""The MLP encoder of the VAE and autoencoder strategies."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPEncoder(nn.Module):
    """Flattens an object and maps it to ``out_features`` numbers.

    The VAE uses ``2 * latent_dim`` outputs (mean and log-variance), the
    autoencoder ``latent_dim``.
    """

    def __init__(self, event_shape: tuple[int, ...], out_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        width = math.prod(event_shape)
        blocks: list[nn.Module] = [nn.Flatten()]
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``x`` of shape ``(n, *event_shape)`` to ``(n, out_features)``."""
        return self.net(x)
