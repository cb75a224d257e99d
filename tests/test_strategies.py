"""Each strategy improves its metric on a tiny problem, and checkpoints round-trip."""

from __future__ import annotations

import pytest
import torch

from structgen.config import load_experiment
from structgen.experiment import build_experiment, evaluate, train

SMALL_NETWORKS = {
    "generator": {"name": "mlp", "latent_dim": 4, "hidden": 64, "layers": 2},
    "discriminator": {"name": "mlp", "hidden": 64, "layers": 2},
}

STRATEGIES = {
    "gan": {"strategy": {"name": "gan", "lr_g": 1e-3, "lr_d": 1e-3, "r1_gamma": 0.1}},
    "vae": {"strategy": {"name": "vae", "observation_std": 0.05}},
    "autoencoder": {"strategy": {"name": "autoencoder"}},
    "energy": {
        "strategy": {
            "name": "energy",
            "lr": 3e-3,
            "buffer_size": 2000,
            "negatives": {"name": "langevin", "steps": 20, "step_size": 1e-3, "temperature": 1e-3},
        },
        "discriminator": {"name": "mlp", "hidden": 64, "layers": 2, "activation": "silu", "input_scale": 5.0},
        "inference": {
            "name": "langevin",
            "steps": 200,
            "step_size": 2e-2,
            "final_step_size": 1e-4,
            "temperature": 1.0,
            "final_temperature": 1e-4,
        },
    },
}


