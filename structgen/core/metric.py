"""The :class:`Metric` interface."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class Metric(ABC):
    """Compares generated objects with held-out real ones.

    ``compute(real, generated)`` takes two batches of shape
    ``(n, *event_shape)`` (the counts may differ) and returns named numbers;
    one metric may report several related figures, such as the mode counts
    and quality fractions of a mixture.
    """

    @abstractmethod
    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        """Return named figures for ``generated`` against ``real``."""

    def check_sizes(self, real: int, generated: int) -> None:
        """Raise :class:`~structgen.errors.DataError` when ``compute`` cannot score sets of these sizes.

        Experiments call it before training, so that a split too small for a
        metric is reported before any time is spent. The default accepts any
        sizes.
        """
        return None
