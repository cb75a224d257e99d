"""GAN losses on known scores, the WGAN-GP gradient penalty, and short GAN runs with each loss."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structgen import CapabilityError, ConfigError, DataError
from structgen.config import load_experiment
from structgen.core import Discriminator
from structgen.experiment import build_experiment
from structgen.losses import HingeLoss, LeastSquaresLoss, WassersteinGPLoss, gradient_penalty, interpolate

SMALL_NETWORKS = {
    "generator": {"name": "mlp", "latent_dim": 4, "hidden": 32, "layers": 2},
    "discriminator": {"name": "mlp", "hidden": 32, "layers": 2},
}
REAL_SCORES = torch.tensor([2.0, 0.5])
FAKE_SCORES = torch.tensor([-1.0, 0.5])


class LinearCritic(Discriminator):
    """``s(x) = <w, x>`` summed over every dimension of a sample, so the input gradient is ``w`` everywhere."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return (x * self.weight).flatten(1).sum(dim=1)


def _critic_with_norm(event_shape: tuple[int, ...], norm: float, seed: int = 0) -> LinearCritic:
    weight = torch.randn(event_shape, generator=torch.Generator().manual_seed(seed))
    return LinearCritic(norm * weight / torch.linalg.vector_norm(weight))


def _image_batches(n: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, 4, 4, generator=rng), torch.randn(n, 3, 4, 4, generator=rng)


def test_least_squares_on_known_scores():
    loss = LeastSquaresLoss()
    # D loss: 0.5 * mean(1, 0.25) + 0.5 * mean(1, 0.25).
    # G loss: 0.5 * mean(4, 0.25).
    assert float(loss.discriminator_loss(REAL_SCORES, FAKE_SCORES)) == pytest.approx(0.625)
    assert float(loss.generator_loss(FAKE_SCORES)) == pytest.approx(1.0625)


def test_hinge_on_known_scores():
    loss = HingeLoss()
    # D loss: mean(relu(-1), relu(0.5)) + mean(relu(0), relu(1.5)).
    # G loss: -mean(-1, 0.5).
    assert float(loss.discriminator_loss(REAL_SCORES, FAKE_SCORES)) == pytest.approx(1.0)
    assert float(loss.generator_loss(FAKE_SCORES)) == pytest.approx(0.25)


def test_wasserstein_on_known_scores():
    loss = WassersteinGPLoss()
    assert float(loss.discriminator_loss(REAL_SCORES, FAKE_SCORES)) == pytest.approx(-0.25 - 1.25)
    assert float(loss.generator_loss(FAKE_SCORES)) == pytest.approx(0.25)


