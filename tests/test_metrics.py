"""Tests of the Fréchet distance, MMD and mixture metrics against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from structgen.metrics.frechet import frechet_distance
from structgen.metrics.mmd import MMD, median_bandwidth, mmd2_unbiased
from structgen_vectors.mixtures import MixtureMetric, grid_means, ring_means, sample_mixture


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Fréchet distance


def reference_frechet(x: torch.Tensor, y: torch.Tensor) -> float:
    """The textbook formula with scipy's sqrtm of the non-symmetric product S_x S_y."""
    x_np, y_np = x.double().numpy(), y.double().numpy()
    cov_x, cov_y = np.cov(x_np, rowvar=False), np.cov(y_np, rowvar=False)
    root = scipy.linalg.sqrtm(cov_x @ cov_y).real
    shift = x_np.mean(0) - y_np.mean(0)
    return float(shift @ shift + np.trace(cov_x + cov_y - 2 * root))


def test_frechet_identical_samples_is_zero():
    x = torch.randn(1000, 8, generator=seeded(0)) * 3 + 1

    distance = frechet_distance(x, x)

    assert distance >= 0.0
    assert distance < 1e-6 * float(torch.cov(x.double().T).trace())


def test_frechet_scaled_normal_is_dimension():
    # FD(N(0, I), N(0, 4 I)) = tr(I + 4 I - 2 * 2 I) = d.
    dim = 8
    x = torch.randn(20_000, dim, generator=seeded(1))
    y = 2.0 * torch.randn(20_000, dim, generator=seeded(2))

    distance = frechet_distance(x, y)

    assert distance == pytest.approx(dim, rel=0.05)


def test_frechet_shifted_mean_is_squared_shift():
    x = torch.randn(500, 4, generator=seeded(3), dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)

    distance = frechet_distance(x, x + shift)

    assert distance == pytest.approx(float(shift.pow(2).sum()), rel=1e-6)


def test_frechet_is_symmetric():
    x = torch.randn(400, 5, generator=seeded(4))
    mixing = torch.randn(5, 5, generator=seeded(5))
    y = torch.randn(300, 5, generator=seeded(6)) @ mixing + 0.5

    forward = frechet_distance(x, y)
    backward = frechet_distance(y, x)

    assert forward == pytest.approx(backward, rel=1e-9)


def test_frechet_matches_sqrtm_reference():
    x = torch.randn(400, 5, generator=seeded(7)) @ torch.randn(5, 5, generator=seeded(8))
    y = torch.randn(300, 5, generator=seeded(9)) @ torch.randn(5, 5, generator=seeded(10)) - 1.0

    assert frechet_distance(x, y) == pytest.approx(reference_frechet(x, y), rel=1e-6)


def test_frechet_one_feature():
    # In 1-D, FD = (mu_x - mu_y)^2 + (sigma_x - sigma_y)^2.
    x = torch.randn(20_000, 1, generator=seeded(11))
    y = 2.0 * torch.randn(20_000, 1, generator=seeded(12)) + 3.0

    assert frechet_distance(x, y) == pytest.approx(9.0 + 1.0, rel=0.05)


def test_frechet_dimension_mismatch_raises():
    with pytest.raises(ValueError, match="feature dimensions differ: 3 and 4"):
        frechet_distance(torch.zeros(10, 3), torch.zeros(10, 4))


# MMD


def biased_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """The V-statistic, which keeps the kernel diagonals and so is biased upwards."""

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        squared_distances = (a[:, None, :] - b[None, :, :]).pow(2).sum(dim=-1)
        return torch.exp(-squared_distances / (2 * bandwidth**2))

    return float(kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean())


def test_median_bandwidth_three_points():
    # Pairwise distances are 1, 3 and 2.
    x = torch.tensor([[0.0], [1.0], [3.0]])

    assert median_bandwidth(x) == pytest.approx(2.0)


def test_mmd2_hand_computed():
    # With h = 1 and k(d) = exp(-d^2 / 2), the within-x term is k(1) and the within-y term k(2).
    # The cross mean is (k(0) + k(2) + 2 k(1)) / 4, so MMD^2 = (k(2) - 1) / 2.
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [2.0]], dtype=torch.float64)

    assert mmd2_unbiased(x, y, bandwidth=1.0) == pytest.approx((math.exp(-2.0) - 1.0) / 2.0)


