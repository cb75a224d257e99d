"""The ``amortized`` sampler: a trained generator in the place of a search."""

from __future__ import annotations

import torch

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Discriminator, Domain, Generator, Inference
from ..errors import ConfigError


class Amortized(Inference):
    """Sampling by a trained generator: the search is amortised into its weights.

    It ignores the scorer, so ``gan``, ``vae`` and ``autoencoder`` sample
    through the same interface as search-based strategies.
    """

    needs_scorer = False

    def __init__(self, domain: Domain, generator: Generator) -> None:
        super().__init__(domain)
        self.generator = generator

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.generator.sample(n if init is None else len(init), condition)


def build_amortized(params: ComponentParams, context: BuildContext) -> Amortized:
    if context.generator is None:
        raise ConfigError(
            [("inference.name", "amortized samples a trained generator; the strategy has none, use langevin")]
        )
    return Amortized(context.require_domain(), context.generator)
