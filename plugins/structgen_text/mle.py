"""The ``mle`` strategy: maximum-likelihood training of an autoregressive generator with teacher forcing."""

from __future__ import annotations

from typing import Protocol, cast, runtime_checkable

import torch
from pydantic import Field

from structgen import ConfigError, Generator, Strategy
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.strategies.updates import adam, linear_decay, optimizer_step

from .domain import SequenceDomain


class MLEParams(ComponentParams):
    """Settings of the ``mle`` strategy."""

    lr: float = Field(1e-3, gt=0, description="Learning rate (Adam).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam's first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay.")
    grad_clip: float = Field(
        5.0, ge=0, description="Maximum L2 norm of all gradients together before each update; 0 turns clipping off."
    )
    lr_decay_start: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of training.steps after which the learning rate decays linearly to 0; 1 keeps it constant.",
    )


@runtime_checkable
class TokenLikelihoodModel(Protocol):
    """A generator with per-token log-likelihoods over a sequence domain, such as an ``AutoregressiveGenerator``."""

    domain: SequenceDomain

    def token_log_probs(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``log p(x_t | x_<t)``, shape ``(n, L)``, and 0 after each row's first ``<eos>``."""
        ...


def mle_loss(generator: TokenLikelihoodModel, x: torch.Tensor) -> torch.Tensor:
    """Return the mean negative log-likelihood per real token of the rows ``x``, a scalar in nats.

    Real tokens are the positions where ``generator.domain.mask(x)`` is
    True: the text's tokens and its ``<eos>``.
    """
    log_probs = generator.token_log_probs(x)
    real = generator.domain.mask(x)
    return -log_probs.sum() / real.sum().clamp(min=1)


def _require_likelihood(generator: Generator, context: BuildContext) -> None:
    if isinstance(generator, TokenLikelihoodModel):
        return
    name = type(generator).__name__
    if context.experiment is not None:
        name = f"{context.experiment.generator.component.name} ({name})"
    raise ConfigError(
        [
            (
                "generator.name",
                f"mle needs an autoregressive generator with a per-token likelihood, got {name}; "
                "set generator.name to gru or transformer",
            )
        ]
    )


class MLEStrategy(Strategy):
    """Maximum likelihood with teacher forcing: minimise the mean NLL per real token of each batch.

    Each step makes one Adam update of the generator on
    :func:`mle_loss`, with the gradient norm clipped to ``grad_clip``; the
    learning rate decays linearly to 0 over the last ``1 - lr_decay_start``
    of training.
    Sampling uses the ``amortized`` sampler, that is, the generator's own
    :meth:`sample`.
    """

    def __init__(self, params: MLEParams, context: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.generator = context.build_generator()
        _require_likelihood(self.generator, context)
        self.optimizers = {"generator": adam(self.generator.parameters(), params.lr, params.beta1, params.beta2)}
        self.schedulers = {
            "generator": linear_decay(self.optimizers["generator"], context.total_steps, params.lr_decay_start)
        }
        self.sampler = context.build_inference("amortized", generator=self.generator)

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        if condition is not None:
            raise ValueError("mle trains unconditional generators; use a data set without labels")
        loss = mle_loss(cast(TokenLikelihoodModel, self.generator), x)
        optimizer_step(self.optimizers["generator"], loss, self.params.grad_clip)
        self.schedulers["generator"].step()
        return {"nll": loss.detach()}

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(None, n, condition=condition)
