"""Gumbel noise and the Gumbel-softmax relaxation of categorical samples, for any discrete domain."""

from __future__ import annotations

import torch


def gumbel_noise(
    shape: tuple[int, ...] | torch.Size,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw standard Gumbel noise ``-log(-log(u))`` of the given shape.

    The uniforms ``u`` are clamped into ``[tiny, 1 - eps]`` of ``dtype``, so
    both logarithms stay finite: every value lies between about -4.5 and 16
    in float32.

    Args:
        shape: shape of the result.
        device: device of the result.
        dtype: a floating-point dtype.
        generator: random number generator; None uses the global one.
    """
    info = torch.finfo(dtype)
    uniform = torch.rand(shape, device=device, dtype=dtype, generator=generator)
    uniform = uniform.clamp(min=info.tiny, max=1.0 - info.eps)
    return -torch.log(-torch.log(uniform))


def gumbel_softmax(
    logits: torch.Tensor, tau: float = 1.0, hard: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw relaxed one-hot samples over the last axis (Jang et al., 2017; Maddison et al., 2017).

    The soft sample is ``softmax((logits + g) / tau)`` with Gumbel noise
    ``g``. Its argmax is an exact sample of ``softmax(logits)`` for every
    ``tau`` (the Gumbel-max trick). With ``hard`` the forward value is the
    exact one-hot of that argmax, and the gradient is the soft sample's
    (straight-through estimator).

    A logit of ``-inf`` gets probability 0 and is never chosen. Every row
    needs at least one finite logit, and no logit may be ``+inf`` or NaN,
    otherwise the row is NaN. The row maximum is subtracted before dividing
    by ``tau``, so very large logits and very small ``tau`` do not overflow.

    Args:
        logits: unnormalised log-probabilities, shape ``(..., K)``.
        tau: temperature of the relaxation, above 0. Small values give
            nearly one-hot soft samples with high-variance gradients.
        hard: return exact one-hots with the soft gradient.
        generator: random number generator of the noise; None uses the global one.

    Returns:
        A tensor of the shape and dtype of ``logits`` whose rows sum to 1.
    """
    if not tau > 0:
        raise ValueError(f"tau must be above 0, got {tau}; use a value such as 1.0 or 0.5")

    noise = gumbel_noise(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)
    perturbed = logits + noise
    # softmax is shift-invariant, so the shift changes no value or gradient.
    shifted = perturbed - perturbed.detach().amax(dim=-1, keepdim=True)
    soft = torch.softmax(shifted / tau, dim=-1)
    if not hard:
        return soft

    index = perturbed.detach().argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    # soft - soft.detach() is exactly 0, so the forward value is the exact one-hot.
    return one_hot + (soft - soft.detach())
