"""The ``vae`` and ``autoencoder`` strategies: the generator is trained as a decoder."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Strategy
from ..errors import ConfigError
from .encoder import EncoderKind, build_encoder
from .updates import adam, flat_sum, optimizer_step


class AutoencoderParams(ComponentParams):
    """Settings shared by the ``vae`` and ``autoencoder`` strategies."""

    lr: float = Field(1e-3, gt=0, description="Learning rate of encoder and decoder (Adam).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam's first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay.")
    encoder: EncoderKind = Field(
        "mlp",
        description="Encoder network: mlp flattens any object, and conv applies strided convolutions to (C, H, W) "
        "images, as a DCGAN discriminator does.",
    )
    encoder_hidden: int = Field(256, gt=0, description="Width of each hidden layer of the MLP encoder.")
    encoder_layers: int = Field(2, ge=1, description="Hidden layers of the MLP encoder.")
    encoder_channels: int = Field(
        32, gt=0, description="Feature maps of the first conv encoder stage, doubled at each later stage up to 512."
    )


class VAEParams(AutoencoderParams):
    """Settings of the ``vae`` strategy."""

    observation_std: float = Field(
        0.1,
        gt=0,
        description="Standard deviation sigma of the Gaussian likelihood p(x|z) = N(G(z), sigma^2 I), or its "
        "starting value when learned; choose it on the validation split.",
    )
    learn_observation_std: bool = Field(
        False, description="Learn sigma (one scalar) by maximising the ELBO, as the decoder's weights are."
    )
    beta: float = Field(1.0, gt=0, description="Weight of the KL term; 1 is the evidence lower bound.")


def _continuous_domain(context: BuildContext, strategy: str) -> tuple[int, ...]:
    domain = context.require_domain()
    if domain.is_discrete:
        raise ConfigError(
            [
                (
                    "strategy.name",
                    f"{strategy} uses a Gaussian decoder and needs a continuous domain; "
                    "for text use mle, seqgan or gumbel_gan",
                )
            ]
        )
    return domain.event_shape


def _build_encoder(params: AutoencoderParams, event_shape: tuple[int, ...], out_features: int) -> torch.nn.Module:
    return build_encoder(
        params.encoder, event_shape, out_features, params.encoder_hidden, params.encoder_layers, params.encoder_channels
    )


class VAEStrategy(Strategy):
    """Variational autoencoder (Kingma and Welling, 2014) whose decoder is the generator.

    Maximises the evidence lower bound with a Gaussian likelihood of
    standard deviation ``sigma`` (fixed, or one learned scalar), per object::

        ELBO = -||x - G(z)||^2 / (2 sigma^2) - D log(sigma sqrt(2 pi)) - beta KL(q(z|x) || N(0, I))

    with ``z = mu + sigma_q * eps`` (reparameterisation). Sampling decodes
    ``z ~ N(0, I)`` and returns the decoder mean, as is usual for images.
    """

    def __init__(self, params: VAEParams, context: BuildContext) -> None:
        super().__init__()
        event_shape = _continuous_domain(context, "vae")
        self.params = params
        self.generator = context.build_generator()
        latent = self.generator.latent_dim
        self.encoder = _build_encoder(params, event_shape, 2 * latent).to(context.device)
        self.dimension = math.prod(event_shape)
        log_std = torch.tensor(math.log(params.observation_std), device=context.device)
        if params.learn_observation_std:
            self.log_std = torch.nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        parameters = list(self.encoder.parameters()) + list(self.generator.parameters())
        if params.learn_observation_std:
            parameters.append(self.log_std)
        self.optimizers = {"vae": adam(parameters, params.lr, params.beta1, params.beta2)}
        self.sampler = context.build_inference("amortized", generator=self.generator)

    def negative_elbo(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean negative ELBO of ``x`` in nats per object, with its reconstruction and KL parts."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        reconstruction = self.generator(z, condition)
        log_norm = self.dimension * (self.log_std + 0.5 * math.log(2 * math.pi))
        nll = flat_sum((x - reconstruction).pow(2)) / (2 * torch.exp(2 * self.log_std)) + log_norm
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1)
        return (nll + self.params.beta * kl).mean(), nll.mean(), kl.mean()

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        loss, nll, kl = self.negative_elbo(x, condition)
        optimizer_step(self.optimizers["vae"], loss)
        return {
            "loss": loss.detach(),
            "nll": nll.detach(),
            "kl": kl.detach(),
            "observation_std": self.log_std.exp().detach(),
        }

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(None, n, condition=condition)


class AutoencoderStrategy(Strategy):
    """Deterministic autoencoder whose decoder is the generator.

    Minimises the squared reconstruction error. Nothing ties its codes to a
    prior, so decoding ``z ~ N(0, I)``, which is how it samples, lands
    wherever the code distribution leaves gaps: the baseline that shows why
    VAEs regularise their codes.
    """

    def __init__(self, params: AutoencoderParams, context: BuildContext) -> None:
        super().__init__()
        event_shape = _continuous_domain(context, "autoencoder")
        self.generator = context.build_generator()
        self.encoder = _build_encoder(params, event_shape, self.generator.latent_dim).to(context.device)
        parameters = list(self.encoder.parameters()) + list(self.generator.parameters())
        self.optimizers = {"autoencoder": adam(parameters, params.lr, params.beta1, params.beta2)}
        self.sampler = context.build_inference("amortized", generator=self.generator)

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        reconstruction = self.generator(self.encoder(x), condition)
        loss = flat_sum((x - reconstruction).pow(2)).mean()
        optimizer_step(self.optimizers["autoencoder"], loss)
        return {"loss": loss.detach()}

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(None, n, condition=condition)
