"""The :class:`Inference` interface: search or sampling against a scorer."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .discriminator import Capability, Discriminator
from .domain import Domain


class Inference(ABC):
    """Produces high-scoring objects for a scorer without training a generator.

    An algorithm accesses the scorer only through the :class:`Discriminator`
    interface; it does not know which network produced the scores.

    Attributes:
        requires: scorer capabilities the algorithm relies on. They are
            checked against the scorer before any training starts.
        domain: the domain whose objects are searched; it supplies random
            starting points and the projection back into the domain.
    """

    requires: frozenset[Capability] = frozenset()
    needs_scorer: bool = True
    """False for algorithms that ignore the scorer (``amortized``), which
    strategies without a discriminator can use."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    @abstractmethod
    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return ``n`` objects of shape ``(n, *event_shape)`` that score high.

        Args:
            scorer: the model to maximise or sample from; None only for
                algorithms that ignore it (``amortized``).
            n: number of objects; ignored in favour of ``len(init)`` when
                ``init`` is given.
            init: starting batch; when None the algorithm starts from
                ``domain.random_batch``.
            condition: per-object conditioning passed to the scorer.

        The result is detached from the autograd graph, on the scorer's device.
        """

    def missing_capabilities(self, scorer: Discriminator) -> frozenset[Capability]:
        """Capabilities this algorithm requires that ``scorer`` does not declare."""
        return self.requires - scorer.capabilities
