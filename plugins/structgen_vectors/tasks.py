"""The ``mixture`` comparison: GAN, VAE and an energy model on the ring and grid mixtures."""

from __future__ import annotations

from typing import Any

from structgen.compare import CompareConfig

# One generator architecture for the GAN and the VAE decoder; the energy model has no generator.
GENERATOR: dict[str, Any] = {"name": "mlp", "latent_dim": 16, "hidden": 256, "layers": 3}
DISCRIMINATOR: dict[str, Any] = {"name": "mlp", "hidden": 256, "layers": 3}


def mixture_task(params: Any, context: Any) -> CompareConfig:
    return CompareConfig(
        datasets=[{"name": "ring"}, {"name": "grid"}],
        base={
            "generator": GENERATOR,
            "discriminator": DISCRIMINATOR,
            "training": {"steps": 4000, "batch_size": 256},
        },
        strategies={
            "gan": {"strategy": {"name": "gan", "loss": "non_saturating", "r1_gamma": 0.1, "ema_decay": 0.999}},
            "vae": {"strategy": {"name": "vae", "observation_std": 0.05}},
            "energy": {
                "strategy": {"name": "energy"},
                "discriminator": {"name": "mlp", "hidden": 128, "layers": 3, "activation": "silu"},
                "inference": {"name": "langevin", "steps": 30, "step_size": 0.001, "temperature": 1.0},
            },
        },
        seeds=3,
    )
