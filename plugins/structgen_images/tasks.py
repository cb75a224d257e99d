"""The ``digits`` comparison: GAN and VAE with the same generator network, and the real-data floor.

Both train 10,000 steps on batches of 64. The VAE's observation noise
sigma = 0.5 was chosen by the Fréchet distance on the validation split
(sigma in {0.3, 0.4, 0.5, 0.6, 0.7, 1.0} and a learned sigma, seed 0); the
GAN's R1 weight was chosen the same way (gamma in {0, 1, 5, 10}).
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
