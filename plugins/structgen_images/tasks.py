"""The ``digits`` comparison: GAN and VAE with the same generator network, and the real-data floor."""

from __future__ import annotations

from typing import Any

from structgen.compare import CompareConfig

GENERATOR: dict[str, Any] = {"name": "mlp", "latent_dim": 32, "hidden": 256, "layers": 2}
DISCRIMINATOR: dict[str, Any] = {"name": "mlp", "hidden": 256, "layers": 2}


def digits_task(params: Any, context: Any) -> CompareConfig:
    return CompareConfig(
        datasets=[{"name": "digits"}],
        base={
            "generator": GENERATOR,
            "discriminator": DISCRIMINATOR,
            "training": {"steps": 3000, "batch_size": 128, "eval_samples": 2000},
        },
        strategies={
            "gan": {"strategy": {"name": "gan", "loss": "non_saturating", "r1_gamma": 1.0, "ema_decay": 0.999}},
            "vae": {"strategy": {"name": "vae", "observation_std": 0.3}},
        },
        seeds=3,
        real_floor=True,
    )
