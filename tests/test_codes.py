"""The ``codes`` strategy: fixed random codes and GLO on 8x8 digits and ring points."""

from __future__ import annotations

import pytest
import torch
import yaml

from structgen import ConfigError
from structgen.config import load_experiment
from structgen.experiment import build_experiment, load_trained, run_experiment, train
from structgen.strategies.codes import PriorGenerator


def _digits(registry, mode: str, steps: int, conditional: bool = False, **strategy):
    values = {
        "data": {"name": "digits", "conditional": conditional},
        "strategy": {"name": "codes", "mode": mode, **strategy},
        "generator": {"name": "mlp", "latent_dim": 16, "hidden": 64, "layers": 2, "conditional": conditional},
        "training": {"steps": steps, "batch_size": 64, "log_every": 50},
        "metrics": [],
        "device": "cpu",
        "seed": 0,
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


RING = {
    "data": {"name": "ring", "train_size": 512, "eval_size": 100},
    "strategy": {"name": "codes", "mode": "glo"},
    "generator": {"name": "mlp", "latent_dim": 4, "hidden": 32, "layers": 2},
    "training": {"steps": 20, "batch_size": 32, "log_every": 5, "checkpoint_every": 10, "eval_samples": 100},
    "metrics": [{"name": "mmd"}],
    "device": "cpu",
    "seed": 2,
}


def test_fixed_codes_never_change(registry):
    experiment = _digits(registry, "fixed", steps=200)
    strategy = experiment.strategy
    drawn = torch.randn(1197, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(strategy.codes, drawn)
    assert not strategy.codes.requires_grad
    before = float(strategy.reconstruction_error())

    train(experiment)

    assert torch.equal(strategy.codes, drawn)
    after = float(strategy.reconstruction_error())
    assert after < 0.6 * before, f"reconstruction error {before:.2f} -> {after:.2f}"


def test_glo_beats_fixed_after_same_steps(registry):
    fixed = _digits(registry, "fixed", steps=300)
    glo = _digits(registry, "glo", steps=300)
    start = glo.strategy.codes.detach().clone()

    train(fixed)
    train(glo)

    moved = (glo.strategy.codes.detach() - start).norm(dim=1)
    assert float(moved.min()) > 0, "every code is in some batch of 300 x 64 draws from 1197 rows"
    fixed_error = float(fixed.strategy.reconstruction_error())
    glo_error = float(glo.strategy.reconstruction_error())
    assert glo_error < 0.85 * fixed_error, f"glo {glo_error:.2f} vs fixed {fixed_error:.2f}"


@pytest.mark.parametrize("constraint", ["ball", "sphere"])
def test_glo_codes_stay_constrained(registry, constraint):
    experiment = _digits(registry, "glo", steps=30, constraint=constraint)
    train(experiment)
    norms = experiment.strategy.codes.detach().norm(dim=1)
    assert float(norms.max()) <= 1 + 1e-5
    if constraint == "sphere":
        assert float(norms.min()) >= 1 - 1e-5


def test_glo_ball_keeps_short_codes(registry):
    experiment = _digits(registry, "glo", steps=1, constraint="ball")
    strategy = experiment.strategy
    with torch.no_grad():
        strategy.codes.mul_(0.5)
    strategy.train_step(experiment.data.train.x[:64])
    norms = strategy.codes.detach().norm(dim=1)
    # Sparse Adam leaves the rows outside the batch alone, and the ball keeps codes shorter than 1 as they are.
    assert float((norms - 0.5).abs().lt(1e-6).float().mean()) > 0.9
    assert float(norms.max()) < 0.6


def test_train_step_ignores_batch_contents(registry):
    real = _digits(registry, "glo", steps=1)
    blank = _digits(registry, "glo", steps=1)
    batch = real.data.train.x[:64]
    real.strategy.train_step(batch)
    blank.strategy.train_step(torch.zeros_like(batch))
    assert torch.equal(real.strategy.codes, blank.strategy.codes)
    blank_weights = blank.strategy.generator.state_dict()
    for name, value in real.strategy.generator.state_dict().items():
        assert torch.equal(value, blank_weights[name]), name


@pytest.mark.parametrize("mode", ["fixed", "glo"])
def test_samples_are_valid_images(registry, mode):
    experiment = _digits(registry, mode, steps=20)
    train(experiment)
    samples = experiment.strategy.sample(7)
    assert samples.shape == (7, 1, 8, 8)
    assert bool(torch.isfinite(samples).all())
    assert float(samples.abs().max()) <= 1.0
    assert isinstance(experiment.strategy.sampler.generator, PriorGenerator)


def test_glo_samples_fitted_gaussian(registry):
    experiment = _digits(registry, "glo", steps=50)
    train(experiment)
    strategy = experiment.strategy
    codes = strategy.codes.detach()
    drawn = strategy.sample_latent(40_000, torch.Generator().manual_seed(1))
    assert drawn.shape == (40_000, 16)
    assert torch.allclose(drawn.mean(dim=0), codes.mean(dim=0), atol=0.01)
    assert torch.allclose(torch.cov(drawn.T), torch.cov(codes.T), atol=0.01)


def test_fixed_samples_standard_normal_codes(registry):
    strategy = _digits(registry, "fixed", steps=1).strategy
    drawn = strategy.sample_latent(40_000, torch.Generator().manual_seed(1))
    assert torch.allclose(drawn.mean(dim=0), torch.zeros(16), atol=0.03)
    assert torch.allclose(drawn.std(dim=0), torch.ones(16), atol=0.03)


def test_conditional_digits_use_row_labels(registry):
    experiment = _digits(registry, "glo", steps=5, conditional=True)
    strategy = experiment.strategy
    assert torch.equal(strategy.train_condition, experiment.data.train.condition)
    train(experiment)
    labels = torch.arange(10)
    samples = strategy.sample(10, labels)
    assert samples.shape == (10, 1, 8, 8)
    with pytest.raises(ValueError, match="conditional"):
        strategy.sample(10)


def test_works_on_vectors(registry):
    values = dict(RING, training={**RING["training"], "checkpoint_every": 0})
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    before = float(experiment.strategy.reconstruction_error())
    train(experiment)
    assert float(experiment.strategy.reconstruction_error()) < before
    assert experiment.strategy.sample(5).shape == (5, 2)


def test_text_domain_is_rejected(registry, tmp_path):
    corpus = tmp_path / "names.txt"
    corpus.write_text("anna\nbob\ncarla\ndora\nemil\nfynn\ngreta\nhugo\n", encoding="utf-8")
    values = {
        "data": {"name": "text_file", "path": str(corpus), "max_length": 6},
        "strategy": {"name": "codes"},
        "device": "cpu",
    }
    with pytest.raises(ConfigError, match="continuous domain"):
        build_experiment(load_experiment(values=values, registry=registry), registry)


def test_resume_continues_identically(registry, tmp_path):
    straight = load_experiment(values=RING, registry=registry)
    run_experiment(straight, registry, tmp_path / "straight")

    # Stop a second run at step 10 by training a 10-step copy, then resume it with the 20-step config.
    half = load_experiment(values=RING, overrides=["training.steps=10"], registry=registry)
    run_experiment(half, registry, tmp_path / "resumed")
    (tmp_path / "resumed" / "config.yaml").write_text(yaml.safe_dump(straight.to_dict(), sort_keys=False))
    run_experiment(straight, registry, tmp_path / "resumed", resume=True)

    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["strategy"]
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["strategy"]
    assert set(a["model"]) == set(b["model"])
    assert torch.equal(a["model"]["_extra_state"]["index_generator"], b["model"]["_extra_state"]["index_generator"])
    for key, value in a["model"].items():
        if torch.is_tensor(value):
            assert torch.equal(value, b["model"][key]), key
    codes_state = a["optimizers"]["codes"]["state"][0]
    assert torch.equal(codes_state["exp_avg"], b["optimizers"]["codes"]["state"][0]["exp_avg"])


def test_trained_model_reloads_without_data(registry, tmp_path):
    resolved = load_experiment(values=RING, registry=registry)
    run_experiment(resolved, registry, tmp_path / "run")
    strategy, _, _ = load_trained(tmp_path / "run", registry)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["strategy"]["model"]["codes"]
    assert torch.equal(strategy.codes.detach(), saved)
    assert strategy.train_x is None
    assert strategy.sample(6).shape == (6, 2)
