"""GAN losses written on discriminator scores: minimax, non-saturating, least squares, hinge and WGAN-GP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from .config import ComponentParams
from .context import BuildContext
from .core import Capability, Discriminator
from .core.loss import AdversarialLoss
from .errors import DataError


class MinimaxLoss(AdversarialLoss):
    """The original minimax game of Goodfellow et al. (2014), with a sigmoid output.

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


class LeastSquaresLoss(AdversarialLoss):
    """The least-squares GAN (LSGAN) of Mao et al. (2017) on raw scores.

    With targets ``a = 0`` for fake, ``b = 1`` for real and ``c = 1`` for
    the generator, D minimises ``0.5 E[(s(x) - 1)^2] + 0.5 E[s(G(z))^2]``
    and G minimises ``0.5 E[(s(G(z)) - 1)^2]``. The squared error keeps a
    gradient on samples that D already scores on the right side of the
    boundary, unlike the sigmoid cross-entropy of the minimax loss.
    """

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real_scores - 1).pow(2).mean() + 0.5 * fake_scores.pow(2).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake_scores - 1).pow(2).mean()


class HingeLoss(AdversarialLoss):
    """The hinge GAN loss (Lim and Ye, 2017; Miyato et al., 2018).

    D minimises ``E[relu(1 - s(x))] + E[relu(1 + s(G(z)))]``, so real scores
    above 1 and fake scores below -1 cost nothing. G minimises ``-E[s(G(z))]``.
    """

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mix each real sample with its fake counterpart: ``w_i * real_i + (1 - w_i) * fake_i``.

    Args:
        real: shape ``(n, *event_shape)``.
        fake: the same shape as ``real``.
        weights: shape ``(n,)``, one weight per sample that applies to
            every one of its dimensions.

    Returns:
        The interpolated batch, shape ``(n, *event_shape)``.

    Raises:
        DataError: when the shapes of ``real``, ``fake`` and ``weights`` do not match.
    """
    if real.shape != fake.shape:
        raise DataError(
            f"real and fake batches must have the same shape to be interpolated, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    if weights.shape != real.shape[:1]:
        raise DataError(
            f"interpolation weights must have shape (n,) = {tuple(real.shape[:1])}, one per sample, "
            f"got {tuple(weights.shape)}"
        )
    weights = weights.reshape(-1, *([1] * (real.dim() - 1)))
    return weights * real + (1 - weights) * fake


def gradient_penalty(
    discriminator: Discriminator,
    real: torch.Tensor,
    fake: torch.Tensor,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Compute the two-sided gradient penalty of WGAN-GP (Gulrajani et al., 2017).

    ``GP = E[(||grad s(xhat)||_2 - 1)^2]`` at ``xhat = eps * x + (1 - eps) * G(z)``,
    with one ``eps ~ U(0, 1)`` per sample. The norm of each sample's gradient
    is taken over all of its dimensions, so any input rank works: vectors
    ``(n, d)``, images ``(n, C, H, W)``.

    Args:
        discriminator: the critic ``s``; it must be differentiable in its input.
        real: real batch, shape ``(n, *event_shape)``.
        fake: generated batch of the same shape.
        condition: the batch's condition, passed to ``discriminator``, or None.
        generator: the random-number generator that draws ``eps``; None uses
            the global one.

    Returns:
        The scalar penalty, differentiable with respect to the critic's
        weights (it keeps the graph of the input gradient).

    Cost: one forward pass and one double backward pass through the critic.
    """
    n = real.shape[0]
    weights = torch.rand(n, device=real.device, dtype=real.dtype, generator=generator)
    mixed = interpolate(real.detach(), fake.detach(), weights).requires_grad_(True)
    scores = discriminator(mixed, condition)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = torch.linalg.vector_norm(grad.reshape(n, -1), dim=1)
    return (norms - 1).pow(2).mean()


class WassersteinGPParams(ComponentParams):
    """Settings of ``wasserstein_gp``."""

    gp_weight: float = Field(
        10.0, ge=0, description="Weight lambda of the gradient penalty in the critic's loss (0 turns the penalty off)."
    )


class WassersteinGPLoss(AdversarialLoss):
    """The Wasserstein GAN with gradient penalty, WGAN-GP (Gulrajani et al., 2017).

    The score ``s`` is a critic, not a logit. The critic minimises
    ``E[s(G(z))] - E[s(x)] + lambda * GP`` (see :func:`gradient_penalty`),
    where the penalty pushes the norm of its input gradient toward 1, and G
    minimises ``-E[s(G(z))]``. Strategies log ``lambda * GP`` as ``gp``.

    NOTE: The penalty is defined per sample, but batch normalisation makes
    each score depend on the whole batch. Gulrajani et al. therefore use no
    batch normalisation in the critic, and this class does not check for it.
    """

    requires = frozenset({Capability.INPUT_GRADIENT})
    penalty_name = "gp"

    def __init__(self, gp_weight: float = 10.0) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()

    def penalty(
        self,
        discriminator: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Compute ``lambda * GP`` on one fresh draw of interpolation weights."""
        if self.gp_weight == 0:
            return torch.zeros((), device=real.device)
        return self.gp_weight * gradient_penalty(discriminator, real, fake, condition)


def build_wasserstein_gp(params: WassersteinGPParams, context: BuildContext) -> WassersteinGPLoss:
    """Build the ``wasserstein_gp`` loss from its registered parameters."""
    return WassersteinGPLoss(params.gp_weight)
