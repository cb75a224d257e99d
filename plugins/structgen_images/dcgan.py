"""The ``dcgan`` generator and discriminator (Radford et al., 2016), with class-conditional variants.

Both networks take images of shape ``(C, H, W)`` whose sides are both even and
above 4: 28x28 (seed 7x7), 32x32 (seed 4x4), 8x8 (seed 4x4) and 64x64 (seed
4x4) all work. When the data set is conditional (``context.num_classes``
is set), the generator concatenates a learned label embedding to ``z`` and the
discriminator is a projection discriminator (Miyato and Koyama, 2018).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from structgen import ConfigError, Discriminator, Generator
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.strategies.encoder import MIN_MAP_SIDE, conv_stages


def stage_channels(channels: int, max_channels: int, stages: int) -> list[int]:
    """Return the feature maps of each stage, from the largest map to the smallest.

    The largest map has ``channels`` feature maps, and each 2x smaller map has
    twice as many, up to ``max_channels``. The list has ``stages + 1`` entries.
    """
    return [min(channels * 2**stage, max_channels) for stage in range(stages + 1)]


def image_shape(context: BuildContext, section: str) -> tuple[int, int, int]:
    """Return the domain's ``(C, H, W)``, or raise ConfigError when dcgan cannot take it."""
    domain = context.require_domain()
    shape = domain.event_shape
    if domain.is_discrete or len(shape) != 3:
        raise ConfigError(
            [
                (
                    f"{section}.name",
                    f"dcgan needs images of shape (C, H, W), but the domain's objects have shape {shape}. "
                    "Use mlp for vectors or a sequence network for text.",
                )
            ]
        )
    channels, height, width = shape
    if conv_stages(height, width) == 0:
        raise ConfigError(
            [
                (
                    f"{section}.name",
                    f"dcgan needs image sides that are both even and above {MIN_MAP_SIDE}, but the images are "
                    f"{height}x{width}. Use mlp for other sizes.",
                )
            ]
        )
    return channels, height, width


def check_condition(condition: torch.Tensor | None, embedding: nn.Module | None, network: str) -> None:
    """Raise ValueError when a condition is missing for a conditional network or given to an unconditional one."""
    if embedding is not None and condition is None:
        raise ValueError(
            f"this dcgan {network} is conditional because its data set is. Pass class labels of shape (n,) "
            "as condition."
        )
    if embedding is None and condition is not None:
        raise ValueError(
            f"this dcgan {network} is not conditional, so it takes no condition. Build it on a conditional data set "
            "to use labels."
        )


class DCGANGeneratorParams(ComponentParams):
    """Settings of the ``dcgan`` generator."""

    latent_dim: int = Field(64, ge=1, description="Dimension of the latent code z ~ N(0, I). DCGAN used 100.")
    channels: int = Field(
        64,
        ge=1,
        description="Feature maps of the last (full-size) stage, doubled at each 2x smaller stage up to max_channels. "
        "64 suits a CPU. The 64x64 DCGAN of Radford et al. (2016) had 1024 feature maps at its 4x4 seed and 128 "
        "at 32x32.",
    )
    max_channels: int = Field(512, ge=1, description="Largest number of feature maps of any stage.")
    batch_norm: bool = Field(True, description="Batch normalisation of the seed map and of each upsampled map.")
    label_embedding_dim: int = Field(
        32, ge=1, description="Size of the learned label embedding concatenated to z. Used only on conditional data."
    )


