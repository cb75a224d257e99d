"""Exact decoding and sampling of a scorer that factorises as a linear-chain CRF."""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Capability, Discriminator, Domain, Inference
from ..errors import CapabilityError, ConfigError
from ..structured import sample, viterbi


class ViterbiParams(ComponentParams):
    """Settings of ``viterbi``."""

    sample: bool = Field(
        False,
        description="False returns the highest-scoring sequence (Viterbi); true draws exact samples from "
        "p(x) ∝ exp(score(x)) by forward filtering, backward sampling.",
    )


class Viterbi(Inference):
    """Exact argmax or exact sampling for a scorer with linear-chain factors.

    The scorer's :meth:`~structgen.core.Discriminator.factors` give unary
    scores of shape ``(b, length, tags)`` and transitions of shape
    ``(tags, tags)``; every position of every object is real. The argmax is
    the Viterbi path (Viterbi, 1967); sampling is forward filtering, backward
    sampling, which draws from ``p(x) ∝ exp(score(x))`` exactly. Unary scores
    with ``b = 1`` (an unconditional scorer) are shared by all ``n``
    objects, so the argmax is then the same row ``n`` times.
    Cost: O(b * length * tags^2), plus O(n * length * tags) to sample.
    """

    requires = frozenset({Capability.FACTORS})

    def __init__(self, domain: Domain, draw_samples: bool = False) -> None:
        super().__init__(domain)
        self.draw_samples = draw_samples

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return ``n`` rows of tags, shape ``(n, length)``; ``init`` only sets ``n``, because no search starts."""
        if scorer is None:
            raise ValueError("viterbi needs a scorer with linear-chain factors")
        n = len(init) if init is not None else n
        if condition is not None and len(condition) != n:
            raise ValueError(f"viterbi got {len(condition)} condition rows for {n} objects; give one per object")

        with torch.no_grad():
            unary, transitions = scorer.factors(None, condition)
        if transitions.dim() != 2:
            raise CapabilityError(
                f"viterbi needs one (tags, tags) transition matrix shared by all positions, but "
                f"{type(scorer).__name__}.factors returned pairwise scores of shape {tuple(transitions.shape)}"
            )
        batch = unary.shape[0]
        if batch not in (1, n):
            raise ValueError(
                f"{type(scorer).__name__}.factors returned unary scores for {batch} objects; expected 1 or {n}"
            )

        if self.draw_samples:
            if batch == 1:
                return sample(unary, transitions, None, num_samples=n)[:, 0]
            return sample(unary, transitions, None, num_samples=1)[0]
        _, best = viterbi(unary, transitions, None)
        return best.expand(n, -1).clone() if batch == 1 else best


def build_viterbi(params: ViterbiParams, context: BuildContext) -> Viterbi:
    domain = context.require_domain()
    if not domain.is_discrete or len(domain.event_shape) != 1:
        raise ConfigError(
            [
                (
                    "inference.name",
                    f"viterbi decodes sequences of categories, but the domain has event shape {domain.event_shape} "
                    f"and is {'discrete' if domain.is_discrete else 'continuous'}",
                )
            ]
        )
    return Viterbi(domain, params.sample)
