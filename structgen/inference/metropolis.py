"""Metropolis-Hastings sampling over discrete objects, with single-site or generator proposals."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Generator, Inference
from ..devices import module_device
from ..errors import ConfigError
from .discrete import eval_mode, gather_condition, require_discrete, score_rows, select_rows, start_rows

Proposal = Literal["site", "generator"]


class MetropolisHastingsParams(ComponentParams):
    """Settings of ``metropolis_hastings``."""

    steps: int = Field(
        500, ge=1, description="Proposals per chain. With proposal `site`, num_sites steps make a sweep."
    )
    temperature: float = Field(1.0, gt=0, description="Temperature T of the target p(x) ∝ exp(score(x) / T).")
    proposal: Proposal = Field(
        "site",
        description="`site` changes one uniformly drawn site to a uniformly drawn allowed value, the same site "
        "for every chain. `generator` proposes whole objects drawn from the strategy's generator, which must "
        "have log_prob.",
    )
    chunk_size: int = Field(65_536, gt=0, description="Rows per forward pass of the scorer.")


def metropolis_accept(log_ratio: torch.Tensor) -> torch.Tensor:
    """Draw the acceptance of each proposal, True with probability ``min(1, exp(log_ratio))``."""
    return torch.rand_like(log_ratio).log() < log_ratio


def metropolis_site_update(
    scorer: Discriminator,
    domain: Domain,
    batch: torch.Tensor,
    site: int,
    scores: torch.Tensor,
    temperature: float,
    condition: torch.Tensor | None,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Propose a uniform allowed value for site ``site`` of every row and accept by the Metropolis rule.

    The proposal is symmetric: the rows reachable from a proposal at this
    site are those reachable from the current row (see
    :meth:`Domain.site_values`), so both directions have probability one over
    the same count. The acceptance probability is therefore
    ``min(1, exp((score(x') - score(x)) / T))``. Only rows whose value changes
    are scored.

    Returns:
        The updated batch and its scores, shape ``(n,)``.
    """
    n = len(batch)
    allowed = domain.site_values(batch, site)
    values = torch.multinomial(allowed.float(), 1).squeeze(1)
    proposal = domain.set_site(batch, site, values)

    proposal_scores = scores.clone()
    changed = (values != batch.reshape(n, -1)[:, site]).nonzero().squeeze(1)
    proposal_scores[changed] = score_rows(scorer, proposal[changed], gather_condition(condition, changed), chunk_size)
    accept = metropolis_accept((proposal_scores - scores) / temperature)
    return select_rows(accept, proposal, batch), torch.where(accept, proposal_scores, scores)


class MetropolisHastings(Inference):
    """Metropolis-Hastings sampling of ``p(x) ∝ exp(score(x) / T)`` (Hastings, 1970).

    With ``proposal="site"`` each step draws one site uniformly (shared by
    all chains) and, per chain, a uniform value among those the domain
    allows there. With ``proposal="generator"`` each step proposes a fresh
    object ``x' ~ q`` from a generator with an exact ``log_prob`` and accepts
    it with probability ``min(1, exp((score(x') - score(x)) / T) q(x) / q(x'))``
    (an independence sampler), which samples ``p`` restricted to the rows the
    generator can produce. Chains start from ``init`` when it is given.
    Otherwise site proposals start from ``domain.random_batch`` and generator
    proposals from generator samples, because the independence sampler never
    leaves a start that the generator cannot produce. Chains return their
    final rows.
    Cost: at most one scored row per chain and step, plus one generator
    sample and ``log_prob`` per chain and step with generator proposals.

    NOTE: the acceptance ratio takes ``log_prob`` as the proposal density, so
    it is exact only when ``sample()`` draws from that density. A generator
    that samples with a temperature other than 1 or with top-k biases the chain.
    """

    def __init__(
        self,
        domain: Domain,
        steps: int,
        temperature: float,
        chunk_size: int,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(domain)
        self.steps = steps
        self.temperature = temperature
        self.chunk_size = chunk_size
        self.generator = generator

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("metropolis_hastings needs a scorer")
        device = module_device(scorer)
        with eval_mode(scorer, self.generator), torch.no_grad():
            if self.generator is None:
                return self._run_sites(scorer, start_rows(self.domain, n, init, device), condition)
            if init is None:
                init = self.generator.sample(n, condition)
            return self._run_generator(scorer, self.generator, start_rows(self.domain, n, init, device), condition)

    def _run_sites(self, scorer: Discriminator, batch: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        scores = score_rows(scorer, batch, condition, self.chunk_size)
        sites = torch.randint(self.domain.num_sites, (self.steps,)).tolist()
        for site in sites:
            batch, scores = metropolis_site_update(
                scorer, self.domain, batch, site, scores, self.temperature, condition, self.chunk_size
            )
        return batch

    def _run_generator(
        self, scorer: Discriminator, generator: Generator, batch: torch.Tensor, condition: torch.Tensor | None
    ) -> torch.Tensor:
        device = batch.device
        scores = score_rows(scorer, batch, condition, self.chunk_size)
        log_q = generator.log_prob(batch.to(generator.device), condition).to(device)
        for _ in range(self.steps):
            proposal = generator.sample(len(batch), condition)
            proposal_log_q = generator.log_prob(proposal, condition).to(device)
            proposal = proposal.to(device)
            proposal_scores = score_rows(scorer, proposal, condition, self.chunk_size)

            log_ratio = (proposal_scores - scores) / self.temperature + log_q - proposal_log_q
            accept = metropolis_accept(log_ratio)
            batch = select_rows(accept, proposal, batch)
            scores = torch.where(accept, proposal_scores, scores)
            log_q = torch.where(accept, proposal_log_q, log_q)
        return batch


def has_log_prob(generator: Generator) -> bool:
    """Return True when the generator's class overrides :meth:`Generator.log_prob`."""
    return type(generator).log_prob is not Generator.log_prob


def build_metropolis_hastings(params: MetropolisHastingsParams, context: BuildContext) -> MetropolisHastings:
    domain = require_discrete(context.require_domain(), "metropolis_hastings")
    generator = None
    if params.proposal == "generator":
        generator = context.generator
        if generator is None or not has_log_prob(generator):
            found = "no generator" if generator is None else f"{type(generator).__name__}, which has no log_prob"
            raise ConfigError(
                [
                    (
                        "inference.proposal",
                        f"metropolis_hastings with proposal generator needs a strategy with an autoregressive "
                        f"generator such as mle or seqgan (found {found}); use proposal site otherwise",
                    )
                ]
            )
    return MetropolisHastings(domain, params.steps, params.temperature, params.chunk_size, generator)
