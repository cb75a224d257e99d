"""The base class of autoregressive token generators: likelihood, sampling and relaxed sampling."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from structgen import ConfigError, Generator
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.relaxation import gumbel_noise, gumbel_softmax

from .domain import SequenceDomain
from .vocabulary import BOS_ID, EOS_ID, FIRST_ORDINARY_ID, PAD_ID


class SamplingParams(ComponentParams):
    """Default sampling settings shared by the autoregressive generators."""

    temperature: float = Field(
        1.0, gt=0, description="Softmax temperature of sample() and complete(); below 1 sharpens, above 1 flattens."
    )
    top_k: int | None = Field(
        None, ge=1, description="sample() keeps only the top_k most likely tokens at each step; None keeps all."
    )
    tau: float = Field(
        1.0, gt=0, description="Gumbel-softmax temperature of the relaxed one-hots that forward() returns."
    )


def require_sequence_domain(context: BuildContext, generator: str) -> SequenceDomain:
    """Return the context's domain, or raise :class:`ConfigError` when it is not a :class:`SequenceDomain`."""
    domain = context.require_domain()
    if not isinstance(domain, SequenceDomain):
        raise ConfigError(
            [
                (
                    "generator.name",
                    f"{generator} needs the sequences domain, got {domain.name}; use a text data set such as "
                    "text_file, or a generator made for that domain",
                )
            ]
        )
    return domain


def embed_tokens(inputs: torch.Tensor, embedding: nn.Embedding) -> torch.Tensor:
    """Embed token ids ``(n, ...)`` by lookup, or one-hots ``(n, ..., V)`` as ``inputs @ E``."""
    if inputs.is_floating_point():
        return inputs @ embedding.weight
    return embedding(inputs)


