"""Exhaustive search over a finite candidate set."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Inference
from ..devices import module_device
from ..errors import ConfigError, DataError


class ExhaustiveParams(ComponentParams):
    """Settings of ``exhaustive``."""

    candidates: list | None = Field(None, description="Candidate objects, each a nested list of shape event_shape.")
    path: str | None = Field(None, description="A .npy file of candidates, shape (count, *event_shape).")
    temperature: float | None = Field(
        None,
        gt=0,
        description="None returns the best candidate n times; a value T draws candidates with "
        "probability ∝ exp(score / T), exactly.",
    )
    max_candidates: int = Field(
        1_000_000, gt=0, description="Largest candidate set; enumerating a discrete domain beyond it is rejected."
    )
    chunk_size: int = Field(65_536, gt=0, description="Candidates scored per forward pass.")


class Exhaustive(Inference):
    """Scores every candidate of a finite set: the exact argmax, or exact sampling.

    Candidates are given, or, for a discrete domain with at most
    ``max_candidates`` objects, every object of the domain. It is the
    reference that approximate searches and samplers are tested against.
    Cost: one forward pass per candidate.
    """

    def __init__(
        self,
        domain: Domain,
        candidates: torch.Tensor | None,
        temperature: float | None,
        max_candidates: int,
        chunk_size: int,
    ) -> None:
        super().__init__(domain)
        if candidates is None:
            candidates = enumerate_domain(domain, max_candidates)
        if candidates.shape[1:] != torch.Size(domain.event_shape):
            raise DataError(
                f"exhaustive candidates have shape {tuple(candidates.shape[1:])} per object, "
                f"but the domain's objects have shape {domain.event_shape}"
            )
        if len(candidates) > max_candidates:
            raise DataError(f"{len(candidates)} candidates exceed max_candidates={max_candidates}")
        self.candidates = candidates
        self.temperature = temperature
        self.chunk_size = chunk_size

    @torch.no_grad()
    def scores(self, scorer: Discriminator, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score of every candidate, shape ``(count,)``; ``condition`` must be one row or None."""
        device = module_device(scorer)
        out = []
        for chunk in self.candidates.split(self.chunk_size):
            chunk = chunk.to(device)
            chunk_condition = None if condition is None else condition[:1].expand(len(chunk), *condition.shape[1:])
            out.append(scorer(chunk, chunk_condition))
        return torch.cat(out)

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("exhaustive needs a scorer")
        n = len(init) if init is not None else n
        scores = self.scores(scorer, condition)
        if self.temperature is None:
            index = scores.argmax().expand(n)
        else:
            probabilities = torch.softmax(scores / self.temperature, dim=0)
            index = torch.multinomial(probabilities, n, replacement=True)
        return self.candidates.to(scores.device)[index]


def enumerate_domain(domain: Domain, max_candidates: int) -> torch.Tensor:
    """Enumerate every object of a small discrete domain, shape ``(num_categories ** size, *event_shape)``."""
    if not domain.is_discrete:
        raise ConfigError(
            [("inference.candidates", "a continuous domain has no finite set of objects; give candidates or path")]
        )
    size = math.prod(domain.event_shape)
    count = domain.num_categories**size
    if count > max_candidates:
        raise ConfigError(
            [("inference.max_candidates", f"the domain has {count} objects, more than max_candidates={max_candidates}")]
        )
    values = torch.tensor(list(itertools.product(range(domain.num_categories), repeat=size)), dtype=torch.long)
    return values.reshape(count, *domain.event_shape)


def build_exhaustive(params: ExhaustiveParams, context: BuildContext) -> Exhaustive:
    domain = context.require_domain()
    candidates = None
    if params.candidates is not None and params.path is not None:
        raise ConfigError([("inference.path", "give candidates or path, not both")])
    if params.candidates is not None:
        candidates = torch.tensor(params.candidates, dtype=domain.dtype)
    elif params.path is not None:
        path = Path(params.path)
        if not path.is_file():
            raise ConfigError([("inference.path", f"file not found: {path}")])
        candidates = torch.from_numpy(np.load(path)).to(domain.dtype)
    if candidates is not None:
        domain.validate(candidates, source="exhaustive candidates")
    return Exhaustive(domain, candidates, params.temperature, params.max_candidates, params.chunk_size)
