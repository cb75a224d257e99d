"""The ``gumbel_gan`` strategy: a text GAN trained through straight-through Gumbel-softmax rows."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field

from structgen import ConfigError, DataError
from structgen.context import BuildContext
from structgen.strategies.updates import optimizer_step

from .seqgan import TextGANParams, TextGANStrategy


class GumbelGANParams(TextGANParams):
    """Settings of the ``gumbel_gan`` strategy."""

    component_fields: ClassVar[dict[str, str]] = {"loss": "loss"}

    loss: str = Field("non_saturating", description="Registered GAN loss: minimax, non_saturating, ...")
    tau_start: float = Field(1.0, gt=0, description="Gumbel-softmax temperature at the first adversarial step.")
    tau_end: float = Field(
        0.1, gt=0, description="Gumbel-softmax temperature at the last training step, reached geometrically."
    )


class GumbelGANStrategy(TextGANStrategy):
    """A GAN on text through the Gumbel-softmax relaxation (Kusner and Hernández-Lobato, 2016; Jang et al., 2017).

    The generator's rows come from :meth:`AutoregressiveGenerator.sample_relaxed`:
    exact one-hots in the forward pass with the soft sample's gradient
    (straight-through), so the discriminator's score is differentiated with
    respect to the generator's weights directly, as in a GAN on continuous data.
    The discriminator is given real rows as one-hot floats, so it must accept
    ``(n, L, V)`` float input, as ``cnn_text`` does.

    The relaxation temperature ``tau`` falls geometrically from ``tau_start``
    at the first adversarial step to ``tau_end`` at the last training step.
    A low ``tau`` makes the soft sample close to its one-hot, which lowers the
    bias of the straight-through gradient but raises its variance.

    Phases and the order of updates are those of :class:`TextGANStrategy`.
    Adversarial steps log ``loss_g``, ``nll`` (the teacher-forced NLL of a
    real batch), ``tau`` and ``loss_d``.

    Cost per adversarial step: one relaxed sampling pass with gradient
    through ``L`` generator steps and a discriminator pass, then ``d_steps``
    discriminator updates.
    """

    def __init__(self, params: GumbelGANParams, context: BuildContext) -> None:
        super().__init__(params, context, "gumbel_gan", context.build_loss(params.loss))
        self.params: GumbelGANParams = params
        self.total_steps = context.total_steps
        self._check_one_hot_input(context)

    def _check_one_hot_input(self, context: BuildContext) -> None:
        """Raise :class:`ConfigError` when the discriminator fails on one-hot rows ``(n, L, V)``."""
        rows = self.domain.random_batch(2, device=context.device)
        training = self.discriminator.training
        # Evaluation mode, so the check leaves no trace such as a spectral-norm power iteration.
        self.discriminator.eval()
        try:
            with torch.no_grad():
                scores = self.discriminator(self.discriminator_input(rows))
        except (DataError, RuntimeError, ValueError) as err:
            raise ConfigError(
                [
                    (
                        "discriminator.name",
                        f"gumbel_gan feeds one-hot rows of shape (n, L, V) to the discriminator, and "
                        f"{type(self.discriminator).__name__} failed on them ({err}); use cnn_text",
                    )
                ]
            ) from err
        finally:
            self.discriminator.train(training)
        if scores.shape != (2,):
            raise ConfigError(
                [
                    (
                        "discriminator.name",
                        f"the discriminator returned shape {tuple(scores.shape)} for 2 one-hot rows; "
                        "it must return one score per row, shape (2,)",
                    )
                ]
            )

    def tau(self, step: int) -> float:
        """Return the Gumbel-softmax temperature of training step ``step``.

        The schedule spans the experiment's ``training.steps``. A strategy
        built without an experiment counts 1 step in all, so it uses
        ``tau_end`` from the second adversarial step on.
        """
        params = self.params
        length = max(1, self.total_steps - 1 - self.adversarial_start)
        fraction = min(1.0, max(0.0, (step - self.adversarial_start) / length))
        return params.tau_start * (params.tau_end / params.tau_start) ** fraction

    def generator_updates(self, real: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        tau = self.tau(step)
        generated = self.generator.sample_relaxed(len(real), tau)
        loss = self.loss.generator_loss(self.discriminator(generated))
        nll = self.teacher_forced_nll(real)
        total = loss + self.params.mle_weight * nll if self.params.mle_weight > 0 else loss
        optimizer_step(self.optimizers["generator"], total, self.params.grad_clip)
        return {"loss_g": loss.detach(), "nll": nll.detach(), "tau": torch.tensor(tau, device=real.device)}

    def discriminator_input(self, real: torch.Tensor) -> torch.Tensor:
        return F.one_hot(real, self.generator.vocab_size).float()

    def generated_for_discriminator(self, n: int) -> torch.Tensor:
        # The hard one-hots are exact samples of the generator for every tau, so tau is left at its default.
        with torch.no_grad():
            return self.generator.sample_relaxed(n)