class AutoregressiveGenerator(Generator):
    """A left-to-right model ``p(x) = prod_t p(x_t | <bos>, x_<t)`` over the rows of a :class:`SequenceDomain`.

    A row contains the text's tokens, then one ``<eos>``, then ``<pad>``. A
    text of ``max_length`` tokens has no ``<eos>``. The likelihood of a row counts
    the positions up to and including its first ``<eos>``, so the
    probabilities of all valid rows sum to 1. The tokens that
    ``domain.validate`` rejects at a real position get probability 0:
    ``<pad>`` and ``<bos>`` always, and ``<eos>`` and ``<unk>`` in a
    ``fixed_length`` domain. Otherwise ``<unk>`` is a possible output,
    because the rows of a variable-length domain may contain it.

    Subclasses implement :meth:`initial_state`, :meth:`step` (one position,
    for sampling) and :meth:`sequence_logits` (all positions at once, for the
    likelihood). The latent code ``z`` of :meth:`forward` only sets the batch
    size, because the randomness comes from sampling each token.

    Attributes:
        domain: the sequence domain of the rows.
        vocab_size: number of token ids ``V``, special tokens included.
        max_length: positions per row ``L``.
        temperature: default softmax temperature of :meth:`sample` and :meth:`complete`.
        top_k: default number of most likely tokens that :meth:`sample` keeps, None for all.
        tau: default Gumbel-softmax temperature of :meth:`sample_relaxed`.
    """

    latent_dim = 1
    forbidden: torch.Tensor

    def __init__(
        self, domain: SequenceDomain, temperature: float = 1.0, top_k: int | None = None, tau: float = 1.0
    ) -> None:
        super().__init__()
        _check_sampling(temperature, top_k)
        if not tau > 0:
            raise ValueError(f"tau must be above 0, got {tau}")
        self.domain = domain
        self.vocab_size = domain.num_categories
        self.max_length = domain.max_length
        self.temperature = temperature
        self.top_k = top_k
        self.tau = tau
        forbidden = torch.zeros(self.vocab_size, dtype=torch.bool)
        forbidden[[PAD_ID, BOS_ID]] = True
        if domain.fixed_length:
            # A fixed_length domain's rows contain only ordinary tokens.
            forbidden[:FIRST_ORDINARY_ID] = True
        self.register_buffer("forbidden", forbidden, persistent=False)

    @abstractmethod
    def initial_state(self, n: int) -> Any:
        """Return the state before the first step, for a batch of ``n`` rows."""

    @abstractmethod
    def step(self, inputs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Advance one position.

        Args:
            inputs: the previous token, as ids ``(n,)`` int64 or as one-hots
                or relaxed one-hots ``(n, V)`` float. The first input is ``<bos>``.
            state: what :meth:`initial_state` or the previous step returned.

        Returns:
            Raw logits ``(n, V)`` of the next token, and the new state.
        """

    @abstractmethod
    def sequence_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Return teacher-forced raw logits ``(n, L, V)`` for rows ``x`` of shape ``(n, L)``.

        Position ``t`` predicts ``x[:, t]`` from ``<bos>, x[:, :t]``.
        """

    def constrain_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Set the logits ``(..., V)`` of tokens that rows never contain at a real position to ``-inf``."""
        return logits.masked_fill(self.forbidden, float("-inf"))

    def token_log_probs(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``log p(x_t | <bos>, x_<t)``, shape ``(n, L)``, at real positions and 0 after the first ``<eos>``.

        Real positions are those where ``domain.mask(x)`` is True: the tokens
        and the first ``<eos>``.
        """
        self._reject_condition(condition)
        log_probs = torch.log_softmax(self.constrain_logits(self.sequence_logits(x)), dim=-1)
        token = log_probs.gather(-1, x.unsqueeze(-1)).squeeze(-1)
        # where(), not a product, because <pad> positions hold -inf.
        return torch.where(self.domain.mask(x), token, torch.zeros_like(token))

    def log_prob(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Return the exact log-likelihood of each row of ``x``, shape ``(n,)``."""
        return self.token_log_probs(x, condition).sum(dim=1)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        condition: torch.Tensor | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` valid rows, shape ``(n, L)`` int64, with the given or the default sampling settings."""
        self._reject_condition(condition)
        prefix = torch.empty(n, 0, dtype=torch.long, device=self.device)
        return self.complete(prefix, temperature, top_k)

    @torch.no_grad()
    def complete(
        self, prefix: torch.Tensor, temperature: float | None = None, top_k: int | None = None
    ) -> torch.Tensor:
        """Continue rows whose first ``t = prefix.shape[1]`` positions are given, ``0 <= t <= L``.

        Rows whose prefix contains ``<eos>`` are already finished and get
        ``<pad>`` at every later position. Returns ``(n, L)`` int64 rows
        that start with ``prefix``.
        """
        temperature = self.temperature if temperature is None else temperature
        top_k = self.top_k if top_k is None else top_k
        _check_sampling(temperature, top_k)
        n, prefix_length = self._check_prefix(prefix)
        if prefix_length == self.max_length:
            return prefix.clone()

        # Read the prefix. The next step's logits predict position prefix_length.
        state = self.initial_state(n)
        inputs = torch.full((n,), BOS_ID, dtype=torch.long, device=prefix.device)
        for position in range(prefix_length):
            _, state = self.step(inputs, state)
            inputs = prefix[:, position]

        # Sample the remaining positions, with <pad> in finished rows.
        finished = (prefix == EOS_ID).any(dim=1)
        tokens = [prefix]
        for _ in range(prefix_length, self.max_length):
            logits, state = self.step(inputs, state)
            token = self._draw(logits, temperature, top_k)
            token = token.masked_fill(finished, PAD_ID)
            finished = finished | (token == EOS_ID)
            tokens.append(token.unsqueeze(1))
            inputs = token
        return torch.cat(tokens, dim=1)

    def sample_relaxed(self, n: int, tau: float | None = None) -> torch.Tensor:
        """Draw ``n`` rows as straight-through Gumbel-softmax one-hots, shape ``(n, L, V)`` float.

        Each one-hot is exact in the forward pass and carries the soft
        sample's gradient. It is fed back as the next input, so gradients
        flow through the whole row. After a row's first ``<eos>`` every
        position is the constant ``<pad>`` one-hot, without gradient.
        ``harden`` turns the result into valid rows.
        """
        tau = self.tau if tau is None else tau
        device = self.device
        pad = F.one_hot(torch.tensor(PAD_ID, device=device), self.vocab_size).float()
        inputs = F.one_hot(torch.full((n,), BOS_ID, device=device), self.vocab_size).float()
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        state = self.initial_state(n)

        outputs = []
        for _ in range(self.max_length):
            logits, state = self.step(inputs, state)
            relaxed = gumbel_softmax(self.constrain_logits(logits), tau=tau, hard=True)
            relaxed = torch.where(finished.unsqueeze(1), pad, relaxed)
            finished = finished | (relaxed.detach().argmax(dim=-1) == EOS_ID)
            outputs.append(relaxed)
            inputs = relaxed
        return torch.stack(outputs, dim=1)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Return :meth:`sample_relaxed` of ``len(z)`` rows, because ``z`` only sets the batch size."""
        self._reject_condition(condition)
        return self.sample_relaxed(len(z))

    def harden(self, output: torch.Tensor) -> torch.Tensor:
        """Turn one-hots ``(n, L, V)`` into token ids ``(n, L)`` by argmax."""
        return output.argmax(dim=-1)

    def _draw(self, logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
        """Sample token ids ``(n,)`` from raw logits ``(n, V)`` with the Gumbel-max trick."""
        logits = self.constrain_logits(logits)
        # Shifting the maximum to 0 keeps logits / temperature finite for a tiny temperature.
        logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
        if top_k is not None and top_k < self.vocab_size:
            kth_largest = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth_largest, float("-inf"))
        noise = gumbel_noise(logits.shape, device=logits.device, dtype=logits.dtype)
        return (logits + noise).argmax(dim=-1)

    def _check_prefix(self, prefix: torch.Tensor) -> tuple[int, int]:
        if prefix.dim() != 2 or prefix.dtype != torch.long:
            raise ValueError(
                f"prefix must be token ids of shape (n, t) and dtype int64, got shape {tuple(prefix.shape)} "
                f"and dtype {prefix.dtype}"
            )
        n, prefix_length = prefix.shape
        if prefix_length > self.max_length:
            raise ValueError(f"prefix has {prefix_length} positions, more than max_length {self.max_length}")
        return n, prefix_length

    def _reject_condition(self, condition: torch.Tensor | None) -> None:
        if condition is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional; pass condition=None or use a data set without labels"
            )


def _check_sampling(temperature: float, top_k: int | None) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0, got {temperature}; use top_k=1 for greedy decoding")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
