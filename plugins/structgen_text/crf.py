"""The ``linear_chain_crf`` discriminator: a linear-chain CRF over the token ids of a row."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from structgen import Capability, ConfigError, Discriminator
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.structured import constrain, log_likelihood, sequence_score

from .domain import SequenceDomain
from .vocabulary import EOS_ID, FIRST_ORDINARY_ID, PAD_ID


class LinearChainCRFParams(ComponentParams):
    """Settings of the ``linear_chain_crf`` discriminator."""

    conditional: bool = Field(
        False,
        description="Compute the unary scores from the condition row with a bidirectional GRU (for name_typos). "
        "False learns one table of unary scores per position.",
    )
    embedding_dim: int = Field(32, ge=1, description="Size of the token embeddings of the condition encoder.")
    hidden: int = Field(64, ge=1, description="Hidden units of the condition encoder's GRU in each direction.")


def layout_constraints(num_tags: int, fixed_length: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return the allowed transitions (tags, tags), first tags (tags,) and last tags (tags,) of a row.

    A row is ordinary tokens, then one <eos>, then <pad> up to the last
    position; a row of ``max_length`` tokens has no <eos>. So an ordinary
    token is followed by a token or <eos>, <eos> by <pad> and <pad> by <pad>.
    A row starts with a token or <eos> and may end after any of the three.
    With ``fixed_length`` a row contains ordinary tokens only. <bos> and <unk>
    never occur.
    """
    tags = torch.arange(num_tags)
    ordinary = tags >= FIRST_ORDINARY_ID
    is_eos = tags == EOS_ID
    is_pad = tags == PAD_ID
    if fixed_length:
        return ordinary.unsqueeze(1) & ordinary.unsqueeze(0), ordinary, ordinary

    transitions = (
        (ordinary.unsqueeze(1) & (ordinary | is_eos).unsqueeze(0))
        | (is_eos.unsqueeze(1) & is_pad.unsqueeze(0))
        | (is_pad.unsqueeze(1) & is_pad.unsqueeze(0))
    )
    return transitions, ordinary | is_eos, ordinary | is_eos | is_pad


