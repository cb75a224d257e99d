"""Precision, recall, density and coverage from k-nearest-neighbour balls around features.

Each feature set is approximated by the union of balls centred on its
points, a ball's radius being the distance from its centre to the centre's
k-th nearest neighbour in the same set. Membership counts of points of the
other set in these balls give the four figures. A ball is open, as in the
prdc package of Naeem et al., so a point at exactly the radius is outside.
When the generated features equal the real ones, each real ball therefore
contains its centre and k - 1 neighbours, and density is exactly 1.
"""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentConfig, ComponentParams
from ..context import BuildContext
from ..core import FeatureExtractor, Metric
from .sizes import require_count

DEFAULT_CHUNK_SIZE = 1024


def _check_features(real_features: torch.Tensor, fake_features: torch.Tensor, k: int) -> None:
    if real_features.ndim != 2 or fake_features.ndim != 2:
        raise ValueError(
            f"features must be 2-D (n, feature_dim), got shapes {tuple(real_features.shape)} "
            f"and {tuple(fake_features.shape)}"
        )
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"feature dimensions differ: {real_features.shape[1]} and {fake_features.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def kth_neighbour_radii(features: torch.Tensor, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Compute each row's Euclidean distance to its k-th nearest other row of ``features`` (n, d).

    Returns shape ``(n,)``. The row itself is the nearest at distance 0, so
    the radius is the (k + 1)-th smallest distance in its row of the
    distance matrix. This stays right when rows repeat, because only the
    row's own zero is skipped. The matrix is computed ``chunk_size`` rows
    at a time, so memory is O(chunk_size * n) and time O(n^2 d).

    Raises:
        ValueError: when ``features`` has ``k`` rows or fewer.
    """
    if len(features) <= k:
        raise ValueError(f"the k-th nearest neighbour with k={k} needs at least {k + 1} rows, got {len(features)}")
    radii = [torch.cdist(chunk, features).kthvalue(k + 1, dim=1).values for chunk in features.split(chunk_size)]
    return torch.cat(radii)


def ball_membership(
    centres: torch.Tensor, radii: torch.Tensor, points: torch.Tensor, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Count, for balls around ``centres`` (n, d) with ``radii`` (n,), which ``points`` (m, d) they contain.

    Returns ``(balls_per_point, ball_is_occupied)``: for each point, the
    number of open balls containing it (int64, shape ``(m,)``), and for
    each ball, whether it contains at least one point (bool, shape
    ``(n,)``). Distances are computed ``chunk_size`` centres at a time.
    Memory is O(chunk_size * m) and time O(n m d).

    NOTE: a point at a ball's radius up to float64 round-off may count as
    inside or outside. That happens when a point copies a centre's k-th
    neighbour, as a generated copy of a real feature does.
    """
    balls_per_point = torch.zeros(len(points), dtype=torch.int64, device=points.device)
    occupied = []
    for centre_chunk, radius_chunk in zip(centres.split(chunk_size), radii.split(chunk_size), strict=True):
        inside = torch.cdist(centre_chunk, points) < radius_chunk[:, None]
        balls_per_point += inside.sum(dim=0)
        occupied.append(inside.any(dim=1))
    return balls_per_point, torch.cat(occupied)


