"""The encoders of the VAE and autoencoder strategies: an MLP for any shape, strided convolutions for images."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ..errors import ConfigError

EncoderKind = Literal["mlp", "conv"]

# The convolutional trunk stops halving once the smaller side is at most this long.
MIN_MAP_SIDE = 4


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


def conv_stages(height: int, width: int) -> int:
    """Count the stride-2 convolutions of :class:`ConvEncoder`.

    Both sides halve while both are even and the smaller one is above ``MIN_MAP_SIDE``.
    """
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > MIN_MAP_SIDE:
        height //= 2
        width //= 2
        stages += 1
    return stages


class ConvEncoder(nn.Module):
    """Maps images of shape ``(n, C, H, W)`` to ``(n, out_features)`` through strided convolutions.

    ``k x [Conv 4x4 stride 2, LeakyReLU(0.2)] -> flatten -> Linear``, the
    trunk of a DCGAN discriminator. The first stage has ``channels`` feature
    maps and each later one twice as many, up to ``max_channels``. The ``k``
    stages halve both sides down to at most ``MIN_MAP_SIDE``: 3 stages for
    32x32, 2 for 28x28 and 1 for 8x8.
    """

    def __init__(self, event_shape: tuple[int, ...], out_features: int, channels: int, max_channels: int = 512) -> None:
        super().__init__()
        image_channels, height, width = check_image_shape(event_shape)
        stages = conv_stages(height, width)
        blocks: list[nn.Module] = []
        width_in = image_channels
        for stage in range(stages):
            width_out = min(channels * 2**stage, max_channels)
            blocks += [nn.Conv2d(width_in, width_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width_in = width_out
        blocks += [nn.Flatten(), nn.Linear(width_in * (height >> stages) * (width >> stages), out_features)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``x`` of shape ``(n, C, H, W)`` to ``(n, out_features)``."""
        return self.net(x)


def check_image_shape(event_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return ``event_shape`` as ``(C, H, W)``, or raise ConfigError when the conv encoder cannot take it."""
    if len(event_shape) != 3:
        raise ConfigError(
            [
                (
                    "strategy.encoder",
                    f"the conv encoder needs images of shape (C, H, W), but the domain's objects have shape "
                    f"{tuple(event_shape)}. Use encoder: mlp.",
                )
            ]
        )
    channels, height, width = event_shape
    if conv_stages(height, width) == 0:
        raise ConfigError(
            [
                (
                    "strategy.encoder",
                    f"the conv encoder needs image sides that are both even and above {MIN_MAP_SIDE}, but the "
                    f"images are {height}x{width}. Use encoder: mlp.",
                )
            ]
        )
    return channels, height, width


def build_encoder(
    kind: EncoderKind, event_shape: tuple[int, ...], out_features: int, hidden: int, layers: int, channels: int
) -> nn.Module:
    """Build the ``mlp`` encoder (``hidden``, ``layers``) or the ``conv`` encoder (``channels``)."""
    if kind == "conv":
        return ConvEncoder(event_shape, out_features, channels)
    return MLPEncoder(event_shape, out_features, hidden, layers)
