"""The ``gru`` generator: a recurrent language model over token sequences."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from structgen.context import BuildContext

from .autoregressive import AutoregressiveGenerator, SamplingParams, embed_tokens, require_sequence_domain
from .domain import SequenceDomain
from .vocabulary import BOS_ID


class GRUParams(SamplingParams):
    """Settings of the ``gru`` generator."""

    embedding_dim: int = Field(32, ge=1, description="Size of each token embedding.")
    hidden: int = Field(32, ge=1, description="Size of the GRU's hidden state.")
    layers: int = Field(1, ge=1, description="Stacked GRU layers.")
    dropout: float = Field(
        0.0, ge=0, lt=1, description="Dropout probability between GRU layers and before the output layer."
    )


class GRUGenerator(AutoregressiveGenerator):
    """Embedding, a stacked GRU (Cho et al., 2014) from a zero state, and a linear layer to the next token's logits.

    The default sizes (embedding and hidden state of 32) are those of the
    SeqGAN generator (Yu et al., 2017). :meth:`sequence_logits` runs the GRU
    over all ``L`` positions in one call, which uses cuDNN on CUDA.
    """

    def __init__(
        self,
        domain: SequenceDomain,
        embedding_dim: int = 32,
        hidden: int = 32,
        layers: int = 1,
        dropout: float = 0.0,
        temperature: float = 1.0,
        top_k: int | None = None,
        tau: float = 1.0,
    ) -> None:
        super().__init__(domain, temperature, top_k, tau)
        self.layers = layers
        self.hidden = hidden
        self.embedding = nn.Embedding(self.vocab_size, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, self.vocab_size)

    def initial_state(self, n: int) -> torch.Tensor:
        """Return the zero hidden state, shape ``(layers, n, hidden)``."""
        return torch.zeros(self.layers, n, self.hidden, device=self.device)

    def step(self, inputs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = embed_tokens(inputs, self.embedding).unsqueeze(1)
        outputs, state = self.gru(embedded, state)
        return self.output(self.dropout(outputs[:, 0])), state

    def sequence_logits(self, x: torch.Tensor) -> torch.Tensor:
        bos = torch.full_like(x[:, :1], BOS_ID)
        inputs = torch.cat([bos, x[:, :-1]], dim=1)
        outputs, _ = self.gru(embed_tokens(inputs, self.embedding), self.initial_state(len(x)))
        return self.output(self.dropout(outputs))


def build_gru(params: GRUParams, context: BuildContext) -> GRUGenerator:
    domain = require_sequence_domain(context, "gru")
    return GRUGenerator(
        domain,
        embedding_dim=params.embedding_dim,
        hidden=params.hidden,
        layers=params.layers,
        dropout=params.dropout,
        temperature=params.temperature,
        top_k=params.top_k,
        tau=params.tau,
    )
