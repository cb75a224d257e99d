"""The digits data set, its cached classifier and the image metrics built on it."""

from __future__ import annotations

import torch

from structgen.cache import cache_dir
from structgen.config import load_experiment
from structgen.experiment import build_experiment, evaluate
from structgen_images.classifier import ClassifierParams, load_or_train
from structgen_images.digits import load_digit_splits


def _digits_experiment(registry, **training):
    values = {
        "data": {"name": "digits"},
        "strategy": {"name": "vae"},
        "generator": {"name": "mlp", "latent_dim": 8, "hidden": 32, "layers": 1},
        "training": {"steps": 2, "batch_size": 32, "eval_samples": 200, **training},
        "device": "cpu",
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


def test_digit_split_sizes_and_range(registry):
    data = _digits_experiment(registry).data
    assert len(data.train) == 1197
    assert len(data.validation) == 300
    assert len(data.test) == 300
    assert data.train.x.shape[1:] == (1, 8, 8)
    assert float(data.train.x.min()) == -1.0
    assert float(data.train.x.max()) == 1.0


def test_digit_split_is_fixed_and_disjoint():
    images, labels, first = load_digit_splits()
    _, _, second = load_digit_splits()
    assert torch.equal(first, second)
    assert len(set(first.tolist())) == len(images) == 1797


def test_classifier_is_accurate_and_cached(registry):
    data = _digits_experiment(registry).data
    params = ClassifierParams()
    model = load_or_train("digits", data.train.x, data.info["train_labels"], 10, params)
    cached = list(cache_dir().glob("classifier-digits-*.pt"))
    assert len(cached) == 1

    images, labels, order = load_digit_splits()
    validation = order[1197:1497]
    with torch.no_grad():
        accuracy = (model(images[validation]).argmax(1) == labels[validation]).float().mean()
    assert float(accuracy) >= 0.95

    again = load_or_train("digits", data.train.x, data.info["train_labels"], 10, params)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_real_floor_beats_noise(registry):
    experiment = _digits_experiment(registry)
    floor = evaluate(experiment, experiment.data.validation.x)
    noise = evaluate(experiment, torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert floor["classes_covered"] == 10
    assert floor["frechet_distance"] < 0.1 * noise["frechet_distance"]
    assert noise["classes_covered"] < 10


def test_eval_split_chooses_the_compared_split(registry):
    on_test = _digits_experiment(registry)
    on_validation = _digits_experiment(registry, eval_split="validation")
    validation = on_test.data.validation.x
    # A set compared with itself has Fréchet distance 0, up to round-off.
    assert evaluate(on_validation, validation)["frechet_distance"] < 1e-3
    assert evaluate(on_test, validation)["frechet_distance"] > 1.0


def test_classifier_leaves_the_random_state_alone(registry, tmp_path, monkeypatch):
    # Trained or loaded from the cache, the classifier must not shift the random numbers that training draws next.
    monkeypatch.setenv("STRUCTGEN_CACHE_DIR", str(tmp_path))
    data = _digits_experiment(registry).data
    params = ClassifierParams(epochs=1)
    torch.manual_seed(0)
    expected = torch.rand(3)
    for _ in range(2):  # the first call trains and caches, the second loads
        torch.manual_seed(0)
        load_or_train("digits", data.train.x, data.info["train_labels"], 10, params)
        assert torch.equal(torch.rand(3), expected)
