"""Feature-space metrics: Fréchet distance, precision and recall, density and coverage, inception score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen import ConfigError, DataError, FeatureExtractor, hookimpl
from structgen.config import ComponentConfig, ComponentParams, load_experiment
from structgen.context import BuildContext
from structgen.experiment import build_experiment, evaluate
from structgen.metrics.frechet import frechet_distance
from structgen.metrics.inception import InceptionScore, inception_score
from structgen.metrics.manifold import (
    DensityCoverage,
    PrecisionRecall,
    density_coverage,
    kth_neighbour_radii,
    precision_recall,
)
from structgen.plugins import load_registry


def normal(n: int, d: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class FlattenFeatures(FeatureExtractor):
    """Flattened objects as features; it implements no class_probabilities, so it is not a classifier."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class FlattenPlugin:
    """A plugin defined in the test that registers the ``flatten`` feature extractor."""

    @hookimpl
    def register_feature_extractors(self, register):
        register(
            "flatten", lambda params, context: FlattenFeatures(), params=ComponentParams, description="x.flatten(1)"
        )


@pytest.fixture(scope="module")
def flatten_context() -> BuildContext:
    registry = load_registry(extra_plugins=[("flatten_plugin", FlattenPlugin())])
    return BuildContext(registry=registry, device=torch.device("cpu"))


def brute_force_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(points: np.ndarray) -> np.ndarray:
        distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
        return np.sort(distances, axis=1)[:, k]

    def inside_fraction(centres: np.ndarray, centre_radii: np.ndarray, points: np.ndarray) -> float:
        inside = [any(np.linalg.norm(p - c) < r for c, r in zip(centres, centre_radii, strict=True)) for p in points]
        return float(np.mean(inside))

    return inside_fraction(real, radii(real), fake), inside_fraction(fake, radii(fake), real)


# Fréchet distance


def test_frechet_self_distance_vanishes():
    x = normal(2000, 8, seed=0) @ normal(8, 8, seed=1)
    trace = float(torch.cov(x.T).trace())
    assert frechet_distance(x, x) < 1e-6 * trace


def test_frechet_scaled_gaussian_is_dimension():
    # N(0, I) against N(0, 4 I): |0|^2 + d (1 + 4 - 2 * sqrt(1 * 4)) = d.
    d = 8
    x = normal(40000, d, seed=2)
    y = normal(40000, d, seed=3, scale=2.0)
    assert frechet_distance(x, y) == pytest.approx(d, rel=0.03)


# k-NN radii


def test_radii_with_repeated_rows():
    features = torch.tensor([[0.0], [0.0], [3.0], [7.0]])
    assert kth_neighbour_radii(features, 1).tolist() == [0.0, 0.0, 3.0, 4.0]
    assert kth_neighbour_radii(features, 2).tolist() == [3.0, 3.0, 3.0, 7.0]


def test_radii_chunked_equal_whole():
    features = normal(50, 3, seed=4)
    whole = kth_neighbour_radii(features, 3)
    chunked = kth_neighbour_radii(features, 3, chunk_size=7)
    assert torch.allclose(whole, chunked, rtol=0, atol=1e-12)


def test_radii_too_few_rows_raises():
    with pytest.raises(ValueError, match="k=3 needs at least 4 rows, got 3"):
        kth_neighbour_radii(torch.zeros(3, 2), 3)


# Precision and recall


def test_precision_recall_identical_sets():
    real = normal(500, 4, seed=5)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)


def test_precision_recall_collapsed_generator():
    real = normal(500, 4, seed=6)
    fake = real[7].expand(200, 4)
    precision, recall = precision_recall(real, fake)
    assert precision == 1.0
    # Every fake ball has radius 0, so as an open ball it contains no real feature.
    assert recall == 0.0


