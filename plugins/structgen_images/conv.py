"""Small convolutional generator and discriminator (DCGAN-style) for square-ish images."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from structgen import ConfigError, Discriminator, Generator
from structgen.config import ComponentParams
from structgen.context import BuildContext


def upsampling_stages(height: int, width: int, max_stages: int = 3) -> int:
    """Number of 2x stages between a small seed map and the image: both sides must halve evenly."""
    stages = 0
    while stages < max_stages and height % 2 == 0 and width % 2 == 0 and min(height, width) > 2:
        height //= 2
        width //= 2
        stages += 1
    return stages


def _image_shape(context: BuildContext, section: str) -> tuple[int, int, int]:
    domain = context.require_domain()
    shape = domain.event_shape
    if domain.is_discrete or len(shape) != 3:
        raise ConfigError([(f"{section}.name", f"conv needs images of shape (C, H, W), got objects of shape {shape}")])
    if upsampling_stages(shape[1], shape[2]) == 0:
        raise ConfigError([(f"{section}.name", f"conv needs even image sides above 2, got {shape[1]}x{shape[2]}")])
    return shape  # type: ignore[return-value]


class ConvGeneratorParams(ComponentParams):
    """Settings of the ``conv`` generator."""

    latent_dim: int = Field(32, ge=1, description="Dimension of the latent code z ~ N(0, I).")
    channels: int = Field(64, ge=1, description="Feature maps of the first (smallest) stage; halved at each 2x stage.")
    batch_norm: bool = Field(True, description="Batch normalisation after each transposed convolution.")


class ConvGenerator(Generator):
    """``z -> Linear -> (channels, H/2^k, W/2^k) -> k x [ConvTranspose 4x4 stride 2, BN, ReLU] -> 3x3 conv -> tanh``."""

    def __init__(self, shape: tuple[int, int, int], params: ConvGeneratorParams) -> None:
        super().__init__()
        self.latent_dim = params.latent_dim
        image_channels, height, width = shape
        stages = upsampling_stages(height, width)
        self.seed_shape = (params.channels, height >> stages, width >> stages)
        self.project = nn.Sequential(
            nn.Linear(params.latent_dim, params.channels * self.seed_shape[1] * self.seed_shape[2]), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        channels = params.channels
        for _ in range(stages):
            out = max(channels // 2, 8)
            blocks.append(nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1, bias=not params.batch_norm))
            if params.batch_norm:
                blocks.append(nn.BatchNorm2d(out))
            blocks.append(nn.ReLU())
            channels = out
        blocks += [nn.Conv2d(channels, image_channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            raise ValueError("the conv generator is not conditional")
        return self.net(self.project(z).view(-1, *self.seed_shape))


class ConvDiscriminatorParams(ComponentParams):
    """Settings of the ``conv`` discriminator."""

    channels: int = Field(32, ge=1, description="Feature maps of the first stage; doubled at each 2x stage.")
    spectral_norm: bool = Field(False, description="Spectral normalisation of every layer.")


class ConvDiscriminator(Discriminator):
    """``x -> k x [Conv 4x4 stride 2, LeakyReLU(0.2)] -> flatten -> Linear -> score``."""

    def __init__(self, shape: tuple[int, int, int], params: ConvDiscriminatorParams) -> None:
        super().__init__()
        wrap = spectral_norm if params.spectral_norm else (lambda layer: layer)
        image_channels, height, width = shape
        stages = upsampling_stages(height, width)
        blocks: list[nn.Module] = []
        channels_in, channels = image_channels, params.channels
        for _ in range(stages):
            blocks += [wrap(nn.Conv2d(channels_in, channels, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            channels_in, channels = channels, channels * 2
        blocks.append(nn.Flatten())
        self.features = nn.Sequential(*blocks)
        self.head = wrap(nn.Linear(channels_in * (height >> stages) * (width >> stages), 1))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            raise ValueError("the conv discriminator is not conditional")
        return self.head(self.features(x)).squeeze(1)


def build_conv_generator(params: ConvGeneratorParams, context: BuildContext) -> ConvGenerator:
    return ConvGenerator(_image_shape(context, "generator"), params)


def build_conv_discriminator(params: ConvDiscriminatorParams, context: BuildContext) -> ConvDiscriminator:
    return ConvDiscriminator(_image_shape(context, "discriminator"), params)
