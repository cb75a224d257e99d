"""The ``mle`` strategy and ``mle_loss`` on real text data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from structgen import ConfigError
from structgen.config import validate_values
from structgen.experiment import Experiment, build_experiment
from structgen_text.domain import SequenceDomain
from structgen_text.gru import GRUGenerator
from structgen_text.mle import MLEStrategy, mle_loss
from structgen_text.vocabulary import Vocabulary

NAMES = ["anna", "bob", "carla", "dora", "emil", "fynn", "greta", "hugo", "ida", "jonas", "karl", "lena"]


def _experiment(tmp_path: Path, registry, generator: dict, training: dict | None = None, **strategy) -> Experiment:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    values = {
        "data": {"name": "text_file", "path": str(path), "max_length": 8},
        "strategy": {"name": "mle", **strategy},
        "generator": generator,
        "training": training or {},
        "device": "cpu",
        "seed": 0,
    }
    return build_experiment(validate_values(values, registry), registry)


def test_mle_loss_is_mean_per_real_token():
    domain = SequenceDomain(Vocabulary(list("ab"), "character"), 4)
    torch.manual_seed(0)
    model = GRUGenerator(domain).eval()
    x = domain.from_user(["ab", "", "abba"])
    loss = mle_loss(model, x)
    # Real tokens: "ab" and its <eos> (3), the empty text's <eos> (1), "abba" without <eos> (4).
    assert int(domain.mask(x).sum()) == 8
    expected = -model.log_prob(x).sum() / 8
    assert loss.shape == ()
    assert torch.allclose(loss, expected)


@pytest.mark.parametrize("generator", ["gru", "transformer"])
def test_mle_learns_names(tmp_path, registry, generator):
    experiment = _experiment(tmp_path, registry, {"name": generator, "dropout": 0.0}, lr=0.01)
    strategy = experiment.strategy
    assert isinstance(strategy, MLEStrategy)
    train = experiment.data.train.x
    training_texts = set(experiment.domain.to_user(train))

    strategy.train()
    first = float(strategy.train_step(train)["nll"])
    for step in range(1, 300):
        last = float(strategy.train_step(train, step=step)["nll"])
    strategy.eval()

    assert first > 2.0
    assert last < 0.3 * first
    samples = strategy.sample(200)
    experiment.domain.validate(samples, source="samples")
    texts = experiment.domain.to_user(samples)
    reproduced = sum(text in training_texts for text in texts) / len(texts)
    assert reproduced > 0.8


def test_mle_learning_rate_decays_linearly(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {"name": "gru"}, {"steps": 10}, lr=0.01, lr_decay_start=0.6)
    strategy = experiment.strategy
    rates = []
    for step in range(10):
        rates.append(strategy.optimizers["generator"].param_groups[0]["lr"])
        strategy.train_step(experiment.data.train.x, step=step)
    # Constant for steps 0-5, then linear from step 6 to 0 at step 10.
    assert rates == pytest.approx([0.01] * 6 + [0.01, 0.0075, 0.005, 0.0025])


def test_mle_clips_gradient_norm(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {"name": "gru"}, grad_clip=0.01)
    strategy = experiment.strategy
    strategy.train_step(experiment.data.train.x)
    grads = [parameter.grad for parameter in strategy.generator.parameters()]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(grad) for grad in grads]))
    assert float(norm) <= 0.01 + 1e-6


def test_mle_without_clipping_keeps_gradient(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {"name": "gru"}, grad_clip=0.0)
    strategy = experiment.strategy
    strategy.train_step(experiment.data.train.x)
    grads = [parameter.grad for parameter in strategy.generator.parameters()]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(grad) for grad in grads]))
    assert float(norm) > 0.01


def test_mle_rejects_condition(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {"name": "gru"})
    x = experiment.data.train.x
    with pytest.raises(ValueError, match="unconditional"):
        experiment.strategy.train_step(x, torch.zeros(len(x), dtype=torch.long))


def test_mle_needs_likelihood(registry):
    values = {"data": {"name": "ring"}, "strategy": {"name": "mle"}, "generator": {"name": "mlp"}, "device": "cpu"}
    resolved = validate_values(values, registry)
    with pytest.raises(ConfigError, match=r"mle needs an autoregressive generator .* got mlp \(MLPGenerator\)"):
        build_experiment(resolved, registry)