def test_mmd2_same_distribution_near_zero():
    x = torch.randn(500, 2, generator=seeded(20), dtype=torch.float64)
    y = torch.randn(500, 2, generator=seeded(21), dtype=torch.float64)

    value = mmd2_unbiased(x, y, median_bandwidth(x))

    assert abs(value) < 0.01


def test_mmd2_different_distributions_positive():
    x = torch.randn(500, 2, generator=seeded(22), dtype=torch.float64)
    y = torch.randn(500, 2, generator=seeded(23), dtype=torch.float64) + 1.0

    value = mmd2_unbiased(x, y, median_bandwidth(x))

    assert value > 0.1


def test_mmd2_unbiased_beats_biased_on_average():
    generator = seeded(24)
    unbiased, biased = [], []
    for _ in range(10):
        x = torch.randn(50, 2, generator=generator, dtype=torch.float64)
        y = torch.randn(50, 2, generator=generator, dtype=torch.float64)
        unbiased.append(mmd2_unbiased(x, y, 1.0))
        biased.append(biased_mmd2(x, y, 1.0))

    mean_unbiased = sum(unbiased) / len(unbiased)
    mean_biased = sum(biased) / len(biased)

    assert abs(mean_unbiased) < abs(mean_biased)
    assert mean_biased > 0.01


def test_mmd2_too_few_samples_raises():
    with pytest.raises(ValueError, match="at least 2 samples on each side, got 1 and 5"):
        mmd2_unbiased(torch.zeros(1, 2), torch.zeros(5, 2), bandwidth=1.0)


def test_mmd_metric_uses_real_median_bandwidth():
    real = torch.randn(200, 2, 2, generator=seeded(25))
    generated = torch.randn(150, 2, 2, generator=seeded(26)) + 0.5
    x, y = real.flatten(1).double(), generated.flatten(1).double()

    result = MMD(bandwidth=None, max_samples=2500).compute(real, generated)

    assert set(result) == {"mmd2"}
    assert result["mmd2"] == pytest.approx(mmd2_unbiased(x, y, median_bandwidth(x)))


def test_mmd_metric_truncates_to_max_samples():
    real = torch.randn(300, 2, generator=seeded(27))
    generated = torch.cat([torch.randn(100, 2, generator=seeded(28)), torch.full((200, 2), 50.0)])

    truncated = MMD(bandwidth=1.0, max_samples=100).compute(real, generated)
    full = MMD(bandwidth=1.0, max_samples=300).compute(real, generated)

    assert abs(truncated["mmd2"]) < 0.05
    assert full["mmd2"] > 0.3


def test_mmd_metric_duplicate_real_points():
    real = torch.cat([torch.zeros(20, 1), torch.arange(1.0, 6.0).reshape(5, 1)])
    generated = real + 0.1

    result = MMD(bandwidth=None, max_samples=2500).compute(real, generated)

    assert math.isfinite(result["mmd2"])


# Mixture metric


def ring_metric() -> MixtureMetric:
    return MixtureMetric(ring_means(), std=0.01, threshold=3.0)


def test_ring_means_on_unit_circle():
    means = ring_means()

    assert means.shape == (8, 2)
    assert torch.allclose(means.norm(dim=1), torch.ones(8))
    assert torch.allclose(means[2], torch.tensor([0.0, 1.0]), atol=1e-6)


def test_grid_means_cover_grid():
    means = grid_means()
    ticks = {-4.0, -2.0, 0.0, 2.0, 4.0}

    assert means.shape == (25, 2)
    assert {(float(a), float(b)) for a, b in means} == {(a, b) for a in ticks for b in ticks}


def test_sample_mixture_spread():
    means = ring_means()
    samples = sample_mixture(means, 0.01, 4000, seeded(30))
    nearest_distance = torch.cdist(samples, means).min(dim=1).values

    assert samples.shape == (4000, 2)
    # The distance of a sample to its own mean is 0.01 * chi with 2 degrees of freedom, mean 0.01 * sqrt(pi / 2).
    assert float(nearest_distance.mean()) == pytest.approx(0.01 * math.sqrt(math.pi / 2), rel=0.05)