def test_precision_recall_swap_is_asymmetric():
    real = normal(1000, 2, seed=7)
    narrow = normal(1000, 2, seed=8, scale=0.25)
    precision, recall = precision_recall(real, narrow)
    assert precision > 0.95
    assert recall < 0.5
    swapped_precision, swapped_recall = precision_recall(narrow, real)
    assert swapped_precision == recall
    assert swapped_recall == precision


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    real_count=st.integers(4, 12),
    fake_count=st.integers(4, 12),
    k=st.integers(1, 3),
    chunk_size=st.integers(1, 5),
)
def test_precision_recall_matches_brute_force(seed, real_count, fake_count, k, chunk_size):
    real = normal(real_count, 2, seed=seed)
    fake = normal(fake_count, 2, seed=seed + 1, scale=1.5)
    expected = brute_force_precision_recall(real.numpy(), fake.numpy(), k)
    assert precision_recall(real, fake, k, chunk_size) == pytest.approx(expected)


def test_precision_recall_dimension_mismatch_raises():
    with pytest.raises(ValueError, match="feature dimensions differ: 3 and 4"):
        precision_recall(torch.zeros(10, 3), torch.zeros(10, 4))


def test_precision_recall_zero_k_raises():
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        precision_recall(torch.zeros(10, 3), torch.zeros(10, 3), k=0)


# Density and coverage


def test_density_coverage_identical_sets():
    real = normal(500, 4, seed=9)
    density, coverage = density_coverage(real, real.clone())
    # Each open ball contains its centre and k - 1 of its neighbours, so the count is exactly k * M.
    assert density == pytest.approx(1.0, abs=1e-12)
    assert coverage == 1.0


def test_density_coverage_same_distribution():
    real = normal(2000, 8, seed=10)
    fake = normal(2000, 8, seed=11)
    density, coverage = density_coverage(real, fake)
    assert density == pytest.approx(1.0, abs=0.1)
    # A real ball misses every fake when its centre's k nearest pooled neighbours are all real, which has
    # probability about 2^-k for equal set sizes. So coverage is about 1 - 2^-5 = 0.97.
    assert coverage > 0.9


def test_density_coverage_collapsed_generator():
    real = normal(500, 4, seed=12)
    fake = real[7].expand(200, 4)
    density, coverage = density_coverage(real, fake)
    assert coverage < 0.05
    # real[7] can be the k-th neighbour of other real features and then lies on their balls' boundaries, where
    # float64 round-off decides membership. So the count is bounded by the balls that surely contain real[7]
    # and the balls that contain it up to round-off.
    distances = torch.cdist(real[7:8], real)[0]
    radii = kth_neighbour_radii(real, 5)
    surely_inside = int((distances < radii - 1e-9).sum())
    inside_or_boundary = int((distances < radii + 1e-9).sum())
    assert surely_inside >= 1
    assert surely_inside / 5 <= density <= inside_or_boundary / 5
    assert surely_inside / 500 <= coverage <= inside_or_boundary / 500


def test_density_coverage_far_fakes():
    real = normal(300, 3, seed=13)
    density, coverage = density_coverage(real, real + 100.0)
    assert density == 0.0
    assert coverage == 0.0


def test_density_coverage_chunked_equal_whole():
    real = normal(60, 3, seed=14)
    fake = normal(45, 3, seed=15)
    assert density_coverage(real, fake, chunk_size=4) == pytest.approx(density_coverage(real, fake))


def test_density_coverage_empty_fake_raises():
    with pytest.raises(ValueError, match="at least one fake feature"):
        density_coverage(torch.zeros(10, 3), torch.zeros(0, 3))


# Manifold metrics built from the registry


def test_precision_recall_metric_truncates(flatten_context):
    section = ComponentConfig(name="precision_recall", feature_extractor={"name": "flatten"}, k=2, max_samples=300)
    metric = flatten_context.build("metric", section)
    assert isinstance(metric, PrecisionRecall)
    real = normal(400, 2, seed=16).reshape(400, 1, 2)
    generated = normal(500, 2, seed=17, scale=0.5).reshape(500, 1, 2)
    result = metric.compute(real, generated)
    precision, recall = precision_recall(real[:300].flatten(1), generated[:300].flatten(1), k=2)
    assert result == {"precision": precision, "recall": recall}


def test_density_coverage_metric_values(flatten_context):
    section = ComponentConfig(name="density_coverage", feature_extractor={"name": "flatten"})
    metric = flatten_context.build("metric", section)
    assert isinstance(metric, DensityCoverage)
    assert metric.k == 5
    real = normal(200, 3, seed=18)
    result = metric.compute(real, real.clone())
    assert result["density"] == pytest.approx(1.0)
    assert result["coverage"] == 1.0


