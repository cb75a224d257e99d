"""MLP generator and discriminator for any continuous domain (objects are flattened)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from structgen import ConfigError, Discriminator, Generator
from structgen.config import ComponentParams
from structgen.context import BuildContext

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "silu": lambda: nn.SiLU(),
    "softplus": lambda: nn.Softplus(),
    "tanh": lambda: nn.Tanh(),
}
Activation = Literal["relu", "leaky_relu", "silu", "softplus", "tanh"]


class MLPGeneratorParams(ComponentParams):
    """Settings of the ``mlp`` generator."""

    latent_dim: int = Field(16, ge=1, description="Dimension of the latent code z ~ N(0, I).")
    hidden: int = Field(256, ge=1, description="Width of each hidden layer.")
    layers: int = Field(3, ge=1, description="Number of hidden layers.")
    activation: Activation = Field("relu", description="Hidden activation.")
    batch_norm: bool = Field(False, description="Batch normalisation after each hidden linear layer.")
    output: Literal["auto", "linear", "tanh"] = Field(
        "auto",
        description="Output layer: `tanh` for data in [-1, 1]; `auto` picks tanh when the domain's bounds are [-1, 1].",
    )
    conditional: bool = Field(False, description="Take a class label; its embedding is concatenated to z.")
    output_scale: float = Field(
        1.0, gt=0, description="Fixed factor on the output, for data spread wider than a unit-scale network's output."
    )


class MLPGenerator(Generator):
    """``z -> [Linear, (BatchNorm), activation] x layers -> Linear (-> tanh) -> * output_scale``, reshaped.

    A conditional generator concatenates a learned embedding of the class
    label to ``z``.
    """

    def __init__(
        self, event_shape: tuple[int, ...], params: MLPGeneratorParams, num_classes: int | None, tanh: bool
    ) -> None:
        super().__init__()
        self.latent_dim = params.latent_dim
        self.event_shape = tuple(event_shape)
        self.embedding = nn.Embedding(num_classes, params.latent_dim) if num_classes else None
        width = params.latent_dim * (2 if self.embedding is not None else 1)
        blocks: list[nn.Module] = []
        for _ in range(params.layers):
            blocks.append(nn.Linear(width, params.hidden))
            if params.batch_norm:
                blocks.append(nn.BatchNorm1d(params.hidden))
            blocks.append(ACTIVATIONS[params.activation]())
            width = params.hidden
        blocks.append(nn.Linear(width, math.prod(event_shape)))
        if tanh:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)
        self.output_scale = params.output_scale

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.embedding is not None:
            if condition is None:
                raise ValueError("this generator is conditional; pass class labels as condition")
            z = torch.cat([z, self.embedding(condition)], dim=1)
        elif condition is not None:
            raise ValueError("this generator is not conditional; set conditional: true to use labels")
        out = self.net(z)
        if self.output_scale != 1.0:
            out = out * self.output_scale
        return out.view(-1, *self.event_shape)


class MLPDiscriminatorParams(ComponentParams):
    """Settings of the ``mlp`` discriminator."""

    hidden: int = Field(256, ge=1, description="Width of each hidden layer.")
    layers: int = Field(3, ge=1, description="Number of hidden layers.")
    activation: Activation = Field(
        "leaky_relu", description="Hidden activation; smooth ones (silu, softplus) give Langevin smoother gradients."
    )
    spectral_norm: bool = Field(False, description="Spectral normalisation of every linear layer.")
    conditional: bool = Field(False, description="Projection discriminator: add <embed(y), h(x)> to the score.")
    input_scale: float = Field(
        1.0,
        gt=0,
        description="Inputs are multiplied by this before the first layer; values above 1 let a small network "
        "resolve modes narrower than its default length scale.",
    )


class MLPDiscriminator(Discriminator):
    """``x -> flatten -> [Linear, activation] x layers -> Linear -> score``.

    A conditional discriminator adds the projection term ``<embed(y), h(x)>``
    of Miyato and Koyama (2018) to the score, ``h`` being the last hidden layer.
    """

    def __init__(self, event_shape: tuple[int, ...], params: MLPDiscriminatorParams, num_classes: int | None) -> None:
        super().__init__()
        wrap = spectral_norm if params.spectral_norm else (lambda layer: layer)
        width = math.prod(event_shape)
        blocks: list[nn.Module] = [nn.Flatten()]
        for _ in range(params.layers):
            blocks += [wrap(nn.Linear(width, params.hidden)), ACTIVATIONS[params.activation]()]
            width = params.hidden
        self.features = nn.Sequential(*blocks)
        self.head = wrap(nn.Linear(width, 1))
        self.embedding = nn.Embedding(num_classes, width) if num_classes else None
        self.input_scale = params.input_scale

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x * self.input_scale if self.input_scale != 1.0 else x)
        score = self.head(h).squeeze(1)
        if self.embedding is not None:
            if condition is None:
                raise ValueError("this discriminator is conditional; pass class labels as condition")
            score = score + (self.embedding(condition) * h).sum(dim=1)
        return score


def _num_classes(conditional: bool, context: BuildContext, section: str) -> int | None:
    if not conditional:
        return None
    if not context.num_classes:
        raise ConfigError([(f"{section}.conditional", "the data set has no class labels to condition on")])
    return context.num_classes


def _continuous_shape(context: BuildContext, section: str) -> tuple[int, ...]:
    domain = context.require_domain()
    if domain.is_discrete:
        raise ConfigError(
            [(f"{section}.name", "mlp works on continuous domains; for token sequences use gru or transformer")]
        )
    return domain.event_shape


def build_mlp_generator(params: MLPGeneratorParams, context: BuildContext) -> MLPGenerator:
    shape = _continuous_shape(context, "generator")
    tanh = params.output == "tanh" or (params.output == "auto" and context.require_domain().bounds == (-1.0, 1.0))
    return MLPGenerator(shape, params, _num_classes(params.conditional, context, "generator"), tanh)


def build_mlp_discriminator(params: MLPDiscriminatorParams, context: BuildContext) -> MLPDiscriminator:
    shape = _continuous_shape(context, "discriminator")
    return MLPDiscriminator(shape, params, _num_classes(params.conditional, context, "discriminator"))
