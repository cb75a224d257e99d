"""The ``contrastive_divergence`` strategy: trains an ``rbm`` by CD-k or persistent CD."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from structgen import ConfigError, DataError, Strategy
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.core import DataSplits
from structgen.inference.block_gibbs import random_objects, sample_chains
from structgen.strategies.updates import optimizer_step

from .rbm import BernoulliRBM

# Pixel frequencies are clipped to this distance from 0 and 1 before their logit becomes a visible bias.
FREQUENCY_CLIP = 1e-3


class ContrastiveDivergenceParams(ComponentParams):
    """Settings of the ``contrastive_divergence`` strategy."""

    k: int = Field(1, ge=1, description="Block Gibbs sweeps per update that produce the negative samples.")
    persistent: bool = Field(
        False,
        description="Persistent CD: the negative chains continue across updates instead of restarting at the batch.",
    )
    chains: int | None = Field(
        None, ge=1, description="Number of persistent chains, or None for the batch size. Ignored without persistent."
    )
    lr: float = Field(0.05, gt=0, description="SGD learning rate.")
    # NOTE: with momentum 0.9, persistent CD on binarized mnist (hidden 128, lr 0.05, batch 32, 3,000 steps,
    # one run each) collapsed onto one mode, and with 0.5 or 0 it did not.
    momentum: float = Field(0.5, ge=0, lt=1, description="SGD momentum.")
    weight_decay: float = Field(1e-4, ge=0, description="L2 weight cost on the rbm's weights W, not on its biases.")
    visible_bias_from_data: bool = Field(
        True,
        description="Start visible bias i at log(p_i / (1 - p_i)), where p_i is how often pixel i is on in the "
        "training split, so the untrained model already has the data's pixel marginals.",
    )


class ContrastiveDivergence(Strategy):
    """Maximum-likelihood training of an RBM by contrastive divergence.

    The gradient of the mean log-likelihood ``mean log p(v) = mean(-F(v)) - log Z``
    is a data term minus a model term. Each update estimates the model term
    with negative samples ``v-`` and minimises

        loss = mean F(v_data) - mean F(v-),    with ``v-`` detached,

    whose gradient is the positive phase (statistics under ``p(h | v_data)``)
    minus the negative phase (the same under ``p(h | v-)``). CD-k (Hinton,
    2002) draws ``v-`` by ``k`` block Gibbs sweeps from the data batch.
    Persistent CD (Tieleman, 2008) keeps ``chains`` Markov chains, started
    from noise, and advances them ``k`` sweeps per update, so they follow the
    slowly changing model. The chains are part of the training state, so a
    resumed run continues them.

    The optimiser is SGD with momentum and an L2 weight cost on ``W`` only.
    Logs: ``free_energy_gap``, the loss above, and ``reconstruction_error``,
    the mean squared error between the batch's visible units and
    ``p(v | h)`` for ``h ~ p(h | v_data)``, before the update. Samples come
    from the experiment's inference, by default ``block_gibbs`` from noise.
    """

    def __init__(self, params: ContrastiveDivergenceParams, context: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.domain = context.require_domain()
        discriminator = context.build_discriminator()
        self.discriminator = _require_rbm(discriminator, context)
        if context.num_classes is not None:
            raise ConfigError(
                [("data.conditional", "contrastive_divergence trains an unconditional rbm; set conditional: false")]
            )
        if context.data is not None:
            _require_binary(context.data)
            if params.visible_bias_from_data:
                _set_visible_bias(self.discriminator, context.data.train.x)

        self.sampler = context.build_inference("block_gibbs", scorer=self.discriminator)
        rbm = self.discriminator
        groups = [
            {"params": [rbm.weight], "weight_decay": params.weight_decay},
            {"params": [rbm.visible_bias, rbm.hidden_bias], "weight_decay": 0.0},
        ]
        self.optimizers = {"discriminator": torch.optim.SGD(groups, lr=params.lr, momentum=params.momentum)}
        self.chains: torch.Tensor
        self.register_buffer("chains", torch.empty(0, *self.domain.event_shape, dtype=self.domain.dtype))

    def _negative_start(self, x: torch.Tensor) -> torch.Tensor:
        """Return the chain starts: the batch for CD-k, or the persistent chains (noise at the first update)."""
        if not self.params.persistent:
            return x
        if len(self.chains) == 0:
            count = self.params.chains or x.shape[0]
            self.chains = random_objects(self.domain, count, x.device)
        return self.chains

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        rbm = self.discriminator
        negatives = sample_chains(rbm, self.domain, self._negative_start(x), self.params.k)
        if self.params.persistent:
            self.chains = negatives

        data_units = rbm.to_visible(x)
        reconstruction_error = self._reconstruction_error(data_units)
        gap = rbm.free_energy(data_units).mean() - rbm.free_energy(rbm.to_visible(negatives)).mean()
        optimizer_step(self.optimizers["discriminator"], gap)
        return {"free_energy_gap": gap.detach(), "reconstruction_error": reconstruction_error}

    @torch.no_grad()
    def _reconstruction_error(self, data_units: torch.Tensor) -> torch.Tensor:
        rbm = self.discriminator
        hidden = torch.bernoulli(torch.sigmoid(rbm.hidden_logits(data_units)))
        reconstruction = torch.sigmoid(rbm.visible_logits(hidden))
        return (reconstruction - data_units).pow(2).mean()

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(self.discriminator, n, condition=condition)

    def load_training_state(self, state: dict[str, Any], with_optimizers: bool = True) -> None:
        # The chains are drawn at the first update, so a fresh strategy's empty buffer must be resized first.
        self.chains = state["model"]["chains"].to(self.chains.device).clone()
        super().load_training_state(state, with_optimizers)


def _require_rbm(discriminator: torch.nn.Module, context: BuildContext) -> BernoulliRBM:
    if isinstance(discriminator, BernoulliRBM):
        return discriminator
    name = context.experiment.discriminator.component.name if context.experiment is not None else None
    found = repr(name) if name is not None else type(discriminator).__name__
    raise ConfigError(
        [
            (
                "discriminator.name",
                f"contrastive_divergence trains an rbm, got discriminator {found}; set discriminator: {{name: rbm}}",
            )
        ]
    )


def _require_binary(data: DataSplits) -> None:
    x = data.train.x
    binary = (x == 1) | (x == -1)
    if not bool(binary.all()):
        fraction = 1.0 - float(binary.float().mean())
        raise DataError(
            f"contrastive_divergence trains an rbm on binary images with pixels -1 and 1, but {fraction:.1%} of "
            "the training pixels lie strictly between; binarize the data (binarize: true on the mnist and "
            "image_folder data sets)"
        )


@torch.no_grad()
def _set_visible_bias(rbm: BernoulliRBM, images: torch.Tensor) -> None:
    frequency = rbm.to_visible(images).mean(dim=0).clamp(FREQUENCY_CLIP, 1 - FREQUENCY_CLIP)
    rbm.visible_bias.copy_(torch.logit(frequency).to(rbm.visible_bias.device))
