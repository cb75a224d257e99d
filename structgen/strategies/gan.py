"""The ``gan`` strategy: alternating updates of a generator and a discriminator."""

from __future__ import annotations

from typing import ClassVar, cast

import torch
from pydantic import Field

from ..config import ComponentConfig, ComponentParams
from ..context import BuildContext
from ..core import AdversarialLoss, Capability, Generator, Strategy
from ..errors import CapabilityError, ConfigError
from .updates import WeightAverage, adam, flat_sum, linear_decay, optimizer_step


class GANParams(ComponentParams):
    """Settings of the ``gan`` strategy."""

    component_fields: ClassVar[dict[str, str]] = {"loss": "loss"}

    loss: str | ComponentConfig = Field(
        "non_saturating",
        description="Registered GAN loss: a name (minimax, non_saturating, least_squares, hinge, wasserstein_gp) "
        "or a section with its parameters, e.g. {name: wasserstein_gp, gp_weight: 10}.",
    )
    d_steps: int = Field(
        1, ge=1, description="Discriminator updates per generator update (k), each on a fresh real batch."
    )
    lr_g: float = Field(2e-4, gt=0, description="Generator learning rate (Adam).")
    lr_d: float = Field(2e-4, gt=0, description="Discriminator learning rate (Adam).")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam's first-moment decay, both networks.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay, both networks.")
    lr_decay_start: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of training.steps after which both learning rates decay linearly to 0; "
        "1 keeps them constant.",
    )
    r1_gamma: float = Field(
        0.0, ge=0, description="Weight gamma of the R1 penalty (gamma/2) E||grad_x D(x_real)||^2; 0 turns it off."
    )
    r1_every: int = Field(
        1, ge=1, description="Apply R1 every this many discriminator updates, scaled up to match (lazy R1)."
    )
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Decay of the moving average of generator weights used for sampling; 0 turns it off.",
    )
    ema_warmup: bool = Field(
        False, description="Use decay min(ema_decay, (1 + t) / (10 + t)) at update t, so early weights fade fast."
    )


def build_adversarial_loss(context: BuildContext, loss: str | ComponentConfig) -> AdversarialLoss:
    """Build a registered GAN loss from its name or from a section with its parameters."""
    return context.build("loss", ComponentConfig.model_validate(loss))


class GANStrategy(Strategy):
    """Generative adversarial training (Goodfellow et al., 2014).

    Each step first makes ``d_steps`` updates of D, with G fixed, so that D
    scores real samples high and ``G(z)`` low. Then it makes one update of G,
    with D fixed, so that D scores ``G(z)`` high. The R1 penalty (Mescheder
    et al., 2018) regularises D on real data, and the weight average of G
    (Karras et al., 2018) smooths the samples. Sampling draws from G (or its average) through ``sampler``.

    At each D update, the loss's own penalty is added to D's loss. Among the
    built-in losses only ``wasserstein_gp`` has one, its gradient penalty.

    Cost per step: ``d_steps + 1`` forward-backward passes through D and two
    through G; R1 adds a double backward through D on its steps, and the
    gradient penalty a forward and a double backward pass at every D update.
    """

    def __init__(self, params: GANParams, context: BuildContext) -> None:
        super().__init__()
        if context.require_domain().is_discrete:
            raise ConfigError([("strategy.name", "gan backpropagates through samples and needs a continuous domain")])
        self.params = params
        self.batches_per_step = params.d_steps
        self.generator = context.build_generator()
        self.discriminator = context.build_discriminator()
        if params.r1_gamma > 0 and Capability.INPUT_GRADIENT not in self.discriminator.capabilities:
            raise ConfigError([("strategy.r1_gamma", "R1 needs a discriminator with input gradients")])
        self.loss = build_adversarial_loss(context, params.loss)
        missing = self.loss.missing_capabilities(self.discriminator)
        if missing:
            names = ", ".join(sorted(capability.value for capability in missing))
            raise CapabilityError(
                f"loss {type(self.loss).__name__} needs discriminator capabilities ({names}) that "
                f"{type(self.discriminator).__name__} lacks; choose another loss or discriminator"
            )
        self.optimizers = {
            "generator": adam(self.generator.parameters(), params.lr_g, params.beta1, params.beta2),
            "discriminator": adam(self.discriminator.parameters(), params.lr_d, params.beta1, params.beta2),
        }
        self.schedulers = {
            name: linear_decay(optimizer, context.total_steps, params.lr_decay_start)
            for name, optimizer in self.optimizers.items()
        }
        self.average = (
            WeightAverage(self.generator, params.ema_decay, params.ema_warmup) if params.ema_decay > 0 else None
        )
        sampling_generator = self.generator
        if self.average is not None:
            sampling_generator = cast(Generator, self.average.average)
        self.sampler = context.build_inference("amortized", generator=sampling_generator, scorer=self.discriminator)
        self._d_updates = 0

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        reals = x.chunk(self.params.d_steps)
        conditions = condition.chunk(self.params.d_steps) if condition is not None else [None] * len(reals)

        # Discriminator updates, G fixed.
        for real, real_condition in zip(reals, conditions, strict=True):
            logs.update(self._discriminator_update(real, real_condition))

        # Generator update, D fixed (its gradients are cleared before its next update).
        batch = reals[-1].shape[0]
        fake = self.generator(self.generator.sample_latent(batch), conditions[-1])
        loss_g = self.loss.generator_loss(self.discriminator(fake, conditions[-1]))
        optimizer_step(self.optimizers["generator"], loss_g)
        if self.average is not None:
            self.average.update(self.generator)
        for scheduler in self.schedulers.values():
            scheduler.step()
        logs["loss_g"] = loss_g.detach()
        return logs

    def _discriminator_update(self, real: torch.Tensor, condition: torch.Tensor | None) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.generator(self.generator.sample_latent(real.shape[0]), condition)
        apply_r1 = self.params.r1_gamma > 0 and self._d_updates % self.params.r1_every == 0
        self._d_updates += 1
        if apply_r1:
            real = real.detach().requires_grad_(True)
        real_scores = self.discriminator(real, condition)
        fake_scores = self.discriminator(fake, condition)
        loss_d = self.loss.discriminator_loss(real_scores, fake_scores)
        logs = {"loss_d": loss_d.detach()}
        loss_penalty = self.loss.penalty(self.discriminator, real, fake, condition)
        total = loss_d + loss_penalty
        if self.loss.penalty_name is not None:
            logs[self.loss.penalty_name] = loss_penalty.detach()
        if apply_r1:
            (grad,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
            penalty = 0.5 * self.params.r1_gamma * flat_sum(grad.pow(2)).mean()
            total = total + penalty * self.params.r1_every
            logs["r1"] = penalty.detach()
        optimizer_step(self.optimizers["discriminator"], total)
        return logs

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(self.discriminator, n, condition=condition)
