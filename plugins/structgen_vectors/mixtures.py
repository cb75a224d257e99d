"""The 2-D Gaussian mixtures of the mode-collapse experiments, and their metric.

``ring``: 8 Gaussians with means (cos 2πk/8, sin 2πk/8) and std 0.01;
``grid``: 25 Gaussians with means {-4, -2, 0, 2, 4}^2 and std 0.05, as in
VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import Field

from structgen import ConfigError, DataSplits, Metric, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import VectorDomain


def ring_means(modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """Means of the ring mixture, shape ``(modes, 2)``."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_means(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """Means of the grid mixture, shape ``(side ** 2, 2)``, centred on the origin."""
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(ticks, ticks)


def sample_mixture(means: torch.Tensor, std: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` points from the equal-weight mixture of N(mean, std^2 I) over ``means``."""
    component = torch.randint(len(means), (n,), generator=generator)
    return means[component] + std * torch.randn(n, means.shape[1], generator=generator)


class MixtureParams(ComponentParams):
    """Settings of the ``ring`` and ``grid`` data sets."""

    train_size: int = Field(100_000, gt=0, description="Training points drawn once.")
    eval_size: int = Field(2500, gt=1, description="Points in each of the validation and test splits.")
    data_seed: int = Field(0, ge=0, description="Seed of the drawn points, independent of the experiment seed.")


def _mixture(means: torch.Tensor, std: float, margin: float, params: MixtureParams) -> DataSplits:
    generator = torch.Generator().manual_seed(params.data_seed)
    splits = [
        sample_mixture(means, std, size, generator) for size in (params.train_size, params.eval_size, params.eval_size)
    ]
    extent = float(means.abs().max()) + margin
    domain = VectorDomain(2, -extent, extent)
    info: dict[str, Any] = {
        "means": means.tolist(),
        "std": std,
        "metrics": [{"name": "mixture"}, {"name": "mmd"}],
    }
    return DataSplits(domain, Split(splits[0]), Split(splits[1]), Split(splits[2]), info)


def build_ring(params: MixtureParams, context: BuildContext) -> DataSplits:
    return _mixture(ring_means(), 0.01, 0.5, params)


def build_grid(params: MixtureParams, context: BuildContext) -> DataSplits:
    return _mixture(grid_means(), 0.05, 1.0, params)


class MixtureMetricParams(ComponentParams):
    """Settings of the ``mixture`` metric."""

    threshold: float = Field(
        3.0, gt=0, description="A sample is high quality within this many std of its nearest mean."
    )


class MixtureMetric(Metric):
    """Mode coverage and sample quality on a mixture with known means.

    A sample is high quality when it lies within ``threshold * std`` of its
    nearest mean. Reports ``modes_covered`` (modes that are the nearest mean
    of at least one high-quality sample), ``high_quality_fraction``,
    ``off_mode_fraction`` (1 minus that) and ``reverse_kl`` = KL(q || u),
    where q is the histogram of high-quality samples over modes and u the
    uniform histogram; with no high-quality sample at all, ``reverse_kl`` is
    reported as its upper bound log(modes).
    """

    def __init__(self, means: torch.Tensor, std: float, threshold: float) -> None:
        self.means = means
        self.radius = threshold * std

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        means = self.means.to(generated.device, generated.dtype)
        distances = torch.cdist(generated, means)
        nearest_distance, nearest = distances.min(dim=1)
        high_quality = nearest_distance <= self.radius
        counts = torch.bincount(nearest[high_quality], minlength=len(means)).double()
        modes = len(means)
        hq_fraction = float(high_quality.double().mean())
        if counts.sum() > 0:
            q = counts / counts.sum()
            nonzero = q > 0
            reverse_kl = float((q[nonzero] * (q[nonzero] * modes).log()).sum())
        else:
            reverse_kl = math.log(modes)
        return {
            "modes_covered": float((counts > 0).sum()),
            "high_quality_fraction": hq_fraction,
            "off_mode_fraction": 1.0 - hq_fraction,
            "reverse_kl": reverse_kl,
        }


def build_mixture_metric(params: MixtureMetricParams, context: BuildContext) -> MixtureMetric:
    data = context.data
    if data is None or "means" not in data.info:
        raise ConfigError(
            [("metrics", "the mixture metric needs a data set with known mixture means, such as ring or grid")]
        )
    return MixtureMetric(torch.tensor(data.info["means"]), float(data.info["std"]), params.threshold)
