"""The ``energy`` strategy: a discriminator trained alone, with negatives found by search."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from ..config import ComponentConfig, ComponentParams
from ..context import BuildContext
from ..core import Strategy
from .updates import adam, optimizer_step


class EnergyParams(ComponentParams):
    """Settings of the ``energy`` strategy."""

    component_fields: ClassVar[dict[str, str]] = {"negatives": "inference"}

    lr: float = Field(1e-3, gt=0, description="Discriminator learning rate (Adam).")
    beta1: float = Field(0.0, ge=0, lt=1, description="Adam's first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay.")
    score_penalty: float = Field(
        0.1, ge=0, description="Weight alpha of alpha * (score(x+)^2 + score(x-)^2), which keeps scores bounded."
    )
    buffer_size: int = Field(
        10_000,
        ge=0,
        description="Replay buffer of earlier negatives that chains restart from; 0 starts every chain from noise.",
    )
    restart_fraction: float = Field(
        0.05, ge=0, le=1, description="Fraction of chains per step restarted instead of continued from the buffer."
    )
    restart_from: Literal["noise", "data"] = Field(
        "noise",
        description="Where restarted chains start: noise, or the real batch of the step (as contrastive "
        "divergence does; for discrete domains, where chains from noise rarely reach the data).",
    )
    sample_start: Literal["noise", "buffer"] = Field(
        "noise",
        description="Where the chains that draw the final samples start: noise, or states of the replay buffer "
        "(persistent chains, for discrete domains where a search from noise mixes slowly).",
    )
    negatives: ComponentConfig | None = Field(
        None,
        description="Inference that finds the negatives during training, e.g. a short Langevin run from the "
        "buffer; None uses the experiment's inference, which always draws the final samples.",
    )


class EnergyStrategy(Strategy):
    """Discriminator-only training of an energy-based model (Du and Mordatch, 2019).

    Each step, the positives are the real batch and the negatives are what
    the inference algorithm finds when it maximises (or samples) the current
    score, started from noise or from a replay buffer of earlier negatives.
    The discriminator then lowers the score of the negatives and raises
    that of the positives, the contrastive-divergence gradient of
    ``log p(x) = score(x) - log Z``::

        loss = mean score(x-) - mean score(x+) + alpha * mean(score(x+)^2 + score(x-)^2)

    Generating means running inference on the trained scorer, started from
    noise (or, with ``sample_start: buffer``, from the replay buffer's
    persistent chains): the experiment's inference, which may be a longer,
    annealed run of the algorithm that found the training negatives.
    """

    def __init__(self, params: EnergyParams, context: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.domain = context.require_domain()
        self.discriminator = context.build_discriminator()
        self.sampler = context.build_inference("langevin", scorer=self.discriminator)
        self.negatives = self.sampler
        if params.negatives is not None:
            self.negatives = context.build_inference("langevin", scorer=self.discriminator, section=params.negatives)
        self.optimizers = {
            "discriminator": adam(self.discriminator.parameters(), params.lr, params.beta1, params.beta2)
        }
        self.buffer: torch.Tensor
        self.register_buffer("buffer", torch.empty(0, *self.domain.event_shape, dtype=self.domain.dtype))

    def _negatives_start(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Chain starts drawn from the buffer, a fraction restarted from noise or data, and their buffer slots."""
        n, device = x.shape[0], x.device
        if self.params.buffer_size == 0:
            return None, None
        if len(self.buffer) == 0:
            self.buffer = self.domain.random_batch(self.params.buffer_size, device=device)
        slots = torch.randint(len(self.buffer), (n,), device=device)
        start = self.buffer[slots]
        restart = torch.rand(n, device=device) < self.params.restart_fraction
        fresh = x if self.params.restart_from == "data" else self.domain.random_batch(n, device=device)
        return torch.where(restart.view(-1, *([1] * (start.dim() - 1))), fresh, start), slots

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        start, slots = self._negatives_start(x)
        negatives = self.negatives.run(self.discriminator, x.shape[0], init=start, condition=condition)
        if slots is not None:
            self.buffer[slots] = negatives

        positive_scores = self.discriminator(x, condition)
        negative_scores = self.discriminator(negatives, condition)
        contrast = negative_scores.mean() - positive_scores.mean()
        penalty = (positive_scores.pow(2) + negative_scores.pow(2)).mean()
        optimizer_step(self.optimizers["discriminator"], contrast + self.params.score_penalty * penalty)
        return {"contrast": contrast.detach(), "score_penalty": penalty.detach()}

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        init = None
        if self.params.sample_start == "buffer" and len(self.buffer) > 0:
            init = self.buffer[torch.randint(len(self.buffer), (n,), device=self.buffer.device)]
        return self.sampler.run(self.discriminator, n, init=init, condition=condition)

    def load_training_state(self, state: dict, with_optimizers: bool = True) -> None:
        # The buffer is filled at the first step, so a fresh strategy's empty one must be resized first.
        self.buffer = state["model"]["buffer"].to(self.buffer.device).clone()
        super().load_training_state(state, with_optimizers)