def test_manifold_metric_too_few_generated(flatten_context):
    metric = flatten_context.build("metric", ComponentConfig(name="precision_recall", feature_extractor="flatten"))
    with pytest.raises(DataError, match="needs at least 4 generated objects, got 3"):
        metric.compute(normal(50, 2, seed=19), normal(3, 2, seed=20))


# Inception score


def test_inception_score_balanced_one_hot():
    classes = 5
    labels = torch.arange(100) % classes
    probabilities = torch.nn.functional.one_hot(labels, classes).double()
    mean, std = inception_score(probabilities, splits=10)
    assert mean == pytest.approx(classes)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_identical_rows_is_one():
    row = torch.softmax(torch.tensor([0.3, -1.2, 2.0, 0.0]), dim=0)
    mean, std = inception_score(row.expand(40, 4), splits=4)
    assert mean == pytest.approx(1.0)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_hand_computed():
    probabilities = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    # Marginal (0.75, 0.25); KL of row 1 = log(4/3), KL of row 2 = 0.5 log(2/3) + 0.5 log 2.
    expected = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    mean, std = inception_score(probabilities, splits=1)
    assert mean == pytest.approx(expected)
    assert std == 0.0


def test_inception_score_std_over_splits():
    balanced = torch.nn.functional.one_hot(torch.arange(10) % 2, 2).double()
    uniform = torch.full((10, 2), 0.5, dtype=torch.float64)
    mean, std = inception_score(torch.cat([balanced, uniform]), splits=2)
    assert mean == pytest.approx(1.5)
    assert std == pytest.approx(0.5)


def test_inception_score_rejects_unnormalised_rows():
    with pytest.raises(ValueError, match="row sums from 0.8 to 3; pass softmax outputs, not logits"):
        inception_score(torch.tensor([[2.0, 1.0], [0.5, 0.3]]), splits=1)


def test_inception_score_rejects_negative_entries():
    with pytest.raises(ValueError, match="must be non-negative, got a minimum of -1;"):
        inception_score(torch.tensor([[2.0, -1.0], [0.5, 0.5]]), splits=1)


def test_inception_score_too_many_splits_raises():
    with pytest.raises(ValueError, match="splits must be between 1 and the number of rows \\(3\\), got 4"):
        inception_score(torch.full((3, 2), 0.5), splits=4)


def test_inception_metric_needs_classifier(flatten_context):
    section = ComponentConfig(name="inception_score", feature_extractor={"name": "flatten"})
    with pytest.raises(ConfigError, match="'flatten' \\(FlattenFeatures\\) does not implement class_probabilities"):
        flatten_context.build("metric", section)


def test_inception_metric_too_few_generated():
    metric = InceptionScore(FlattenFeatures(), splits=10)
    with pytest.raises(DataError, match="needs at least 10 generated objects, got 9; lower splits \\(10\\)"):
        metric.compute(torch.zeros(20, 2), torch.zeros(9, 2))


# End to end on digits with the trained classifier


def test_digits_metrics_rank_real_over_noise(registry):
    values = {
        "data": {"name": "digits"},
        "strategy": {"name": "vae"},
        "generator": {"name": "mlp", "latent_dim": 8, "hidden": 32, "layers": 1},
        "training": {"steps": 2, "batch_size": 32, "eval_samples": 200},
        "metrics": [{"name": "precision_recall"}, {"name": "density_coverage"}, {"name": "inception_score"}],
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    validation = experiment.data.validation.x
    real = evaluate(experiment, validation)
    noise = evaluate(experiment, torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    collapsed = evaluate(experiment, validation[:1].expand(300, 1, 8, 8))

    assert real["precision"] > 0.8
    assert real["recall"] > 0.8
    assert real["density"] == pytest.approx(1.0, abs=0.3)
    assert real["coverage"] > 0.9
    assert real["inception_score"] > 7.0
    assert noise["precision"] < 0.05
    assert noise["coverage"] < 0.05
    assert noise["inception_score"] < real["inception_score"] - 2.0
    assert collapsed["recall"] == 0.0
    assert collapsed["coverage"] < 0.05
    assert collapsed["inception_score"] == pytest.approx(1.0)
