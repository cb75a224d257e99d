"""The ``conv`` encoder of the ``vae`` and ``autoencoder`` strategies."""

from __future__ import annotations

import pytest
import torch

from structgen import ConfigError
from structgen.config import load_experiment
from structgen.experiment import build_experiment, train
from structgen.strategies.encoder import ConvEncoder, MLPEncoder

DCGAN_DECODER = {"name": "dcgan", "latent_dim": 8, "channels": 16}


def _experiment(registry, strategy: dict, steps: int, data: dict | None = None, generator: dict | None = None):
    values = {
        "data": data or {"name": "digits"},
        "strategy": strategy,
        "generator": generator or DCGAN_DECODER,
        "training": {"steps": steps, "batch_size": 64, "log_every": 10},
        "metrics": [],
        "device": "cpu",
        "seed": 0,
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


def _validation_loss(experiment) -> float:
    strategy = experiment.strategy
    x = experiment.data.validation.x
    torch.manual_seed(1)  # the same reparameterisation noise before and after training
    with torch.no_grad():
        if hasattr(strategy, "negative_elbo"):
            return float(strategy.negative_elbo(x)[0])
        return float((strategy.generator(strategy.encoder(x)) - x).pow(2).flatten(1).sum(dim=1).mean())


@pytest.mark.parametrize(
    "shape, stages",
    [((1, 28, 28), 2), ((3, 32, 32), 3), ((1, 8, 8), 1), ((2, 12, 20), 2)],
    ids=["28x28x1", "32x32x3", "8x8x1", "12x20x2"],
)
def test_conv_encoder_shapes(shape, stages):
    encoder = ConvEncoder(shape, out_features=6, channels=8)
    convolutions = [layer for layer in encoder.net if isinstance(layer, torch.nn.Conv2d)]
    assert len(convolutions) == stages
    assert [layer.out_channels for layer in convolutions] == [8 * 2**stage for stage in range(stages)]
    assert encoder(torch.zeros(5, *shape)).shape == (5, 6)


def test_conv_encoder_caps_channels():
    encoder = ConvEncoder((1, 64, 64), out_features=2, channels=16, max_channels=32)
    assert [layer.out_channels for layer in encoder.net if isinstance(layer, torch.nn.Conv2d)] == [16, 32, 32, 32]


@pytest.mark.parametrize("name", ["vae", "autoencoder"])
def test_conv_encoder_loss_falls(registry, name):
    experiment = _experiment(registry, {"name": name, "encoder": "conv", "encoder_channels": 16}, steps=40)
    assert isinstance(experiment.strategy.encoder, ConvEncoder)
    before = _validation_loss(experiment)
    train(experiment)
    after = _validation_loss(experiment)
    assert after < 0.5 * before, f"{name}: validation loss {before:.1f} -> {after:.1f}"


def test_default_encoder_is_mlp(registry):
    experiment = _experiment(registry, {"name": "vae"}, steps=1)
    assert isinstance(experiment.strategy.encoder, MLPEncoder)


def test_conv_encoder_rejects_vectors(registry):
    with pytest.raises(ConfigError, match=r"strategy\.encoder: the conv encoder needs images of shape \(C, H, W\)"):
        _experiment(
            registry,
            {"name": "vae", "encoder": "conv"},
            steps=1,
            data={"name": "ring", "train_size": 64, "eval_size": 16},
            generator={"name": "mlp", "latent_dim": 2, "hidden": 8, "layers": 1},
        )


def test_conv_encoder_rejects_odd_sides():
    with pytest.raises(ConfigError, match="both even and above 4, but the images are 7x9"):
        ConvEncoder((1, 7, 9), out_features=2, channels=8)
