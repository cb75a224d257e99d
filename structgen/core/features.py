"""The :class:`FeatureExtractor` interface used by distribution metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class FeatureExtractor(ABC):
    """Embeds objects into a feature space for distribution metrics.

    Fréchet distance, precision and recall compare feature statistics; a
    classifier trained on the data set, or an Inception network, serves.
    """

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch, shape ``(n, feature_dim)``."""

    def class_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities of a batch, shape ``(n, num_classes)``, for label-based metrics."""
        raise NotImplementedError(f"{type(self).__name__} is not a classifier")
