"""The ``seqgan`` strategy, and the phases that it shares with ``gumbel_gan``.

Both strategies train an autoregressive generator and a text discriminator
in three phases, chosen by the ``step`` argument of ``train_step``:
maximum-likelihood pre-training of the generator, pre-training of the
discriminator against the pre-trained generator, then adversarial steps.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Literal, cast

import torch
from pydantic import Field
from torch import nn

from structgen import AdversarialLoss, ConfigError, Strategy
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.losses import MinimaxLoss
from structgen.strategies.updates import WeightAverage, adam, optimizer_step

from .autoregressive import AutoregressiveGenerator
from .domain import SequenceDomain
from .mle import mle_loss
from .reinforce import mean_baseline, policy_log_probs, reinforce_loss, rollout_rewards


class TextGANParams(ComponentParams):
    """Settings shared by the ``seqgan`` and ``gumbel_gan`` strategies.

    SeqGAN's reference code (github.com/LantaoYu/SeqGAN, ``sequence_gan.py``)
    pre-trains far longer: 120 epochs of maximum likelihood over 10,000 rows
    in batches of 64 (about 19,000 updates), and 150 epochs of the
    discriminator over 10,000 real and 10,000 generated rows (about 47,000
    updates). The defaults here are smaller to keep a run cheap on a CPU.
    """

    pretrain_steps: int = Field(
        1000,
        ge=0,
        description="Steps of maximum-likelihood pre-training of the generator at the start; smaller than "
        "SeqGAN's (about 19,000 updates), for CPU training.",
    )
    d_pretrain_steps: int = Field(
        200,
        ge=0,
        description="Steps of discriminator pre-training that follow, each making max(1, d_steps) updates; "
        "smaller than SeqGAN's (about 47,000 updates), for CPU training.",
    )
    d_steps: int = Field(
        3, ge=0, description="Discriminator updates per adversarial step, each on a fresh real batch and fresh samples."
    )
    lr_g: float = Field(1e-3, gt=0, description="Generator learning rate (Adam), in every phase.")
    lr_d: float = Field(1e-4, gt=0, description="Discriminator learning rate (Adam).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam's first-moment decay, both networks.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay, both networks.")
    grad_clip: float = Field(
        5.0, ge=0, description="Maximum L2 norm of each network's gradient before an update; 0 turns clipping off."
    )
    mle_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the teacher-forced NLL of a real batch added to the generator loss in adversarial "
        "steps; 0 leaves it out.",
    )


class SeqGANParams(TextGANParams):
    """Settings of the ``seqgan`` strategy."""

    rollouts: int = Field(
        8, ge=1, description="Monte-Carlo completions per prefix for each token's reward; SeqGAN used 16."
    )
    g_steps: int = Field(1, ge=1, description="Policy-gradient updates of the generator per adversarial step.")
    baseline: Literal["mean", "none"] = Field(
        "mean",
        description="Reward baseline: `mean` subtracts the batch's mean reward at each position, `none` nothing.",
    )
    rollout_update: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Rate r of the delayed rollout copy, updated as copy <- r * copy + (1 - r) * generator after "
        "each generator update (SeqGAN: 0.8); 0 rolls out with the generator itself, 1 keeps the pre-trained one.",
    )
    temperature: float = Field(
        1.0,
        gt=0,
        description="Softmax temperature of the policy in adversarial steps: the samples, their rollouts and "
        "the log-probabilities of the policy gradient all use logits / temperature.",
    )


def require_autoregressive(generator: nn.Module, context: BuildContext, strategy: str) -> AutoregressiveGenerator:
    """Return ``generator``, or raise :class:`ConfigError` when it is not an :class:`AutoregressiveGenerator`."""
    if isinstance(generator, AutoregressiveGenerator):
        return generator
    name = type(generator).__name__
    if context.experiment is not None:
        name = f"{context.experiment.generator.component.name} ({name})"
    raise ConfigError(
        [("generator.name", f"{strategy} needs an autoregressive generator, got {name}; use gru or transformer")]
    )


class TextGANStrategy(Strategy):
    """The phases shared by the adversarial text strategies.

    Step ``s`` of training is, with ``P = pretrain_steps`` and
    ``Q = d_pretrain_steps``:

    - ``s < P``: one maximum-likelihood update of the generator on the first
      real batch; logs ``nll``.
    - ``P <= s < P + Q``: one discriminator update per real batch, against
      as many fresh generated rows; logs ``loss_d``.
    - ``s >= P + Q``: :meth:`generator_updates`, then ``d_steps``
      discriminator updates on fresh real batches and fresh samples.

    ``x`` contains ``max(1, d_steps)`` real batches, concatenated. Subclasses
    set how real and generated rows are fed to the discriminator and how the
    generator is updated.
    """

    def __init__(self, params: TextGANParams, context: BuildContext, name: str, loss: AdversarialLoss) -> None:
        super().__init__()
        domain = context.require_domain()
        if not isinstance(domain, SequenceDomain):
            raise ConfigError(
                [("strategy.name", f"{name} trains text generators and needs the sequences domain, got {domain.name}")]
            )
        if loss.penalty_name is not None:
            raise ConfigError(
                [
                    (
                        "strategy.loss",
                        f"{name} does not add the {loss.penalty_name} penalty of {type(loss).__name__}, which "
                        "needs input gradients that token rows lack; use non_saturating, minimax, hinge or "
                        "least_squares",
                    )
                ]
            )
        self.params = params
        self.name = name
        self.domain = domain
        self.loss = loss
        self.batches_per_step = max(1, params.d_steps)
        self.generator = require_autoregressive(context.build_generator(), context, name)
        self.discriminator = context.build_discriminator()
        self.optimizers = {
            "generator": adam(self.generator.parameters(), params.lr_g, params.beta1, params.beta2),
            "discriminator": adam(self.discriminator.parameters(), params.lr_d, params.beta1, params.beta2),
        }
        self.sampler = context.build_inference("amortized", generator=self.generator, scorer=self.discriminator)

    @property
    def adversarial_start(self) -> int:
        """First step of the adversarial phase."""
        return self.params.pretrain_steps + self.params.d_pretrain_steps

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        if condition is not None:
            raise ValueError(f"{self.name} trains unconditional generators; use a data set without labels")
        reals = x.chunk(self.batches_per_step)

        if step < self.params.pretrain_steps:
            nll = mle_loss(self.generator, reals[0])
            optimizer_step(self.optimizers["generator"], nll, self.params.grad_clip)
            return {"nll": nll.detach()}
        if step < self.adversarial_start:
            return {"loss_d": self._discriminator_updates(reals)}

        logs = self.generator_updates(reals[0], step)
        if self.params.d_steps > 0:
            logs["loss_d"] = self._discriminator_updates(reals)
        return logs

    @abstractmethod
    def generator_updates(self, real: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """Update the generator in adversarial step ``step``; ``real`` is a real batch for the NLL term."""

    @abstractmethod
    def discriminator_input(self, real: torch.Tensor) -> torch.Tensor:
        """Return real rows ``(n, L)`` in the form the discriminator is given in this strategy."""

    @abstractmethod
    def generated_for_discriminator(self, n: int) -> torch.Tensor:
        """Return ``n`` detached generated rows in the form of :meth:`discriminator_input`."""

    def teacher_forced_nll(self, real: torch.Tensor) -> torch.Tensor:
        """Return the NLL per real token of ``real``, with a graph only when ``mle_weight`` adds it to the loss."""
        if self.params.mle_weight > 0:
            return mle_loss(self.generator, real)
        with torch.no_grad():
            return mle_loss(self.generator, real)

    def _discriminator_updates(self, reals: Iterable[torch.Tensor]) -> torch.Tensor:
        """Make one discriminator update per real batch; return the mean loss."""
        losses = []
        for real in reals:
            generated = self.generated_for_discriminator(len(real))
            real_scores = self.discriminator(self.discriminator_input(real))
            fake_scores = self.discriminator(generated)
            loss = self.loss.discriminator_loss(real_scores, fake_scores)
            optimizer_step(self.optimizers["discriminator"], loss, self.params.grad_clip)
            losses.append(loss.detach())
        return torch.stack(losses).mean()

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(self.discriminator, n, condition=condition)


class SeqGANStrategy(TextGANStrategy):
    """SeqGAN (Yu et al., 2017): the generator is a policy trained by REINFORCE on discriminator rewards.

    The reward of token ``t`` of a generated row is the discriminator's mean
    probability of "real" over ``rollouts`` completions of the row's first
    ``t + 1`` tokens (:func:`rollout_rewards`). The completions come from a
    delayed copy of the generator, which starts as the generator at the first
    adversarial step and then follows it at rate ``rollout_update``. The
    discriminator is trained with the cross-entropy of real against generated
    rows, given as token ids.

    Adversarial steps log ``loss_g`` (the REINFORCE loss), ``reward`` (the
    mean ``sigmoid(D)`` of the generated rows), ``nll`` (the teacher-forced
    NLL of a real batch) and ``loss_d``.

    Cost per adversarial step: for each of ``g_steps`` updates, ``L - 1``
    rollout calls over up to ``batch * rollouts`` rows of up to ``L`` steps
    each, then ``d_steps`` discriminator updates.
    """

    def __init__(self, params: SeqGANParams, context: BuildContext) -> None:
        super().__init__(params, context, "seqgan", MinimaxLoss())
        self.params: SeqGANParams = params
        self.rollout = WeightAverage(self.generator, params.rollout_update) if params.rollout_update > 0 else None

    def policy_samples(self, n: int) -> torch.Tensor:
        """Draw ``n`` rows from the policy: all tokens at ``temperature``, whatever the generator's top_k."""
        return self.generator.sample(n, temperature=self.params.temperature, top_k=self.generator.vocab_size)

    def generator_updates(self, real: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        rollout_policy = self.generator
        if self.rollout is not None:
            if self.rollout.updates == 0:
                # The copy starts as the pre-trained generator.
                self.rollout.average.load_state_dict(self.generator.state_dict())
            rollout_policy = cast(AutoregressiveGenerator, self.rollout.average)

        logs: dict[str, list[torch.Tensor]] = {"loss_g": [], "reward": [], "nll": []}
        for _ in range(self.params.g_steps):
            samples = self.policy_samples(len(real))
            rewards = rollout_rewards(
                rollout_policy,
                samples,
                self.discriminator,
                self.params.rollouts,
                temperature=self.params.temperature,
                top_k=self.generator.vocab_size,
            )
            mask = self.domain.mask(samples)
            baseline = mean_baseline(rewards, mask) if self.params.baseline == "mean" else None
            log_probs = policy_log_probs(self.generator, samples, self.params.temperature)
            loss = reinforce_loss(log_probs, rewards, mask, baseline)
            nll = self.teacher_forced_nll(real)
            total = loss + self.params.mle_weight * nll if self.params.mle_weight > 0 else loss
            optimizer_step(self.optimizers["generator"], total, self.params.grad_clip)
            if self.rollout is not None:
                self.rollout.update(self.generator)

            last = mask.sum(dim=1, keepdim=True) - 1
            logs["loss_g"].append(loss.detach())
            logs["reward"].append(rewards.gather(1, last).mean())
            logs["nll"].append(nll.detach())
        return {key: torch.stack(values).mean() for key, values in logs.items()}

    def discriminator_input(self, real: torch.Tensor) -> torch.Tensor:
        return real

    def generated_for_discriminator(self, n: int) -> torch.Tensor:
        return self.policy_samples(n)