def test_penalty_zero_for_unit_gradient_images():
    real, fake = _image_batches()
    critic = _critic_with_norm((3, 4, 4), 1.0)
    assert float(gradient_penalty(critic, real, fake).detach()) == pytest.approx(0.0, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(norm=st.floats(0.0, 5.0), seed=st.integers(0, 1000))
def test_penalty_matches_gradient_norm(norm, seed):
    real, fake = _image_batches()
    critic = _critic_with_norm((3, 4, 4), norm, seed)
    assert float(gradient_penalty(critic, real, fake).detach()) == pytest.approx((norm - 1) ** 2, abs=1e-5)


def test_penalty_on_vectors():
    critic = _critic_with_norm((6,), 3.0)
    penalty = gradient_penalty(critic, torch.randn(4, 6), torch.randn(4, 6))
    assert float(penalty.detach()) == pytest.approx(4.0, rel=1e-5)


@pytest.mark.parametrize("gp_weight", [0.0, 2.0])
def test_wasserstein_penalty_scaled_by_weight(gp_weight):
    real, fake = _image_batches()
    critic = _critic_with_norm((3, 4, 4), 3.0)
    penalty = WassersteinGPLoss(gp_weight).penalty(critic, real, fake)
    assert float(penalty.detach()) == pytest.approx(gp_weight * 4.0, rel=1e-5)


def test_penalty_backpropagates_to_critic_weights():
    real, fake = _image_batches()
    critic = _critic_with_norm((3, 4, 4), 2.0)
    gradient_penalty(critic, real, fake).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||, with ||w|| = 2.
    expected = 2 * (2.0 - 1) * critic.weight.detach() / 2.0
    assert torch.allclose(critic.weight.grad, expected, atol=1e-5)


def test_penalty_weight_constant_per_sample():
    real, fake = _image_batches(n=6)
    critic = _critic_with_norm((3, 4, 4), 1.0)
    gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    (mixed,) = critic.inputs
    ratios = ((mixed - fake) / (real - fake)).flatten(1)
    per_sample = ratios[:, 0]
    assert torch.allclose(ratios, per_sample[:, None].expand_as(ratios), atol=1e-4)
    assert torch.allclose(per_sample, torch.rand(6, generator=torch.Generator().manual_seed(7)), atol=1e-4)
    assert len(set(per_sample.tolist())) == 6


def test_interpolate_applies_one_weight_per_row():
    real, fake = _image_batches(n=3)
    weights = torch.tensor([0.0, 0.25, 1.0])
    mixed = interpolate(real, fake, weights)
    assert torch.equal(mixed[0], fake[0])
    assert torch.allclose(mixed[1] - fake[1], 0.25 * (real[1] - fake[1]))
    assert torch.equal(mixed[2], real[2])


def test_interpolate_rejects_mismatched_shapes():
    with pytest.raises(DataError, match=r"same shape.*\(2, 3\) and \(2, 4\)"):
        interpolate(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(DataError, match=r"shape \(n,\) = \(2,\).*got \(2, 3\)"):
        interpolate(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))


def _gan_experiment(registry, loss, **strategy):
    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        **SMALL_NETWORKS,
        "strategy": {"name": "gan", "loss": loss, "lr_g": 1e-3, "lr_d": 1e-3, **strategy},
        "training": {"steps": 3, "batch_size": 32},
        "device": "cpu",
        "seed": 2,
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


@pytest.mark.parametrize(
    "loss",
    ["least_squares", "hinge", "wasserstein_gp", {"name": "wasserstein_gp", "gp_weight": 5}],
    ids=["least_squares", "hinge", "wasserstein_gp", "wasserstein_gp_section"],
)
def test_gan_steps_give_finite_logs(registry, loss):
    experiment = _gan_experiment(registry, loss, d_steps=2)
    data = experiment.data.train.x
    for step in range(3):
        logs = experiment.strategy.train_step(data[step * 64 : (step + 1) * 64], step=step)
        for key, value in logs.items():
            assert math.isfinite(float(value)), f"{key} = {float(value)}"
    name = loss if isinstance(loss, str) else loss["name"]
    assert ("gp" in logs) == (name == "wasserstein_gp")


def test_gan_logs_gradient_penalty(registry):
    experiment = _gan_experiment(registry, "wasserstein_gp", r1_gamma=0.1)
    logs = experiment.strategy.train_step(experiment.data.train.x[:32])
    assert set(logs) == {"loss_d", "loss_g", "gp", "r1"}
    assert float(logs["gp"]) > 0


def test_gan_loss_section_sets_gp_weight(registry):
    experiment = _gan_experiment(registry, {"name": "wasserstein_gp", "gp_weight": 2.5})
    assert experiment.strategy.loss.gp_weight == 2.5
    assert _gan_experiment(registry, "wasserstein_gp").strategy.loss.gp_weight == 10.0


def test_gan_loss_section_params_validated(registry):
    with pytest.raises(ConfigError, match=r"strategy\.loss\.gp_weight: .*greater than or equal to 0"):
        _gan_experiment(registry, {"name": "wasserstein_gp", "gp_weight": -1})
    with pytest.raises(ConfigError, match=r"strategy\.loss\.name: unknown loss 'wgan'"):
        _gan_experiment(registry, {"name": "wgan"})


def test_gradient_penalty_needs_input_gradients(registry):
    from structgen import hookimpl
    from structgen.plugins import load_registry
    from structgen_vectors.networks import MLPDiscriminator, MLPDiscriminatorParams

    class Opaque(MLPDiscriminator):
        capabilities = frozenset()

    class OpaquePlugin:
        @hookimpl
        def register_discriminators(self, register):
            register("opaque", lambda params, context: Opaque((2,), MLPDiscriminatorParams(hidden=8), None))

    custom = load_registry(extra_plugins=[("opaque_plugin", OpaquePlugin())])
    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        "strategy": {"name": "gan", "loss": "wasserstein_gp"},
        "discriminator": "opaque",
        "device": "cpu",
    }
    with pytest.raises(CapabilityError, match="WassersteinGPLoss needs discriminator capabilities"):
        build_experiment(load_experiment(values=values, registry=custom), custom)