class LinearChainCRF(Discriminator):
    """Linear-chain CRF (Lafferty, McCallum and Pereira, 2001) whose tags are the vocabulary's token ids.

    The chain covers all ``max_length`` positions of a row. The score of a row ``y`` is

        score(y) = start[y_0] + sum_t unary[t, y_t] + sum_t transitions[y_{t-1}, y_t] + end[y_{L-1}]

    and ``p(y | condition) = exp(score(y)) / Z``. The transitions, start and
    end scores are learned, with -inf wherever :func:`layout_constraints`
    forbids a tag, so every path with a finite score is a valid row of the
    domain. A row that uses <unk> or <bos>, or has another layout, scores -inf.
    The unary scores are a learned (max_length, tags) table, or, with
    ``conditional``, the output of a bidirectional GRU over the condition row
    of shape ``(n, max_length)``, mapped to one score per tag at each position.

    Scoring, the log-likelihood and :meth:`factors` cost
    O(n * max_length * tags^2) time, plus the GRU when conditional.
    """

    capabilities = frozenset({Capability.FACTORS})

    def __init__(
        self, domain: SequenceDomain, conditional: bool = False, embedding_dim: int = 32, hidden: int = 64
    ) -> None:
        super().__init__()
        self.max_length = domain.max_length
        self.num_tags = domain.num_categories
        self.is_conditional = conditional
        self.transitions = nn.Parameter(torch.zeros(self.num_tags, self.num_tags))
        self.start = nn.Parameter(torch.zeros(self.num_tags))
        self.end = nn.Parameter(torch.zeros(self.num_tags))

        allowed_transitions, allowed_start, allowed_end = layout_constraints(self.num_tags, domain.fixed_length)
        self.allowed_transitions: torch.Tensor
        self.allowed_start: torch.Tensor
        self.allowed_end: torch.Tensor
        # Derived from the domain, so they stay out of checkpoints.
        self.register_buffer("allowed_transitions", allowed_transitions, persistent=False)
        self.register_buffer("allowed_start", allowed_start, persistent=False)
        self.register_buffer("allowed_end", allowed_end, persistent=False)

        if conditional:
            self.embedding = nn.Embedding(self.num_tags, embedding_dim)
            self.encoder = nn.GRU(embedding_dim, hidden, batch_first=True, bidirectional=True)
            self.output = nn.Linear(2 * hidden, self.num_tags)
        else:
            self.position_scores = nn.Parameter(torch.zeros(self.max_length, self.num_tags))

    def transition_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the transitions (tags, tags), start and end scores (tags,), -inf where the layout forbids."""
        return (
            constrain(self.transitions, self.allowed_transitions),
            constrain(self.start, self.allowed_start),
            constrain(self.end, self.allowed_end),
        )

    def unary_scores(self, condition: torch.Tensor | None = None, n: int = 1) -> torch.Tensor:
        """Return the unary scores, shape ``(n, max_length, tags)``, or ``(len(condition), ...)`` when conditional."""
        self._check_condition(condition)
        if condition is None:
            return self.position_scores.expand(n, -1, -1)
        encoded, _ = self.encoder(self.embedding(condition))
        return self.output(encoded)

    def factors(
        self, x: torch.Tensor | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the unary scores (n, max_length, tags) and the transitions (tags, tags).

        ``n`` is ``len(x)``, else ``len(condition)``, else 1. The start and
        end scores are added to the unary scores of the first and the last
        position, which every row has, so the potentials a row selects sum
        to its score.
        """
        n = 1
        if x is not None:
            n = len(x)
            self._check_condition_rows(condition, n)
        unary = self.unary_scores(condition, n)
        transitions, start, end = self.transition_scores()
        boundary = torch.zeros_like(unary[0])
        boundary[0] = boundary[0] + start
        boundary[-1] = boundary[-1] + end
        return unary + boundary, transitions

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score rows ``x``, shape ``(n,)``. The energy is the negated score.

        ``x`` contains token ids of shape ``(n, max_length)``, or relaxed
        one-hot rows of shape ``(n, max_length, tags)`` from a GAN generator.
        A relaxed row gets the multilinear extension of the score, computed
        with the learned scores before the layout constraints are applied,
        because -inf times a probability of 0 is NaN. On one-hot rows of a
        valid layout both forms give the same score.
        """
        self._check_condition_rows(condition, len(x))
        unary = self.unary_scores(condition, len(x))
        if x.is_floating_point():
            return self._relaxed_score(x, unary)
        transitions, start, end = self.transition_scores()
        return sequence_score(unary, transitions, x, None, start, end)

    def log_likelihood(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``log p(x | condition)`` of token-id rows ``x`` (n, max_length), shape ``(n,)``, at most 0."""
        self._check_condition_rows(condition, len(x))
        unary = self.unary_scores(condition, len(x))
        transitions, start, end = self.transition_scores()
        return log_likelihood(unary, transitions, x, None, start, end)

    def _relaxed_score(self, x: torch.Tensor, unary: torch.Tensor) -> torch.Tensor:
        expected_shape = (self.max_length, self.num_tags)
        if x.dim() != 3 or tuple(x.shape[1:]) != expected_shape:
            raise ValueError(
                f"relaxed one-hot rows must have shape (n, {self.max_length}, {self.num_tags}), "
                f"got {tuple(x.shape)}; pass token ids of shape (n, {self.max_length}) or one-hot rows"
            )
        unary_part = (x * unary).sum(dim=(1, 2))
        pairwise_part = torch.einsum("nti,ij,ntj->n", x[:, :-1], self.transitions, x[:, 1:])
        return unary_part + pairwise_part + x[:, 0] @ self.start + x[:, -1] @ self.end

    def _check_condition(self, condition: torch.Tensor | None) -> None:
        if not self.is_conditional:
            if condition is not None:
                raise ValueError(
                    "this linear_chain_crf is unconditional but got a condition; set conditional: true "
                    "to score rows given their condition"
                )
            return
        if condition is None:
            raise ValueError("this linear_chain_crf is conditional and needs a condition row per object, got None")
        if condition.dim() != 2 or condition.shape[1] != self.max_length or condition.dtype != torch.long:
            raise ValueError(
                f"the condition must contain token ids of shape (n, {self.max_length}) and dtype int64, "
                f"got shape {tuple(condition.shape)} and dtype {condition.dtype}"
            )
        if condition.numel() and (condition.min() < 0 or condition.max() >= self.num_tags):
            raise ValueError(f"the condition contains token ids outside [0, {self.num_tags}), the vocabulary's size")

    def _check_condition_rows(self, condition: torch.Tensor | None, n: int) -> None:
        if condition is not None and len(condition) != n:
            raise ValueError(f"got {n} rows but {len(condition)} condition rows; give one condition row per row")


def build_linear_chain_crf(params: LinearChainCRFParams, context: BuildContext) -> LinearChainCRF:
    domain: Any = context.require_domain()
    if not isinstance(domain, SequenceDomain):
        raise ConfigError(
            [("discriminator.name", f"linear_chain_crf scores token sequences, but the domain is {domain.name!r}")]
        )
    return LinearChainCRF(domain, params.conditional, params.embedding_dim, params.hidden)
