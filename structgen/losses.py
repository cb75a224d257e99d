"""The GAN losses of Goodfellow et al. (2014), written on discriminator logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .core.loss import AdversarialLoss


class MinimaxLoss(AdversarialLoss):
    """The original minimax game with a sigmoid output.

    With ``D(x) = sigmoid(s(x))``, D maximises ``log D(x) + log(1 - D(G(z)))``
    and G minimises ``log(1 - D(G(z))) = -softplus(s)``. The generator's
    gradient vanishes when D confidently rejects its samples, which is why
    the non-saturating form exists.
    """

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_scores).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Minimax D loss; G maximises ``log D(G(z))`` instead, i.e. minimises ``softplus(-s)``."""

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_scores).mean()
