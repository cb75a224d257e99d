"""The :class:`AdversarialLoss` interface of GAN objectives."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .discriminator import Capability, Discriminator


class AdversarialLoss(ABC):
    """A GAN objective, written in terms of the scores (logits) of ``D``.

    ``real_scores`` and ``fake_scores`` have shape ``(n,)``; both methods
    return scalar losses that the respective player minimises.

    Attributes:
        requires: discriminator capabilities that :meth:`penalty` relies on.
        penalty_name: key under which strategies log :meth:`penalty`, or None
            for a loss without a penalty.
    """

    requires: frozenset[Capability] = frozenset()
    penalty_name: str | None = None

    @abstractmethod
    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """Loss of D: low when real scores are high and fake scores low."""

    @abstractmethod
    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """Loss of G: low when D scores the generated samples high."""

    def penalty(
        self,
        discriminator: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Compute the regulariser that a strategy adds to D's loss at each D update.

        Args:
            discriminator: the network being trained, D.
            real: the real batch of this update, shape ``(n, *event_shape)``.
            fake: generated samples of the same shape, detached from G.
            condition: the batch's condition, or None.

        Returns:
            A scalar on ``real``'s device, 0 unless a subclass overrides this method.
        """
        return torch.zeros((), device=real.device)

    def missing_capabilities(self, discriminator: Discriminator) -> frozenset[Capability]:
        """Capabilities that :meth:`penalty` requires and ``discriminator`` does not declare."""
        return self.requires - discriminator.capabilities
