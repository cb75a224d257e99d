"""The ``digits`` and ``mnist`` comparisons, each with the real-data floor.

``digits``: GAN and VAE with the same generator network. Both train
10,000 steps on batches of 64. The VAE's observation noise sigma = 0.5 was
chosen by the Fréchet distance on the validation split
(sigma in {0.3, 0.4, 0.5, 0.6, 0.7, 1.0} and a learned sigma, seed 0); the
GAN's R1 weight was chosen the same way (gamma in {0, 1, 5, 10}).

``mnist``: four GAN losses, a VAE and an energy model with DCGAN networks
on the 28x28 mnist split; the energy model runs one seed, the others three.
The VAE's sigma = 1.0 was chosen the same way, at 3,000 steps
(sigma in {0.3, 0.5, 0.7, 1.0, 1.4, 2.0} and a learned sigma).
"""

from __future__ import annotations

from typing import Any

from structgen.compare import CompareConfig

GENERATOR: dict[str, Any] = {"name": "mlp", "latent_dim": 32, "hidden": 256, "layers": 2}
DISCRIMINATOR: dict[str, Any] = {"name": "mlp", "hidden": 256, "layers": 2}

GAN: dict[str, Any] = {
    "strategy": {
        "name": "gan",
        "loss": "non_saturating",
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "beta1": 0.5,
        "beta2": 0.999,
        "r1_gamma": 10.0,
        "ema_decay": 0.999,
        "ema_warmup": True,
    }
}

VAE: dict[str, Any] = {
    "strategy": {"name": "vae", "lr": 1e-3, "encoder_hidden": 256, "encoder_layers": 2, "observation_std": 0.5}
}


def digits_task(params: Any, context: Any) -> CompareConfig:
    return CompareConfig(
        datasets=[{"name": "digits"}],
        base={
            "generator": GENERATOR,
            "discriminator": DISCRIMINATOR,
            "training": {"steps": 10_000, "batch_size": 64, "eval_samples": 2000},
        },
        strategies={"gan": GAN, "vae": VAE},
        seeds=3,
        real_floor=True,
    )


# The mnist comparison: four GAN losses, a VAE and an energy model with DCGAN networks of one width.
# Widths are a quarter of DCGAN's (32 feature maps in the first discriminator stage, not 128),
# so that three seeds of each fit a 2-core CPU.
MNIST_GENERATOR: dict[str, Any] = {"name": "dcgan", "latent_dim": 64, "channels": 32}
MNIST_DISCRIMINATOR: dict[str, Any] = {"name": "dcgan", "channels": 32}
MNIST_METRICS = ["frechet_distance", "inception_score", "precision_recall", "density_coverage", "classes_covered"]
# DCGAN's Adam settings (Radford et al., 2016).
DCGAN_ADAM: dict[str, Any] = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}


def _gan(loss: str, **settings: Any) -> dict[str, Any]:
    return {"strategy": {"name": "gan", "loss": loss, **DCGAN_ADAM, "ema_decay": 0.999, "ema_warmup": True, **settings}}


MNIST_STRATEGIES: dict[str, dict[str, Any]] = {
    "gan_ns": _gan("non_saturating"),
    # Gulrajani et al. (2017): 5 critic updates per generator update, Adam (0.5, 0.9), lr 1e-4.
    "wgan_gp": _gan("wasserstein_gp", d_steps=5, lr_g=1e-4, lr_d=1e-4, beta2=0.9),
    # Miyato et al. (2018): hinge loss with a spectrally normalised discriminator.
    "gan_hinge_sn": {**_gan("hinge"), "discriminator": {**MNIST_DISCRIMINATOR, "spectral_norm": True}},
    "lsgan": _gan("least_squares"),
    "vae": {"strategy": {"name": "vae", "encoder": "conv", "lr": 1e-3, "observation_std": 1.0}},
    # Du and Mordatch (2019): short-run Langevin from a replay buffer, spectral normalisation, a score penalty.
    "energy": {
        "strategy": {
            "name": "energy",
            "lr": 1e-4,
            "score_penalty": 1.0,
            "buffer_size": 10_000,
            "restart_fraction": 0.05,
            "negatives": {"name": "langevin", "steps": 20, "step_size": 10.0, "temperature": 1e-6},
            "sample_start": "buffer",
        },
        "generator": None,
        "discriminator": {**MNIST_DISCRIMINATOR, "spectral_norm": True},
        "inference": {"name": "langevin", "steps": 60, "step_size": 10.0, "temperature": 1e-6},
    },
}


def mnist_task(params: Any, context: Any) -> CompareConfig:
    return CompareConfig(
        datasets=[{"name": "mnist"}],
        base={
            "generator": MNIST_GENERATOR,
            "discriminator": MNIST_DISCRIMINATOR,
            "training": {"steps": 3000, "batch_size": 64, "log_every": 100, "eval_samples": 2000},
            "metrics": MNIST_METRICS,
        },
        strategies=MNIST_STRATEGIES,
        seeds=3,
        strategy_seeds={"energy": 1},
        table="mean_std",
        real_floor=True,
    )
