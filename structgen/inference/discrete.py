"""Building blocks of the searches over discrete domains: site scoring, starts and eval mode.

The searches (``beam``, ``gibbs``, ``metropolis_hastings``,
``simulated_annealing``) change one site of an object at a time through
:meth:`Domain.site_values` and :meth:`Domain.set_site`, so they work for any
discrete domain and any scorer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ..core import Discriminator, Domain
from ..errors import ConfigError


def require_discrete(domain: Domain, name: str) -> Domain:
    """Return ``domain``, or raise :class:`ConfigError` when it is continuous."""
    if not domain.is_discrete:
        raise ConfigError(
            [
                (
                    "inference.name",
                    f"{name} searches discrete domains, but {type(domain).__name__} is continuous; "
                    "for images and vectors use langevin or gradient_ascent",
                )
            ]
        )
    return domain


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Put ``modules`` in eval mode for the block and restore each submodule's training flag after it.

    A search calls the scorer many times on the same rows, so dropout and
    batch-norm updates would make one row's score change between calls.
    """
    flags = [(module, module.training) for root in modules if root is not None for module in root.modules()]
    for root in modules:
        if root is not None:
            root.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def start_rows(domain: Domain, n: int, init: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """Return a validated copy of ``init`` on ``device``, or ``n`` rows of ``domain.random_batch`` without it."""
    if init is None:
        return domain.random_batch(n, device=device)
    domain.validate(init, source="inference init")
    return init.detach().to(device).clone()


def gather_condition(condition: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    """Return rows ``index`` of ``condition`` for rows derived from those rows, or None without a condition."""
    if condition is None:
        return None
    return condition[index.to(condition.device)]


def select_rows(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Take row ``i`` of ``new`` where ``mask[i]`` (shape ``(n,)``) is True, else row ``i`` of ``old``."""
    return torch.where(mask.reshape(-1, *([1] * (new.dim() - 1))), new, old)


@torch.no_grad()
def score_rows(
    scorer: Discriminator, rows: torch.Tensor, condition: torch.Tensor | None, chunk_size: int
) -> torch.Tensor:
    """Score each row, float32 of shape ``(len(rows),)``, with at most ``chunk_size`` rows per forward pass."""
    scores = torch.empty(len(rows), dtype=torch.float32, device=rows.device)
    for start in range(0, len(rows), chunk_size):
        stop = start + chunk_size
        part_condition = None if condition is None else condition[start:stop]
        scores[start:stop] = scorer(rows[start:stop], part_condition).float()
    return scores


@torch.no_grad()
def score_site_values(
    scorer: Discriminator,
    domain: Domain,
    batch: torch.Tensor,
    site: int,
    scores: torch.Tensor,
    condition: torch.Tensor | None,
    chunk_size: int,
    active: torch.Tensor | None = None,
) -> torch.Tensor:
    """Score each row with site ``site`` set to each value, shape ``(n, num_categories)``.

    Values that :meth:`Domain.site_values` does not allow get ``-inf``. The
    current value gets the row's own score from ``scores`` (shape ``(n,)``)
    without scoring it again, so only changed rows are scored. They are built
    and scored ``chunk_size`` at a time, so at most ``chunk_size`` candidate
    rows exist at once. Rows where ``active`` (shape ``(n,)``) is False get
    ``-inf`` for every value and cost nothing.
    Cost: one scored row per row and allowed value other than the current one.
    """
    n = len(batch)
    allowed = domain.site_values(batch, site)
    if active is not None:
        allowed = allowed & active.unsqueeze(1)
    current = batch.reshape(n, -1)[:, site]
    is_current = torch.zeros_like(allowed).scatter_(1, current.unsqueeze(1), True)
    out = torch.where(allowed & is_current, scores.unsqueeze(1).float(), float("-inf"))

    row_index, value = (allowed & ~is_current).nonzero(as_tuple=True)
    for rows_part, values_part in zip(row_index.split(chunk_size), value.split(chunk_size), strict=True):
        candidates = domain.set_site(batch[rows_part], site, values_part)
        part_condition = gather_condition(condition, rows_part)
        out[rows_part, values_part] = scorer(candidates, part_condition).float()
    return out
