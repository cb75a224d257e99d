"""Fréchet distance between Gaussians fitted to features."""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentConfig, ComponentParams
from ..context import BuildContext
from ..core import FeatureExtractor, Metric
from .sizes import require_count


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features ``x`` (m, d) and ``y`` (n, d).

    ``|mu_x - mu_y|^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2))`` (Dowson and
    Landau, 1982; Heusel et al., 2017). The trace of the matrix square root
    equals the sum of square roots of the eigenvalues of the symmetric
    positive semi-definite ``S_x^(1/2) S_y S_x^(1/2)``. ``eigvalsh`` computes
    them stably in float64, without the complex parts that ``sqrtm`` of the
    non-symmetric product can return. Round-off negatives are clipped to 0.
    Cost: O(d^3 + (m + n) d^2).
    """
    x = x.double()
    y = y.double().to(x.device)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    mean_x, mean_y = x.mean(0), y.mean(0)
    cov_x, cov_y = torch.cov(x.T), torch.cov(y.T)
    cov_x = cov_x.reshape(x.shape[1], x.shape[1])
    cov_y = cov_y.reshape(y.shape[1], y.shape[1])
    sqrt_x = _psd_sqrt(cov_x)
    product = sqrt_x @ cov_y @ sqrt_x
    trace_sqrt = torch.linalg.eigvalsh((product + product.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean_x - mean_y).pow(2).sum() + cov_x.trace() + cov_y.trace() - 2 * trace_sqrt
    return float(distance.clamp(min=0))


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


class FrechetParams(ComponentParams):
    """Settings of ``frechet_distance``."""

    feature_extractor: ComponentConfig = Field(
        default_factory=lambda: ComponentConfig(name="classifier"),
        description="Registered feature extractor whose features are compared, e.g. {name: classifier}.",
    )
    match_sample_size: bool = Field(
        True,
        description="Split the generated set into chunks as large as the real set and average the distance over "
        "full chunks, so that every figure, the real-data floor included, has the same small-sample bias.",
    )


class FrechetDistance(Metric):
    """Reports ``frechet_distance`` in the feature space of a feature extractor.

    The plug-in estimate is biased upwards, more so for small sets, so two
    distances are only comparable at equal set sizes. With
    ``match_sample_size`` the generated set is cut into chunks of the real
    set's size and the distance is averaged over them.
    """

    def __init__(self, extractor: FeatureExtractor, match_sample_size: bool = True) -> None:
        self.extractor = extractor
        self.match_sample_size = match_sample_size

    def check_sizes(self, real: int, generated: int) -> None:
        # A covariance needs two objects.
        require_count("frechet_distance", "real", real, 2)
        require_count("frechet_distance", "generated", generated, 2)

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        self.check_sizes(len(real), len(generated))
        real_features = self.extractor.features(real)
        generated_features = self.extractor.features(generated)
        if not self.match_sample_size or len(generated_features) <= len(real_features):
            return {"frechet_distance": frechet_distance(real_features, generated_features)}
        chunks = [c for c in generated_features.split(len(real_features)) if len(c) == len(real_features)]
        distances = [frechet_distance(real_features, chunk) for chunk in chunks]
        return {"frechet_distance": sum(distances) / len(distances)}


def build_frechet(params: FrechetParams, context: BuildContext) -> FrechetDistance:
    return FrechetDistance(context.build("feature_extractor", params.feature_extractor), params.match_sample_size)
