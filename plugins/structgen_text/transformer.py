"""The ``transformer`` generator: a decoder-only transformer language model over token sequences."""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import nn

from structgen.context import BuildContext

from .autoregressive import AutoregressiveGenerator, SamplingParams, embed_tokens, require_sequence_domain
from .domain import SequenceDomain
from .vocabulary import BOS_ID


class TransformerParams(SamplingParams):
    """Settings of the ``transformer`` generator."""

    d_model: int = Field(64, ge=1, description="Width of token and position embeddings and of every layer.")
    heads: int = Field(4, ge=1, description="Attention heads per layer, a divisor of d_model.")
    layers: int = Field(2, ge=1, description="Transformer layers.")
    feedforward: int = Field(128, ge=1, description="Hidden width of each layer's feed-forward block.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout probability inside every layer.")

    @model_validator(mode="after")
    def _check_heads(self) -> TransformerParams:
        if self.d_model % self.heads:
            raise ValueError(
                f"d_model {self.d_model} is not divisible by heads {self.heads}; choose heads that divide d_model"
            )
        return self


class TransformerGenerator(AutoregressiveGenerator):
    """Token plus learned position embeddings, causal self-attention layers, and a linear layer to logits.

    The layers are pre-norm: layer normalisation comes before attention and
    before the feed-forward block, and once more before the output layer.
    :meth:`sequence_logits` computes all ``L`` positions in parallel under a
    causal mask. A :meth:`step` state is the input embeddings so far,
    ``(n, t, d_model)``, and each step runs the layers over that whole
    prefix without a key-value cache. Attention then costs ``O(t^2)`` per
    step and ``O(L^3)`` per sampled row.
    """

    def __init__(
        self,
        domain: SequenceDomain,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        feedforward: int = 128,
        dropout: float = 0.1,
        temperature: float = 1.0,
        top_k: int | None = None,
        tau: float = 1.0,
    ) -> None:
        super().__init__(domain, temperature, top_k, tau)
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}; choose heads that divide d_model")
        self.d_model = d_model
        self.embedding = nn.Embedding(self.vocab_size, d_model)
        self.positions = nn.Embedding(self.max_length, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, self.vocab_size)

    def initial_state(self, n: int) -> torch.Tensor:
        """Return the empty prefix of input embeddings, shape ``(n, 0, d_model)``."""
        return torch.zeros(n, 0, self.d_model, device=self.device)

    def step(self, inputs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        position = state.shape[1]
        if position >= self.max_length:
            raise ValueError(
                f"step received input {position + 1} of a row of max_length {self.max_length}; "
                "start each row from initial_state()"
            )
        embedded = embed_tokens(inputs, self.embedding) + self.positions.weight[position]
        prefix = torch.cat([state, embedded.unsqueeze(1)], dim=1)
        return self._logits(prefix)[:, -1], prefix

    def sequence_logits(self, x: torch.Tensor) -> torch.Tensor:
        bos = torch.full_like(x[:, :1], BOS_ID)
        inputs = torch.cat([bos, x[:, :-1]], dim=1)
        return self._logits(embed_tokens(inputs, self.embedding) + self.positions.weight)

    def _logits(self, embedded: torch.Tensor) -> torch.Tensor:
        """Map input embeddings ``(n, t, d_model)`` through the causal layers to logits ``(n, t, V)``."""
        length = embedded.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=embedded.device, dtype=embedded.dtype)
        hidden = self.layers(embedded, mask=mask, is_causal=True)
        return self.output(self.norm(hidden))


def build_transformer(params: TransformerParams, context: BuildContext) -> TransformerGenerator:
    domain = require_sequence_domain(context, "transformer")
    return TransformerGenerator(
        domain,
        d_model=params.d_model,
        heads=params.heads,
        layers=params.layers,
        feedforward=params.feedforward,
        dropout=params.dropout,
        temperature=params.temperature,
        top_k=params.top_k,
        tau=params.tau,
    )
