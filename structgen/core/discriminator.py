"""The :class:`Discriminator` interface: top-down scorer of whole objects."""

from __future__ import annotations

from abc import abstractmethod
from enum import Enum

import torch
from torch import nn


class Capability(str, Enum):
    """Optional abilities of a scorer that some inference algorithms need."""

    INPUT_GRADIENT = "input_gradient"
    """The score is differentiable with respect to a continuous input ``x``."""

    FACTORS = "factors"
    """The score decomposes into unary and pairwise potentials (:meth:`Discriminator.factors`)."""

    CONDITIONALS = "conditionals"
    """The scorer gives the distribution of one block of parts given the rest
    (:meth:`Discriminator.conditional`), as an RBM does."""


class Discriminator(nn.Module):
    """Scores each object of a batch; higher means more realistic.

    ``forward(x)`` maps a batch of shape ``(n, *event_shape)`` to scores of
    shape ``(n,)``. Read as an energy-based model, ``energy(x) = -score(x)``
    and the model density is ``p(x) ∝ exp(score(x))``. For the minimax GAN
    loss the score is the logit of the probability that ``x`` is real.

    ``capabilities`` lists what inference algorithms may rely on; see
    :class:`Capability`. Continuous neural scorers have ``INPUT_GRADIENT``.
    """

    capabilities: frozenset[Capability] = frozenset({Capability.INPUT_GRADIENT})

    @abstractmethod
    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score a batch ``x`` of shape ``(n, *event_shape)``; returns shape ``(n,)``."""

    def energy(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Energy ``-score(x)`` of each object, shape ``(n,)``."""
        return -self(x, condition)

    def factors(
        self, x: torch.Tensor | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unary and pairwise potentials of a factorised scorer (a linear-chain CRF).

        Returns:
            ``unary`` of shape ``(n, length, num_tags)`` and ``pairwise`` of
            shape ``(num_tags, num_tags)`` or ``(n, length - 1, num_tags, num_tags)``;
            the score of a labelling is the sum of the potentials it selects.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no factor structure; use a search-based inference "
            "such as gradient_ascent or langevin instead of an exact one"
        )

    def conditional(
        self, x: torch.Tensor, block: str, condition: torch.Tensor | None = None
    ) -> torch.distributions.Distribution:
        """Distribution of one block of variables given the rest (an RBM's ``p(h | v)``)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no conditional distributions; use langevin or "
            "gradient_ascent instead of block Gibbs sampling"
        )