def _experiment(registry, label: str, steps: int):
    values = {
        "data": {"name": "ring", "train_size": 4096, "eval_size": 500},
        **SMALL_NETWORKS,
        **STRATEGIES[label],
        "training": {"steps": steps, "batch_size": 128, "eval_samples": 500},
        "metrics": [{"name": "mmd", "bandwidth": 0.2}],
        "device": "cpu",
        "seed": 1,
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


@pytest.mark.parametrize("label", sorted(STRATEGIES))
def test_strategy_lowers_mmd(registry, label):
    experiment = _experiment(registry, label, steps=400)
    before = evaluate(experiment)["mmd2"]
    train(experiment)
    after = evaluate(experiment)["mmd2"]
    assert after < 0.5 * before, f"{label}: mmd2 {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("label", sorted(STRATEGIES))
def test_training_state_round_trip(registry, label):
    trained = _experiment(registry, label, steps=5)
    train(trained)
    fresh = _experiment(registry, label, steps=5)
    fresh.strategy.load_training_state(trained.strategy.training_state())
    fresh_state = fresh.strategy.state_dict()
    for name, value in trained.strategy.state_dict().items():
        if torch.is_tensor(value):
            assert torch.equal(value, fresh_state[name]), name
        else:
            assert value == fresh_state[name], name
    for name, optimizer in trained.strategy.optimizers.items():
        assert fresh.strategy.optimizers[name].state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_gan_d_steps_takes_k_batches(registry):
    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        **SMALL_NETWORKS,
        "strategy": {"name": "gan", "d_steps": 3},
        "training": {"steps": 2, "batch_size": 8},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    assert experiment.strategy.batches_per_step == 3
    logs = experiment.strategy.train_step(torch.randn(24, 2))
    assert set(logs) == {"loss_d", "loss_g"}
    state = experiment.strategy.optimizers["discriminator"].state_dict()["state"]
    assert int(state[0]["step"]) == 3
    assert int(experiment.strategy.optimizers["generator"].state_dict()["state"][0]["step"]) == 1


def test_energy_buffer_starts_as_noise(registry):
    experiment = _experiment(registry, "energy", steps=1)
    train(experiment)
    buffer = experiment.strategy.buffer
    assert buffer.shape == (2000, 2)
    assert float(buffer.abs().max()) <= 1.5
    assert float(buffer.std()) > 0.5


def test_energy_writes_negatives_back(registry):
    experiment = _experiment(registry, "energy", steps=1)
    strategy = experiment.strategy
    strategy.params = strategy.params.model_copy(update={"restart_fraction": 0.0})
    strategy.buffer = torch.zeros(2000, 2)
    strategy.train_step(experiment.data.train.x[:128])
    moved = int((strategy.buffer.abs().sum(dim=1) > 0).sum())
    assert 0 < moved <= 128


@pytest.mark.parametrize("start, moves_down", [(5.0, True), (0.001, False)])
def test_vae_learns_observation_std(registry, start, moves_down):
    # The ELBO's optimal sigma is the RMS reconstruction error, far below 5 and far above 0.001 here.
    values = {
        "data": {"name": "ring", "train_size": 1024, "eval_size": 64},
        **SMALL_NETWORKS,
        "strategy": {"name": "vae", "observation_std": start, "learn_observation_std": True, "lr": 1e-2},
        "training": {"steps": 20, "batch_size": 64},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    assert isinstance(experiment.strategy.log_std, torch.nn.Parameter)
    train(experiment)
    learned = float(experiment.strategy.log_std.detach().exp())
    assert (learned < start) == moves_down


def test_vae_fixed_observation_std_stays(registry):
    values = {
        "data": {"name": "ring", "train_size": 1024, "eval_size": 64},
        **SMALL_NETWORKS,
        "strategy": {"name": "vae", "observation_std": 0.5},
        "training": {"steps": 5, "batch_size": 64},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    train(experiment)
    assert float(experiment.strategy.log_std.exp()) == pytest.approx(0.5)


def test_gan_can_sample_by_langevin_on_its_discriminator(registry):
    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        **SMALL_NETWORKS,
        "strategy": {"name": "gan"},
        "inference": {"name": "langevin", "steps": 3},
        "training": {"steps": 2, "batch_size": 8},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    assert type(experiment.strategy.sampler).__name__ == "Langevin"
    assert experiment.strategy.sample(4).shape == (4, 2)


def test_capability_mismatch_rejected_before_training(registry):
    from structgen import CapabilityError, hookimpl
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
        "strategy": {"name": "energy"},
        "discriminator": "opaque",
        "device": "cpu",
    }
    with pytest.raises(CapabilityError, match="input_gradient"):
        build_experiment(load_experiment(values=values, registry=custom), custom)


@pytest.mark.parametrize("strategy", ["vae", "autoencoder"])
def test_search_without_scorer_rejected_before_training(registry, strategy):
    from structgen import ConfigError

    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        "strategy": {"name": strategy},
        "inference": {"name": "langevin"},
        "device": "cpu",
    }
    with pytest.raises(ConfigError, match="searches a scorer, but this strategy trains none"):
        build_experiment(load_experiment(values=values, registry=registry), registry)


def test_energy_samples_continue_the_buffer_chains(registry):
    experiment = _experiment(registry, "energy", steps=1)
    strategy = experiment.strategy
    strategy.params = strategy.params.model_copy(update={"sample_start": "buffer"})
    # A buffer of one point: chains that start there stay nearer to it than chains started from noise.
    strategy.buffer = torch.full((2000, 2), 1.0)
    far_from_noise = strategy.sample(200)
    strategy.params = strategy.params.model_copy(update={"sample_start": "noise"})
    from_noise = strategy.sample(200)
    assert float((far_from_noise - 1.0).abs().mean()) < float((from_noise - 1.0).abs().mean())


@pytest.mark.parametrize("restart_from", ["data", "noise"])
def test_energy_restarts_chains_from_data_or_noise(registry, restart_from):
    experiment = _experiment(registry, "energy", steps=1)
    strategy = experiment.strategy
    strategy.params = strategy.params.model_copy(update={"restart_fraction": 1.0, "restart_from": restart_from})
    x = experiment.data.train.x[:64]
    start, slots = strategy._negatives_start(x)
    assert start is not None and slots is not None
    assert torch.equal(start, x) == (restart_from == "data")