def precision_recall(
    real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[float, float]:
    """Compute improved precision and recall of ``fake_features`` against ``real_features``.

    The metric is from Kynkäänniemi et al. (2019), "Improved Precision and
    Recall Metric for Assessing Generative Models". Precision is the
    fraction of ``fake_features`` (m, d) inside the real manifold, the union
    of balls around ``real_features`` (n, d) with real-real k-NN radii.
    Recall is the fraction of real features inside the fake manifold, built
    the same way from the fake features. Features are compared in float64.
    Cost: O((n + m)^2 d) time, O(chunk_size * max(n, m)) memory.

    Raises:
        ValueError: on non-2-D inputs, differing feature dimensions, ``k``
            below 1, or a set with ``k`` rows or fewer.
    """
    _check_features(real_features, fake_features, k)
    real = real_features.double()
    fake = fake_features.double().to(real.device)

    real_radii = kth_neighbour_radii(real, k, chunk_size)
    fake_radii = kth_neighbour_radii(fake, k, chunk_size)
    fakes_in_real_balls, _ = ball_membership(real, real_radii, fake, chunk_size)
    reals_in_fake_balls, _ = ball_membership(fake, fake_radii, real, chunk_size)

    precision = (fakes_in_real_balls > 0).double().mean()
    recall = (reals_in_fake_balls > 0).double().mean()
    return float(precision), float(recall)


def density_coverage(
    real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 5, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[float, float]:
    """Compute density and coverage of ``fake_features`` against ``real_features``.

    The metric is from Naeem et al. (2020), "Reliable Fidelity and
    Diversity Metrics for Generative Models". The balls are centred on the
    n ``real_features`` (n, d) with real-real k-NN radii, and the M
    ``fake_features`` (M, d) are counted in them:
    ``density = (1 / (k M)) sum_j sum_i 1[fake_j in ball_i]``. Its expected
    value is 1 when both sets are drawn from one distribution, and it can
    exceed 1. ``coverage`` is the fraction of real balls that contain at
    least one fake feature. Only the real set needs k-NN radii, so the fake
    set may have k rows or fewer. Features are compared in float64. Cost:
    O(n (n + M) d) time, O(chunk_size * max(n, M)) memory.

    Raises:
        ValueError: on non-2-D inputs, differing feature dimensions, ``k``
            below 1, an empty fake set, or ``k`` real rows or fewer.
    """
    _check_features(real_features, fake_features, k)
    if len(fake_features) == 0:
        raise ValueError("density and coverage need at least one fake feature, got none")
    real = real_features.double()
    fake = fake_features.double().to(real.device)

    real_radii = kth_neighbour_radii(real, k, chunk_size)
    fakes_in_real_balls, real_ball_occupied = ball_membership(real, real_radii, fake, chunk_size)

    density = fakes_in_real_balls.sum().double() / (k * len(fake))
    coverage = real_ball_occupied.double().mean()
    return float(density), float(coverage)


class ManifoldParams(ComponentParams):
    """Settings shared by ``precision_recall`` and ``density_coverage``."""

    feature_extractor: ComponentConfig = Field(
        default_factory=lambda: ComponentConfig(name="classifier"),
        description="Registered feature extractor whose features are compared, e.g. {name: classifier}.",
    )
    max_samples: int = Field(
        10000,
        ge=2,
        description="Maximum number of objects per side, taken from the start. Time grows with its square.",
    )


class PrecisionRecallParams(ManifoldParams):
    """Settings of ``precision_recall``."""

    k: int = Field(
        3,
        ge=1,
        description="A ball's radius is the distance to its centre's k-th nearest neighbour. "
        "Both sets need more than k objects.",
    )


class DensityCoverageParams(ManifoldParams):
    """Settings of ``density_coverage``."""

    k: int = Field(
        5,
        ge=1,
        description="A ball's radius is the distance to its centre's k-th nearest neighbour. "
        "The real set needs more than k objects.",
    )


class PrecisionRecall(Metric):
    """Reports ``precision`` and ``recall`` (:func:`precision_recall`) in a feature extractor's space."""

    def __init__(self, extractor: FeatureExtractor, k: int = 3, max_samples: int = 10000) -> None:
        self.extractor = extractor
        self.k = k
        self.max_samples = max_samples

    def check_sizes(self, real: int, generated: int) -> None:
        # Each set's balls reach its k-th nearest other member.
        for role, count in (("real", real), ("generated", generated)):
            require_count("precision_recall", role, min(count, self.max_samples), self.k + 1, f"lower k ({self.k})")

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        self.check_sizes(len(real), len(generated))
        real, generated = real[: self.max_samples], generated[: self.max_samples]
        precision, recall = precision_recall(self.extractor.features(real), self.extractor.features(generated), self.k)
        return {"precision": precision, "recall": recall}


class DensityCoverage(Metric):
    """Reports ``density`` and ``coverage`` (:func:`density_coverage`) in a feature extractor's space."""

    def __init__(self, extractor: FeatureExtractor, k: int = 5, max_samples: int = 10000) -> None:
        self.extractor = extractor
        self.k = k
        self.max_samples = max_samples

    def check_sizes(self, real: int, generated: int) -> None:
        # Only the real set has balls, each reaching its centre's k-th nearest other real object.
        require_count("density_coverage", "real", min(real, self.max_samples), self.k + 1, f"lower k ({self.k})")
        require_count("density_coverage", "generated", generated, 1)

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        self.check_sizes(len(real), len(generated))
        real, generated = real[: self.max_samples], generated[: self.max_samples]
        density, coverage = density_coverage(self.extractor.features(real), self.extractor.features(generated), self.k)
        return {"density": density, "coverage": coverage}


def build_precision_recall(params: PrecisionRecallParams, context: BuildContext) -> PrecisionRecall:
    extractor = context.build("feature_extractor", params.feature_extractor)
    return PrecisionRecall(extractor, params.k, params.max_samples)


def build_density_coverage(params: DensityCoverageParams, context: BuildContext) -> DensityCoverage:
    extractor = context.build("feature_extractor", params.feature_extractor)
    return DensityCoverage(extractor, params.k, params.max_samples)
