"""The ``cnn_text`` discriminator: a convolutional text classifier that scores token sequences."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from structgen import ConfigError, DataError, Discriminator
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import SequenceDomain
from .vocabulary import PAD_ID


class CNNTextParams(ComponentParams):
    """Settings of the ``cnn_text`` discriminator.

    The defaults are smaller than the discriminator of SeqGAN's reference
    code (widths 1 to 10, 15 and 20 with 100 to 200 filters each) to keep
    adversarial text training cheap on a CPU.
    """

    embedding_dim: int = Field(64, ge=1, description="Dimension of the token embedding (SeqGAN: 64).")
    widths: list[int] = Field(
        default_factory=lambda: [2, 3, 4, 5],
        min_length=1,
        description="Convolution widths in tokens, one bank of filters per width; smaller than SeqGAN's "
        "1-10, 15 and 20, for CPU training.",
    )
    filters: int = Field(64, ge=1, description="Filters per width; smaller than SeqGAN's 100-200, for CPU training.")
    dropout: float = Field(0.25, ge=0, lt=1, description="Dropout probability before the output layer.")
    highway: bool = Field(True, description="Apply one highway layer to the pooled features.")
    spectral_norm: bool = Field(False, description="Spectral normalisation of the convolutions and linear layers.")

    @field_validator("widths")
    @classmethod
    def _check_widths(cls, widths: list[int]) -> list[int]:
        small = [width for width in widths if width < 1]
        if small:
            raise ValueError(f"every convolution width must be at least 1, got {small}")
        return widths


class Highway(nn.Module):
    """One highway layer (Srivastava et al., 2015): ``g * relu(W h) + (1 - g) * h`` with gate ``g = sigmoid(W_g h)``."""

    def __init__(self, size: int, wrap: Callable[[nn.Module], nn.Module]) -> None:
        super().__init__()
        self.transform = wrap(nn.Linear(size, size))
        self.gate = wrap(nn.Linear(size, size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(features))
        return gate * F.relu(self.transform(features)) + (1 - gate) * features


class CNNTextDiscriminator(Discriminator):
    """Convolutional text classifier (Kim, 2014), the discriminator of SeqGAN (Yu et al., 2017).

    ``x -> embedding (n, L, E) -> per width w: Conv1d(E, filters, w), ReLU, max over time
    -> concatenate (n, filters * len(widths)) -> highway -> dropout -> Linear -> score (n,)``.

    ``x`` is either token ids of shape ``(n, L)`` (int64) or one-hot and
    relaxed one-hot rows of shape ``(n, L, V)`` (float), embedded as
    ``x @ E``. An exact one-hot row scores the same as its ids, and a relaxed
    row passes gradients back to its producer (a Gumbel-softmax generator).
    ``<pad>`` embeds as the zero vector in both forms. A row shorter than the
    widest filter is padded with zero vectors on the right so every filter
    fits.

    The score is the logit of the probability that the row is real.
    ``capabilities`` is empty because token ids have no input gradient, so
    gradient-based searches over objects do not apply.

    Cost: one embedding lookup or ``(n L V) x (V E)`` product, then
    ``O(n L E filters * sum(widths))`` for the convolutions.
    """

    capabilities = frozenset()
    keep_rows: torch.Tensor

    def __init__(self, vocab_size: int, params: CNNTextParams) -> None:
        super().__init__()
        wrap: Callable[[nn.Module], nn.Module] = spectral_norm if params.spectral_norm else _identity
        self.vocab_size = vocab_size
        self.min_length = max(params.widths)
        self.embedding = nn.Embedding(vocab_size, params.embedding_dim, padding_idx=PAD_ID)
        # Zeroes the <pad> row of the embedding matrix for one-hot input, so that row gets no gradient either.
        keep = torch.ones(vocab_size, 1)
        keep[PAD_ID] = 0
        self.register_buffer("keep_rows", keep, persistent=False)
        self.convolutions = nn.ModuleList(
            wrap(nn.Conv1d(params.embedding_dim, params.filters, width)) for width in params.widths
        )
        features = params.filters * len(params.widths)
        self.highway = Highway(features, wrap) if params.highway else nn.Identity()
        self.dropout = nn.Dropout(params.dropout)
        self.head = wrap(nn.Linear(features, 1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ids ``(n, L)`` or (relaxed) one-hots ``(n, L, V)`` into ``(n, L, embedding_dim)``."""
        if x.dim() == 2 and not x.is_floating_point():
            return self.embedding(x)
        if x.dim() == 3 and x.is_floating_point() and x.shape[2] == self.vocab_size:
            return x @ (self.embedding.weight * self.keep_rows)
        raise DataError(
            f"cnn_text expected token ids of shape (n, L) and an integer dtype, or one-hot rows of shape "
            f"(n, L, {self.vocab_size}) and a float dtype; got shape {tuple(x.shape)} and dtype {x.dtype}"
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            raise ValueError("the cnn_text discriminator is not conditional; remove the condition")
        embedded = self.embed(x).transpose(1, 2)
        shortfall = self.min_length - embedded.shape[2]
        if shortfall > 0:
            embedded = F.pad(embedded, (0, shortfall))

        pooled = [F.relu(convolution(embedded)).amax(dim=2) for convolution in self.convolutions]
        features = self.highway(torch.cat(pooled, dim=1))
        return self.head(self.dropout(features)).squeeze(1)


def _identity(layer: nn.Module) -> nn.Module:
    return layer


def build_cnn_text(params: CNNTextParams, context: BuildContext) -> CNNTextDiscriminator:
    domain = context.require_domain()
    if not isinstance(domain, SequenceDomain):
        raise ConfigError(
            [
                (
                    "discriminator.name",
                    f"cnn_text needs the sequences domain, got {domain.name}; choose a discriminator "
                    f"made for {domain.name}",
                )
            ]
        )
    return CNNTextDiscriminator(domain.num_categories, params)
