"""The :class:`Generator` interface: bottom-up, latent code to object."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn


class Generator(nn.Module):
    """Maps a latent code ``z`` of shape ``(n, latent_dim)`` to a batch of objects.

    ``forward`` returns the differentiable output that training uses: values
    of shape ``(n, *event_shape)`` for continuous domains, and logits or
    relaxed one-hots of shape ``(n, *event_shape, num_categories)`` for
    discrete ones. :meth:`sample` returns proper domain objects (category
    indices for discrete domains).

    ``condition`` is an optional tensor with one row per object, such as
    class labels of shape ``(n,)``. Generators that are not conditional raise
    ``ValueError`` when given one.

    Subclasses set ``latent_dim`` and implement :meth:`forward`; autoregressive
    models that have an exact likelihood also implement :meth:`log_prob`.
    """

    latent_dim: int

    @property
    def device(self) -> torch.device:
        """Device of the generator's first parameter (CPU if it has none)."""
        for parameter in self.parameters():
            return parameter.device
        return torch.device("cpu")

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent codes from the prior N(0, I), shape ``(n, latent_dim)``."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    @abstractmethod
    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Decode latent codes ``z`` of shape ``(n, latent_dim)`` into a batch."""

    def harden(self, output: torch.Tensor) -> torch.Tensor:
        """Turn ``forward``'s output into domain objects; identity for continuous outputs."""
        return output

    @torch.no_grad()
    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Draw ``n`` objects, shape ``(n, *event_shape)``, without tracking gradients."""
        return self.harden(self(self.sample_latent(n), condition))

    def log_prob(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log-likelihood of each object in ``x``, shape ``(n,)``.

        Only models with a tractable likelihood (autoregressive ones) have
        it; maximum-likelihood and REINFORCE strategies need it.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no tractable likelihood; use an autoregressive generator "
            "for strategies that need log_prob"
        )
