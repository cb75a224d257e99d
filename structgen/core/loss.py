"""The :class:`AdversarialLoss` interface of GAN objectives."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class AdversarialLoss(ABC):
    """A GAN objective, written in terms of the scores (logits) of ``D``.

    ``real_scores`` and ``fake_scores`` have shape ``(n,)``; both methods
    return scalar losses that the respective player minimises.
    """

    @abstractmethod
    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """Loss of D: low when real scores are high and fake scores low."""

    @abstractmethod
    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """Loss of G: low when D scores the generated samples high."""
