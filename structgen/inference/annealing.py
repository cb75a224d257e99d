"""Simulated annealing over discrete objects with Gibbs or Metropolis single-site moves."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Inference
from ..devices import module_device
from .discrete import eval_mode, require_discrete, score_rows, select_rows, start_rows
from .gibbs import Scan, gibbs_update, sweep_sites
from .gradient import temperature_schedule
from .metropolis import metropolis_site_update

Moves = Literal["gibbs", "metropolis"]


class SimulatedAnnealingParams(ComponentParams):
    """Settings of ``simulated_annealing``."""

    sweeps: int = Field(100, ge=1, description="Sweeps per chain. A sweep is num_sites single-site moves.")
    t_start: float = Field(1.0, gt=0, description="Temperature of the first sweep, in units of the score.")
    t_end: float = Field(0.01, gt=0, description="Temperature of the last sweep, reached geometrically.")
    moves: Moves = Field(
        "gibbs",
        description="`gibbs` redraws the sites in order from their conditionals. `metropolis` proposes a "
        "uniform allowed value at a uniformly drawn site and accepts by the Metropolis rule.",
    )
    chunk_size: int = Field(65_536, gt=0, description="Candidate rows per forward pass of the scorer.")


class SimulatedAnnealing(Inference):
    """Search for ``argmax_x score(x)`` by simulated annealing (Kirkpatrick et al., 1983).

    The chains run the single-site moves of ``gibbs`` or
    ``metropolis_hastings`` on ``p(x) ∝ exp(score(x) / T)`` while ``T``
    falls geometrically from ``t_start`` to ``t_end``, one temperature per
    sweep. Each chain returns the best-scoring row it visited, which need not
    be its final row. Chains start from ``init`` or ``domain.random_batch``.
    Cost: as ``gibbs`` or ``metropolis_hastings`` with the same number of
    sweeps.
    """

    def __init__(
        self, domain: Domain, sweeps: int, t_start: float, t_end: float, moves: Moves, chunk_size: int
    ) -> None:
        super().__init__(domain)
        self.temperatures = temperature_schedule(t_start, t_end, sweeps)
        self.moves = moves
        self.chunk_size = chunk_size

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("simulated_annealing needs a scorer")
        batch = start_rows(self.domain, n, init, module_device(scorer))
        update = gibbs_update if self.moves == "gibbs" else metropolis_site_update
        scan: Scan = "systematic" if self.moves == "gibbs" else "random"
        with eval_mode(scorer):
            scores = score_rows(scorer, batch, condition, self.chunk_size)
            best, best_scores = batch, scores
            for temperature in self.temperatures:
                for site in sweep_sites(self.domain.num_sites, scan):
                    batch, scores = update(
                        scorer, self.domain, batch, site, scores, temperature, condition, self.chunk_size
                    )
                    improved = scores > best_scores
                    best = select_rows(improved, batch, best)
                    best_scores = torch.where(improved, scores, best_scores)
        return best


def build_simulated_annealing(params: SimulatedAnnealingParams, context: BuildContext) -> SimulatedAnnealing:
    domain = require_discrete(context.require_domain(), "simulated_annealing")
    return SimulatedAnnealing(domain, params.sweeps, params.t_start, params.t_end, params.moves, params.chunk_size)