def test_mixture_metric_on_exact_samples():
    real = sample_mixture(ring_means(), 0.01, 2500, seeded(31))
    generated = sample_mixture(ring_means(), 0.01, 5000, seeded(32))
    # P(|N(0, I_2)| <= 3) = 1 - exp(-9 / 2).
    expected_quality = 1.0 - math.exp(-4.5)

    result = ring_metric().compute(real, generated)

    assert result["modes_covered"] == 8.0
    assert result["high_quality_fraction"] == pytest.approx(expected_quality, abs=0.006)
    assert result["off_mode_fraction"] == pytest.approx(1.0 - result["high_quality_fraction"])
    assert 0.0 <= result["reverse_kl"] < 0.01


def test_mixture_metric_collapse_to_one_mode():
    real = sample_mixture(ring_means(), 0.01, 2500, seeded(33))
    generated = ring_means()[3].expand(1000, 2).clone()

    result = ring_metric().compute(real, generated)

    assert result["modes_covered"] == 1.0
    assert result["high_quality_fraction"] == 1.0
    assert result["off_mode_fraction"] == 0.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_mixture_metric_far_points():
    real = sample_mixture(ring_means(), 0.01, 2500, seeded(34))
    generated = torch.full((500, 2), 5.0)

    result = ring_metric().compute(real, generated)

    assert result["modes_covered"] == 0.0
    assert result["high_quality_fraction"] == 0.0
    assert result["off_mode_fraction"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_mixture_metric_reads_generated_batch():
    ring = sample_mixture(ring_means(), 0.01, 2500, seeded(35))
    collapsed = ring_means()[0].expand(2500, 2).clone()
    metric = ring_metric()

    collapse = metric.compute(real=ring, generated=collapsed)
    coverage = metric.compute(real=collapsed, generated=ring)

    assert collapse["modes_covered"] == 1.0
    assert coverage["modes_covered"] == 8.0


def test_mixture_metric_two_of_four_modes():
    # Half the samples at each of 2 of 4 modes: q = (1/2, 1/2, 0, 0), KL(q || u) = log 2.
    means = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    generated = torch.cat([means[0].expand(30, 2), means[3].expand(30, 2)])
    metric = MixtureMetric(means, std=0.05, threshold=3.0)

    result = metric.compute(generated, generated)

    assert result["modes_covered"] == 2.0
    assert result["reverse_kl"] == pytest.approx(math.log(2))


def test_mixture_metric_threshold_edge():
    # A point 0.1 from the only mean is high quality at threshold 3 * 0.05 = 0.15, not at 1 * 0.05.
    means = torch.tensor([[0.0, 0.0]])
    generated = torch.tensor([[0.1, 0.0]])

    wide = MixtureMetric(means, std=0.05, threshold=3.0).compute(generated, generated)
    narrow = MixtureMetric(means, std=0.05, threshold=1.0).compute(generated, generated)

    assert wide["high_quality_fraction"] == 1.0
    assert narrow["high_quality_fraction"] == 0.0


class _IdentityFeatures:
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_frechet_metric_matches_sample_sizes():
    from structgen.metrics.frechet import FrechetDistance

    torch.manual_seed(0)
    real = torch.randn(100, 4)
    generated = torch.randn(1000, 4)
    matched = FrechetDistance(_IdentityFeatures(), match_sample_size=True).compute(real, generated)
    whole = FrechetDistance(_IdentityFeatures(), match_sample_size=False).compute(real, generated)
    chunks = [frechet_distance(real, generated[i : i + 100]) for i in range(0, 1000, 100)]
    assert matched["frechet_distance"] == pytest.approx(sum(chunks) / 10)
    assert whole["frechet_distance"] == pytest.approx(frechet_distance(real, generated))
    # Smaller sets inflate the estimate, so the matched figure is the larger one.
    assert matched["frechet_distance"] > whole["frechet_distance"]
