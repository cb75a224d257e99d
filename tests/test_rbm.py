"""The rbm discriminator, block_gibbs inference and the contrastive_divergence strategy, checked by enumeration."""

from __future__ import annotations

import io
import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen import CapabilityError, ConfigError, DataError
from structgen.config import load_experiment
from structgen.context import BuildContext
from structgen.core import DataSplits, Split
from structgen.experiment import build_experiment
from structgen.inference.block_gibbs import BlockGibbs
from structgen_images.digits import load_digit_splits
from structgen_images.domain import ImageDomain
from structgen_images.rbm import BernoulliRBM

TINY_SHAPE = (1, 2, 2)
TINY_HIDDEN = 3


def all_states(size: int) -> torch.Tensor:
    """Every binary vector of length ``size`` as rows of 0.0 and 1.0, shape ``(2**size, size)``."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)))


def random_rbm(seed: int, scale: float = 1.0) -> BernoulliRBM:
    """A 4-visible, 3-hidden rbm with weights and biases drawn from N(0, scale^2)."""
    rbm = BernoulliRBM(TINY_SHAPE, TINY_HIDDEN, init_std=1.0)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in rbm.parameters():
            parameter.copy_(scale * torch.randn(parameter.shape, generator=generator))
    return rbm


def joint_log_weights(rbm: BernoulliRBM) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Visible states ``(16, 4)``, hidden states ``(8, 3)`` and ``-E(v, h)`` of every pair, shape ``(16, 8)``."""
    visible, hidden = all_states(rbm.visible), all_states(rbm.hidden)
    with torch.no_grad():
        negative_energy = (
            (visible @ rbm.visible_bias).unsqueeze(1)
            + (hidden @ rbm.hidden_bias).unsqueeze(0)
            + visible @ rbm.weight.t() @ hidden.t()
        )
    return visible, hidden, negative_energy


def exact_log_likelihood(rbm: BernoulliRBM, images: torch.Tensor) -> float:
    """Mean exact ``log p(v)`` of ``images``, with ``log Z`` summed over all 16 visible states."""
    with torch.no_grad():
        log_partition = torch.logsumexp(rbm(rbm.to_images(all_states(rbm.visible))), dim=0)
        return float((rbm(images) - log_partition).mean())


def unit_rows(images: torch.Tensor) -> torch.Tensor:
    """Index 0..15 of each 2x2 binary image, reading its units as a big-endian binary number."""
    units = ((images.flatten(1) + 1) / 2).long()
    return (units * torch.tensor([8, 4, 2, 1])).sum(dim=1)


def binarized_digit_splits() -> DataSplits:
    """The digits splits with every pixel above 0 set to 1 and the rest to -1."""
    images, _, order = load_digit_splits()
    binary = torch.where(images > 0, 1.0, -1.0)
    train, validation, test = binary[order[:1197]], binary[order[1197:1497]], binary[order[1497:]]
    return DataSplits(ImageDomain(1, 8, 8), Split(train), Split(validation), Split(test))


def tiny_splits(patterns: list[list[float]]) -> DataSplits:
    """Splits of 2x2 images whose units are ``patterns`` (rows of four 0/1 values)."""
    images = 2 * torch.tensor(patterns).reshape(-1, *TINY_SHAPE) - 1
    return DataSplits(ImageDomain(*TINY_SHAPE), Split(images), Split(images), Split(images))


def build_strategy(registry, data: DataSplits, strategy: dict, discriminator: dict | None = None, **sections):
    """Build the strategy of an experiment on ``data`` through the registry, as build_experiment does."""
    values = {
        "data": {"name": "digits"},
        "strategy": strategy,
        "discriminator": discriminator or {"name": "rbm", "hidden": 64},
        "device": "cpu",
        **sections,
    }
    resolved = load_experiment(values=values, registry=registry)
    context = BuildContext(
        registry=registry, device=torch.device("cpu"), domain=data.domain, data=data, experiment=resolved
    )
    return context.build("strategy", resolved.strategy)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 3.0))
def test_score_is_log_sum_over_hidden(seed, scale):
    rbm = random_rbm(seed, scale)
    visible, _, negative_energy = joint_log_weights(rbm)

    with torch.no_grad():
        score = rbm(rbm.to_images(visible))

    assert score.shape == (16,)
    assert torch.allclose(score, torch.logsumexp(negative_energy, dim=1), atol=1e-5)


