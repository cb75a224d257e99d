"""Gibbs sampling over the sites of discrete objects."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Inference
from ..devices import module_device
from .discrete import eval_mode, require_discrete, score_rows, score_site_values, start_rows

Scan = Literal["systematic", "random"]


class GibbsParams(ComponentParams):
    """Settings of ``gibbs``."""

    sweeps: int = Field(20, ge=1, description="Sweeps per chain. A sweep is num_sites single-site updates.")
    temperature: float = Field(1.0, gt=0, description="Temperature T of the target p(x) ∝ exp(score(x) / T).")
    scan: Scan = Field(
        "systematic",
        description="`systematic` updates the sites in order. `random` draws each update's site uniformly, "
        "the same site for every chain.",
    )
    chunk_size: int = Field(65_536, gt=0, description="Candidate rows per forward pass of the scorer.")


def gibbs_update(
    scorer: Discriminator,
    domain: Domain,
    batch: torch.Tensor,
    site: int,
    scores: torch.Tensor,
    temperature: float,
    condition: torch.Tensor | None,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Redraw site ``site`` of every row from ``p(value | rest of the row) ∝ exp(score / T)``.

    The conditional runs over the values that :meth:`Domain.site_values`
    allows. Because these moves split the rows into classes, the update
    leaves ``p(x) ∝ exp(score(x) / T)`` invariant.

    Returns:
        The updated batch and its scores, shape ``(n,)``; ``scores`` are the
        scores of ``batch`` on entry.
    """
    site_scores = score_site_values(scorer, domain, batch, site, scores, condition, chunk_size)
    probabilities = torch.softmax(site_scores / temperature, dim=1)
    values = torch.multinomial(probabilities, 1)
    return domain.set_site(batch, site, values.squeeze(1)), site_scores.gather(1, values).squeeze(1)


def sweep_sites(num_sites: int, scan: Scan) -> list[int]:
    """Return the sites of one sweep: ``0 .. num_sites - 1`` in order, or ``num_sites`` uniform draws."""
    if scan == "systematic":
        return list(range(num_sites))
    return torch.randint(num_sites, (num_sites,)).tolist()


class Gibbs(Inference):
    """Single-site Gibbs sampling of ``p(x) ∝ exp(score(x) / T)`` (Geman and Geman, 1984).

    Each update redraws one site of every chain from its conditional given the
    rest of the row, over the values the domain allows there (see
    :meth:`Domain.site_values`); for token sequences those moves also insert
    and delete the last token, so lengths change. Chains start from ``init``
    or ``domain.random_batch`` and return their final rows.
    Cost: per update, one scored row per chain and allowed value of the site,
    in batches of ``chunk_size`` rows.
    """

    def __init__(self, domain: Domain, sweeps: int, temperature: float, scan: Scan, chunk_size: int) -> None:
        super().__init__(domain)
        self.sweeps = sweeps
        self.temperature = temperature
        self.scan = scan
        self.chunk_size = chunk_size

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("gibbs needs a scorer")
        batch = start_rows(self.domain, n, init, module_device(scorer))
        with eval_mode(scorer):
            scores = score_rows(scorer, batch, condition, self.chunk_size)
            for _ in range(self.sweeps):
                for site in sweep_sites(self.domain.num_sites, self.scan):
                    batch, scores = gibbs_update(
                        scorer, self.domain, batch, site, scores, self.temperature, condition, self.chunk_size
                    )
        return batch


def build_gibbs(params: GibbsParams, context: BuildContext) -> Gibbs:
    domain = require_discrete(context.require_domain(), "gibbs")
    return Gibbs(domain, params.sweeps, params.temperature, params.scan, params.chunk_size)
