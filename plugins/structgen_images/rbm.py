"""The ``rbm`` discriminator: a Bernoulli-Bernoulli restricted Boltzmann machine over binarized images."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from structgen import Capability, ConfigError, Discriminator
from structgen.config import ComponentParams
from structgen.context import BuildContext

BLOCKS = ("hidden", "visible")


class RBMParams(ComponentParams):
    """Settings of the ``rbm`` discriminator."""

    hidden: int = Field(128, ge=1, description="Number of binary hidden units.")
    init_std: float = Field(
        0.01, gt=0, description="Standard deviation of the initial weights, drawn from N(0, std^2); biases start at 0."
    )


class BernoulliRBM(Discriminator):
    """Restricted Boltzmann machine with binary visible and binary hidden units (Smolensky, 1986; Hinton, 2002).

    A pixel x in {-1, 1} is the visible unit v = (x + 1) / 2 in {0, 1}, and an
    image of shape ``(C, H, W)`` gives ``V = C * H * W`` units in row-major
    order. With weights ``W`` of shape ``(hidden, V)``, visible biases ``b``
    and hidden biases ``c``, the energy of a joint state is
    ``E(v, h) = -b.v - c.h - h.W.v``. Summing out the hidden units gives the
    free energy ``F(v) = -b.v - sum_j softplus(c_j + W_j.v)``, and the score
    is ``-F(v)``, so ``p(v) = exp(score(v)) / Z``.

    Given one block, the units of the other are independent:
    ``p(h_j = 1 | v) = sigmoid(c_j + W_j.v)`` and
    ``p(v_i = 1 | h) = sigmoid(b_i + h.W[:, i])``. :meth:`conditional`
    returns them, and ``block_gibbs`` samples with them.

    Pixel values strictly between -1 and 1 enter every formula as fractional
    units v in (0, 1). Cost: one ``(n, V) x (V, hidden)`` matrix product per
    score or conditional.
    """

    capabilities = frozenset({Capability.CONDITIONALS})

    def __init__(self, event_shape: tuple[int, ...], hidden: int, init_std: float) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.visible = math.prod(self.event_shape)
        self.hidden = hidden
        self.weight = nn.Parameter(torch.randn(hidden, self.visible) * init_std)
        self.visible_bias = nn.Parameter(torch.zeros(self.visible))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))

    def to_visible(self, images: torch.Tensor) -> torch.Tensor:
        """Map images ``(n, *event_shape)`` in [-1, 1] to visible units ``(n, V)`` in [0, 1]."""
        if tuple(images.shape[1:]) != self.event_shape:
            raise ValueError(
                f"the rbm expects images of shape (n, {', '.join(map(str, self.event_shape))}), "
                f"got {tuple(images.shape)}"
            )
        return ((images + 1) / 2).flatten(1)

    def to_images(self, visible: torch.Tensor) -> torch.Tensor:
        """Map visible units in [0, 1], shape ``(n, V)`` or ``(n, *event_shape)``, to images in [-1, 1]."""
        return (2 * visible - 1).reshape(len(visible), *self.event_shape)

    def hidden_logits(self, visible: torch.Tensor) -> torch.Tensor:
        """Return the logits ``c + W v`` of ``p(h = 1 | v)``, shape ``(n, hidden)``, for visible units ``(n, V)``."""
        return F.linear(visible, self.weight, self.hidden_bias)

    def visible_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Return the logits ``b + W^T h`` of ``p(v = 1 | h)``, shape ``(n, V)``, for hidden states ``(n, hidden)``."""
        return F.linear(hidden, self.weight.t(), self.visible_bias)

    def free_energy(self, visible: torch.Tensor) -> torch.Tensor:
        """Return the free energy ``F(v) = -b.v - sum_j softplus(c_j + W_j.v)``, shape ``(n,)``, of units ``(n, V)``."""
        return -(visible @ self.visible_bias) - F.softplus(self.hidden_logits(visible)).sum(dim=1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score ``-F(v)`` of images ``x`` of shape ``(n, *event_shape)``; returns shape ``(n,)``."""
        _reject_condition(condition)
        return -self.free_energy(self.to_visible(x))

    def conditional(
        self, x: torch.Tensor, block: str, condition: torch.Tensor | None = None
    ) -> torch.distributions.Bernoulli:
        """Return the Bernoulli distribution of one block given the other.

        Args:
            x: for ``block="hidden"``, images of shape ``(n, *event_shape)``
                in [-1, 1]. For ``block="visible"``, hidden states of shape
                ``(n, hidden)`` in {0, 1} (probabilities in [0, 1] also work).
            block: ``"hidden"`` for ``p(h | v)``, ``"visible"`` for ``p(v | h)``.
            condition: must be None, because the rbm is unconditional.

        Returns:
            ``p(h | v)`` with batch shape ``(n, hidden)``, or ``p(v | h)``
            with batch shape ``(n, *event_shape)``. A visible unit that is 1
            is the pixel value 1, and 0 is -1 (see :meth:`to_images`).
        """
        _reject_condition(condition)
        if block == "hidden":
            return torch.distributions.Bernoulli(logits=self.hidden_logits(self.to_visible(x)))
        if block == "visible":
            if x.dim() != 2 or x.shape[1] != self.hidden:
                raise ValueError(
                    f"p(v | h) expects hidden states of shape (n, {self.hidden}), got {tuple(x.shape)}. "
                    "Pass images to block='hidden' instead"
                )
            logits = self.visible_logits(x).reshape(len(x), *self.event_shape)
            return torch.distributions.Bernoulli(logits=logits)
        raise ValueError(f"invalid block={block!r}; the rbm has the blocks {' and '.join(BLOCKS)}")


def _reject_condition(condition: torch.Tensor | None) -> None:
    if condition is not None:
        raise ValueError("the rbm is not conditional; use unconditional data (conditional: false)")


def build_rbm(params: RBMParams, context: BuildContext) -> BernoulliRBM:
    domain = context.require_domain()
    shape = domain.event_shape
    if domain.is_discrete or len(shape) != 3 or domain.bounds != (-1.0, 1.0):
        raise ConfigError(
            [("discriminator.name", f"rbm needs images of shape (C, H, W) in [-1, 1], got objects of shape {shape}")]
        )
    return BernoulliRBM(shape, params.hidden, params.init_std)