def test_conditionals_match_joint_enumeration():
    rbm = random_rbm(seed=3)
    visible, hidden, negative_energy = joint_log_weights(rbm)
    joint = torch.softmax(negative_energy.flatten(), dim=0).reshape(negative_energy.shape)
    expected_hidden = (joint @ hidden) / joint.sum(dim=1, keepdim=True)
    expected_visible = (joint.t() @ visible) / joint.sum(dim=0).unsqueeze(1)

    with torch.no_grad():
        given_visible = rbm.conditional(rbm.to_images(visible), "hidden")
        given_hidden = rbm.conditional(hidden, "visible")

    assert isinstance(given_visible, torch.distributions.Bernoulli)
    assert given_visible.probs.shape == (16, TINY_HIDDEN)
    assert torch.allclose(given_visible.probs, expected_hidden, atol=1e-5)
    assert given_hidden.probs.shape == (8, *TINY_SHAPE)
    assert torch.allclose(given_hidden.probs.flatten(1), expected_visible, atol=1e-5)


def test_image_unit_round_trip():
    rbm = random_rbm(seed=0)
    images = rbm.to_images(all_states(4))

    assert set(images.unique().tolist()) == {-1.0, 1.0}
    assert images.shape == (16, *TINY_SHAPE)
    assert torch.equal(rbm.to_visible(images), all_states(4))


def test_rbm_rejects_bad_arguments():
    rbm = random_rbm(seed=0)
    images = rbm.to_images(all_states(4))

    with pytest.raises(ValueError, match="invalid block='latent'"):
        rbm.conditional(images, "latent")
    with pytest.raises(ValueError, match=r"hidden states of shape \(n, 3\)"):
        rbm.conditional(images, "visible")
    with pytest.raises(ValueError, match="not conditional"):
        rbm(images, torch.zeros(16, dtype=torch.long))
    with pytest.raises(ValueError, match=r"images of shape \(n, 1, 2, 2\)"):
        rbm(torch.zeros(2, 1, 3, 3))


@pytest.mark.parametrize("chunk_size", [65_536, 7_000])
def test_block_gibbs_matches_exact_marginal(chunk_size):
    rbm = random_rbm(seed=7)
    with torch.no_grad():
        exact = torch.softmax(rbm(rbm.to_images(all_states(4))), dim=0)
    sampler = BlockGibbs(ImageDomain(*TINY_SHAPE), steps=50, chunk_size=chunk_size)

    torch.manual_seed(0)
    samples = sampler.run(rbm, 20_000)
    empirical = torch.bincount(unit_rows(samples), minlength=16).float() / len(samples)

    assert samples.shape == (20_000, *TINY_SHAPE)
    assert set(samples.unique().tolist()) == {-1.0, 1.0}
    assert 0.5 * float((empirical - exact).abs().sum()) < 0.02


def test_block_gibbs_mean_is_visible_probability():
    # With W = 0, p(v | h) = sigmoid(b) for every h, so the returned mean is known exactly.
    rbm = random_rbm(seed=2)
    with torch.no_grad():
        rbm.weight.zero_()
    expected = (2 * torch.sigmoid(rbm.visible_bias) - 1).reshape(TINY_SHAPE)

    mean = BlockGibbs(ImageDomain(*TINY_SHAPE), steps=2, return_mean=True).run(rbm, 5)

    assert mean.shape == (5, *TINY_SHAPE)
    assert torch.allclose(mean, expected.expand_as(mean))


def test_block_gibbs_starts_from_data_or_noise():
    # Two near-deterministic modes: all units on (h = 1) and all off (h = 0). Chains never leave their mode.
    rbm = BernoulliRBM(TINY_SHAPE, hidden=1, init_std=1.0)
    with torch.no_grad():
        rbm.weight.fill_(30.0)
        rbm.hidden_bias.fill_(-60.0)
        rbm.visible_bias.fill_(-15.0)
    domain = ImageDomain(*TINY_SHAPE)
    all_on = torch.ones(3, *TINY_SHAPE)

    torch.manual_seed(0)
    from_data = BlockGibbs(domain, steps=5, start="data", data=all_on).run(rbm, 1000)
    from_noise = BlockGibbs(domain, steps=5, start="noise").run(rbm, 1000)
    units_on = (from_noise.flatten(1) == 1).sum(dim=1)
    noise_on = float((units_on == 4).float().mean())

    assert bool((from_data == 1).all())
    assert 0.3 < noise_on < 0.7
    assert bool(((units_on == 0) | (units_on == 4)).all())
    with pytest.raises(ConfigError, match="set start: noise"):
        BlockGibbs(domain, steps=5, start="data").run(rbm, 4)


