"""Beam search over the sites of discrete objects."""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Inference
from ..devices import module_device
from .discrete import eval_mode, require_discrete, score_rows, score_site_values, select_rows, start_rows


class BeamParams(ComponentParams):
    """Settings of ``beam``."""

    width: int = Field(8, ge=1, description="Rows kept per search after each site.")
    chunk_size: int = Field(65_536, gt=0, description="Candidate rows per forward pass of the scorer.")


class Beam(Inference):
    """Beam search for ``argmax_x score(x)``, one site at a time in order.

    Each search starts from ``init`` or :meth:`Domain.start_batch` (the empty
    text for token sequences). At site ``s`` every kept row is expanded by
    every value that :meth:`Domain.site_values` allows at ``s``, the
    candidates are scored as whole rows, and the ``width`` best distinct
    rows are kept. A search returns the best row it scored. When ``width`` is at least the number of objects, the
    search keeps every row that one pass can reach, and from the domain's
    start that is every object, so it returns the exact argmax.
    Cost: per site, one scored row per kept row and allowed value, at most
    ``num_sites * width * num_categories`` scored rows per search.
    """

    def __init__(self, domain: Domain, width: int, chunk_size: int) -> None:
        super().__init__(domain)
        self.width = width
        self.chunk_size = chunk_size

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("beam needs a scorer")
        device = module_device(scorer)
        start = self.domain.start_batch(n, device=device) if init is None else start_rows(self.domain, n, init, device)
        n = len(start)

        with eval_mode(scorer):
            # Slot 0 of each search contains the start. The other slots are empty (score -inf) until filled.
            best, best_scores = start, score_rows(scorer, start, condition, self.chunk_size)
            beams = start.repeat_interleave(self.width, dim=0)
            beam_scores = torch.full((n, self.width), float("-inf"), device=device)
            beam_scores[:, 0] = best_scores
            beam_condition = None if condition is None else condition.repeat_interleave(self.width, dim=0)

            for site in range(self.domain.num_sites):
                beams, beam_scores = self._expand(scorer, beams, beam_scores, site, beam_condition)
                leaders = beams[:: self.width]
                improved = beam_scores[:, 0] > best_scores
                best = select_rows(improved, leaders, best)
                best_scores = torch.where(improved, beam_scores[:, 0], best_scores)
        return best

    def _expand(
        self,
        scorer: Discriminator,
        beams: torch.Tensor,
        beam_scores: torch.Tensor,
        site: int,
        condition: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Expand the beams at ``site`` and keep the ``width`` best distinct rows of each search.

        ``beams`` has shape ``(n * width, *event_shape)``, search by search,
        and ``beam_scores`` shape ``(n, width)``, sorted in descending order,
        with ``-inf`` at empty slots. Returns both in the same layout.
        """
        n, width = beam_scores.shape
        num_values = self.domain.num_categories
        event_shape = beams.shape[1:]

        # Score every allowed value of the site for every live slot: shape (n, width * num_values).
        alive = torch.isfinite(beam_scores).flatten()
        candidate_scores = score_site_values(
            scorer, self.domain, beams, site, beam_scores.flatten(), condition, self.chunk_size, active=alive
        ).reshape(n, width * num_values)

        # Each slot yields a row at most once, so any width**2 candidates contain `width` distinct rows
        # (or all of them). The best `width` distinct rows are thus among the width**2 best candidates.
        count = min(width * width, width * num_values)
        top_scores, top_index = candidate_scores.topk(count, dim=1)
        offsets = torch.arange(n, device=beams.device).unsqueeze(1) * width
        parents = (top_index.div(num_values, rounding_mode="floor") + offsets).flatten()
        rows = self.domain.set_site(beams[parents], site, (top_index % num_values).flatten())

        searches = torch.arange(n, device=beams.device).repeat_interleave(count)
        distinct = first_occurrences(rows, searches).reshape(n, count)
        kept_scores = torch.where(distinct, top_scores, float("-inf"))
        new_scores, order = kept_scores.topk(width, dim=1)

        # Empty slots hold a copy of the search's best row so that every stored row stays valid.
        order = torch.where(torch.isfinite(new_scores), order, order[:, :1])
        new_beams = rows.reshape(n, count, *event_shape)[torch.arange(n, device=beams.device).unsqueeze(1), order]
        return new_beams.reshape(n * width, *event_shape), new_scores


def first_occurrences(rows: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Mark the first occurrence of each row within its group, a bool tensor of shape ``(len(rows),)``.

    Rows are compared whole, and only with rows of the same group.
    Cost: one sort of the rows (``torch.unique``).
    """
    keyed = torch.cat([groups.unsqueeze(1), rows.reshape(len(rows), -1)], dim=1)
    _, inverse = torch.unique(keyed, dim=0, return_inverse=True)
    positions = torch.arange(len(rows), device=rows.device)
    first = torch.full((len(rows),), len(rows), device=rows.device)
    first = first.scatter_reduce(0, inverse, positions, reduce="amin")
    return first[inverse] == positions


def build_beam(params: BeamParams, context: BuildContext) -> Beam:
    domain = require_discrete(context.require_domain(), "beam")
    return Beam(domain, params.width, params.chunk_size)