class DCGANGenerator(Generator):
    """DCGAN generator: project ``z`` to a seed map, upsample it, and map it to the image channels.

    ``[z, embed(y)] -> Linear -> (c_0, H/2^k, W/2^k) -> BN -> ReLU -> k x [ConvTranspose 4x4 stride 2, BN, ReLU]
    -> Conv 3x3 -> tanh``. The label embedding is present only when ``num_classes`` is given. Output shape
    ``(n, C, H, W)`` with values in (-1, 1). Weights keep PyTorch's default initialisation, not the N(0, 0.02)
    of Radford et al. (2016).
    """

    def __init__(self, shape: tuple[int, int, int], params: DCGANGeneratorParams, num_classes: int | None) -> None:
        super().__init__()
        self.latent_dim = params.latent_dim
        image_channels, height, width = shape
        stages = conv_stages(height, width)
        widths = stage_channels(params.channels, params.max_channels, stages)[::-1]
        self.seed_shape = (widths[0], height >> stages, width >> stages)
        bias = not params.batch_norm

        self.embedding = nn.Embedding(num_classes, params.label_embedding_dim) if num_classes else None
        inputs = params.latent_dim + (params.label_embedding_dim if self.embedding is not None else 0)
        self.project = nn.Linear(inputs, widths[0] * self.seed_shape[1] * self.seed_shape[2], bias=bias)

        blocks: list[nn.Module] = []
        if params.batch_norm:
            blocks.append(nn.BatchNorm2d(widths[0]))
        blocks.append(nn.ReLU())
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            blocks.append(nn.ConvTranspose2d(width_in, width_out, 4, stride=2, padding=1, bias=bias))
            if params.batch_norm:
                blocks.append(nn.BatchNorm2d(width_out))
            blocks.append(nn.ReLU())
        blocks += [nn.Conv2d(widths[-1], image_channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``z`` of shape ``(n, latent_dim)`` and labels of shape ``(n,)`` into images ``(n, C, H, W)``."""
        check_condition(condition, self.embedding, "generator")
        if self.embedding is not None:
            z = torch.cat([z, self.embedding(condition)], dim=1)
        return self.net(self.project(z).view(-1, *self.seed_shape))


class DCGANDiscriminatorParams(ComponentParams):
    """Settings of the ``dcgan`` discriminator."""

    channels: int = Field(
        64, ge=1, description="Feature maps of the first stage, doubled at each 2x smaller stage up to max_channels."
    )
    max_channels: int = Field(512, ge=1, description="Largest number of feature maps of any stage.")
    spectral_norm: bool = Field(
        False,
        description="Spectral normalisation of every layer: convolutions, the score layer and the label embedding.",
    )
    batch_norm: bool = Field(
        False,
        description="Batch normalisation after every convolution but the first, as in DCGAN. Leave it off with "
        "wasserstein_gp and r1_gamma: their penalties need per-object input gradients, and batch "
        "normalisation makes each score depend on the whole batch.",
    )


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator, a projection discriminator on conditional data.

    ``phi(x) = flatten(k x [Conv 4x4 stride 2, (BN), LeakyReLU(0.2)](x))`` and
    ``score = psi(phi(x)) + <embed(y), phi(x)>``, where ``psi`` is a linear
    layer and the projection term (Miyato and Koyama, 2018) is present only when
    ``num_classes`` is given. Returns scores of shape ``(n,)``.
    """

    def __init__(self, shape: tuple[int, int, int], params: DCGANDiscriminatorParams, num_classes: int | None) -> None:
        super().__init__()
        wrap = spectral_norm if params.spectral_norm else (lambda layer: layer)
        image_channels, height, width = shape
        stages = conv_stages(height, width)
        widths = [image_channels] + stage_channels(params.channels, params.max_channels, stages - 1)

        blocks: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            normalise = params.batch_norm and index > 0
            blocks.append(wrap(nn.Conv2d(width_in, width_out, 4, stride=2, padding=1, bias=not normalise)))
            if normalise:
                blocks.append(nn.BatchNorm2d(width_out))
            blocks.append(nn.LeakyReLU(0.2))
        blocks.append(nn.Flatten())
        self.features = nn.Sequential(*blocks)

        feature_dim = widths[-1] * (height >> stages) * (width >> stages)
        self.head = wrap(nn.Linear(feature_dim, 1))
        self.embedding = wrap(nn.Embedding(num_classes, feature_dim)) if num_classes else None

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score images ``x`` of shape ``(n, C, H, W)`` given labels of shape ``(n,)``; returns shape ``(n,)``."""
        check_condition(condition, self.embedding, "discriminator")
        phi = self.features(x)
        score = self.head(phi).squeeze(1)
        if self.embedding is not None:
            score = score + (self.embedding(condition) * phi).sum(dim=1)
        return score


def build_dcgan_generator(params: DCGANGeneratorParams, context: BuildContext) -> DCGANGenerator:
    return DCGANGenerator(image_shape(context, "generator"), params, context.num_classes)


def build_dcgan_discriminator(params: DCGANDiscriminatorParams, context: BuildContext) -> DCGANDiscriminator:
    return DCGANDiscriminator(image_shape(context, "discriminator"), params, context.num_classes)