def test_block_gibbs_needs_conditionals(registry):
    values = {"data": {"name": "digits"}, "strategy": {"name": "energy"}, "metrics": [], "device": "cpu"}
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    mlp = experiment.strategy.discriminator
    sampler = BlockGibbs(experiment.domain, steps=1)

    with pytest.raises(CapabilityError, match="MLPDiscriminator does not declare the conditionals capability"):
        sampler.run(mlp, 4)
    values["inference"] = {"name": "block_gibbs"}
    with pytest.raises(CapabilityError, match=r"needs scorer capabilities \(conditionals\)"):
        build_experiment(load_experiment(values=values, registry=registry), registry)


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_steps_raise_exact_likelihood(registry, persistent):
    # Plain SGD steps (no momentum), so the change comes from the contrastive-divergence gradient alone.
    data = tiny_splits([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0]])
    section = {"name": "contrastive_divergence", "lr": 0.5, "momentum": 0.0, "persistent": persistent, "chains": 64}
    discriminator = {"name": "rbm", "hidden": TINY_HIDDEN, "init_std": 0.5}
    torch.manual_seed(0)
    strategy = build_strategy(registry, data, section, discriminator)
    x = data.train.x

    before = exact_log_likelihood(strategy.discriminator, x)
    for _ in range(30):
        strategy.train_step(x)
    after = exact_log_likelihood(strategy.discriminator, x)

    assert after > before + 0.2, f"mean log-likelihood {before:.3f} -> {after:.3f}"


def test_cd_on_digits_lowers_reconstruction_error(registry):
    data = binarized_digit_splits()
    sections = {"inference": {"name": "block_gibbs", "steps": 20}}
    torch.manual_seed(0)
    section = {"name": "contrastive_divergence", "lr": 0.1, "momentum": 0.9}
    strategy = build_strategy(registry, data, section, **sections)

    errors = []
    for _ in range(200):
        batch = data.train.x[torch.randint(len(data.train), (32,))]
        errors.append(float(strategy.train_step(batch)["reconstruction_error"]))
    samples = strategy.sample(10)

    first, last = sum(errors[:10]) / 10, sum(errors[-20:]) / 20
    assert last < 0.75 * first, f"reconstruction error {first:.4f} -> {last:.4f}"
    assert samples.shape == (10, 1, 8, 8)
    assert set(samples.unique().tolist()) <= {-1.0, 1.0}


def test_visible_bias_starts_at_pixel_logits(registry):
    data = tiny_splits([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0]])
    strategy = build_strategy(registry, data, {"name": "contrastive_divergence"}, {"name": "rbm", "hidden": 3})
    frequency = torch.tensor([0.999, 0.5, 0.25, 0.001])

    assert torch.allclose(strategy.discriminator.visible_bias, torch.logit(frequency), atol=1e-4)


def test_cd_needs_an_rbm(registry):
    data = binarized_digit_splits()

    with pytest.raises(ConfigError, match="contrastive_divergence trains an rbm, got discriminator 'mlp'"):
        build_strategy(registry, data, {"name": "contrastive_divergence"}, {"name": "mlp"})


def test_cd_rejects_grey_images(registry):
    values = {"data": {"name": "digits"}, "strategy": {"name": "contrastive_divergence"}, "device": "cpu"}
    values["discriminator"] = {"name": "rbm"}

    with pytest.raises(DataError, match="binarize the data"):
        build_experiment(load_experiment(values=values, registry=registry), registry)


def test_resume_continues_persistent_chains(registry):
    data = binarized_digit_splits()
    section = {"name": "contrastive_divergence", "persistent": True, "chains": 16}
    batches = [data.train.x[start : start + 8] for start in range(0, 32, 8)]
    torch.manual_seed(0)
    trained = build_strategy(registry, data, section)
    for batch in batches[:3]:
        trained.train_step(batch)
    checkpoint = io.BytesIO()
    torch.save(trained.training_state(), checkpoint)
    checkpoint.seek(0)

    fresh = build_strategy(registry, data, section)
    fresh.load_training_state(torch.load(checkpoint, weights_only=True))
    assert fresh.chains.shape == (16, 1, 8, 8)
    assert torch.equal(fresh.chains, trained.chains)

    for strategy in (trained, fresh):
        torch.manual_seed(1)
        strategy.train_step(batches[3])
    assert torch.equal(fresh.chains, trained.chains)
    assert torch.equal(fresh.discriminator.weight, trained.discriminator.weight)


def test_energy_strategy_takes_block_gibbs_negatives(registry):
    values = {
        "data": {"name": "digits"},
        "strategy": {"name": "energy", "restart_fraction": 0.0, "negatives": {"name": "block_gibbs", "steps": 2}},
        "discriminator": {"name": "rbm", "hidden": 16},
        "inference": {"name": "block_gibbs", "steps": 5},
        "metrics": [],
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    strategy = experiment.strategy
    strategy.buffer = torch.zeros(100, 1, 8, 8)

    logs = strategy.train_step(experiment.data.train.x[:32])
    written = strategy.buffer[strategy.buffer.flatten(1).abs().sum(dim=1) > 0]

    assert torch.isfinite(logs["contrast"])
    assert 0 < len(written) <= 32
    assert bool((written.abs() == 1).all())
