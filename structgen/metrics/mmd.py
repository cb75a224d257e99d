"""Maximum mean discrepancy with a Gaussian kernel."""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Metric
from .sizes import require_count


def median_bandwidth(x: torch.Tensor) -> float:
    """Median heuristic: the median pairwise Euclidean distance between distinct rows of ``x``.

    When more than half of the pairs coincide (repeated points), the median
    of the non-zero distances is used instead, and 1.0 when every point is
    the same, so the kernel stays defined.
    """
    distances = torch.cdist(x, x)
    upper = distances[torch.triu(torch.ones_like(distances, dtype=torch.bool), diagonal=1)]
    median = float(upper.median()) if len(upper) else 0.0
    if median > 0:
        return median
    nonzero = upper[upper > 0]
    return float(nonzero.median()) if len(nonzero) else 1.0


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """Unbiased estimate of MMD^2 between samples ``x`` (m, d) and ``y`` (n, d).

    Kernel ``k(a, b) = exp(-||a - b||^2 / (2 h^2))``. The estimate (Gretton
    et al., 2012, eq. 3) drops the diagonals of the within-sample kernel
    matrices, so it is zero in expectation for equal distributions and can
    come out slightly negative. Cost: O((m + n)^2 d) time and memory.
    """
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD needs at least 2 samples on each side, got {m} and {n}")
    scale = -1.0 / (2.0 * bandwidth**2)
    k_xx = torch.exp(scale * torch.cdist(x, x).pow(2))
    k_yy = torch.exp(scale * torch.cdist(y, y).pow(2))
    k_xy = torch.exp(scale * torch.cdist(x, y).pow(2))
    term_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    term_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())


class MMDParams(ComponentParams):
    """Settings of ``mmd``."""

    bandwidth: float | None = Field(
        None, gt=0, description="Kernel bandwidth h; None takes the median pairwise distance of the real data."
    )
    max_samples: int = Field(2500, gt=1, description="At most this many objects per side (the first ones).")


class MMD(Metric):
    """Reports ``mmd2``: unbiased MMD^2 with a Gaussian kernel on flattened objects."""

    def __init__(self, bandwidth: float | None, max_samples: int) -> None:
        self.bandwidth = bandwidth
        self.max_samples = max_samples

    def check_sizes(self, real: int, generated: int) -> None:
        require_count("mmd", "real", real, 2)
        require_count("mmd", "generated", generated, 2)

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        self.check_sizes(len(real), len(generated))
        x = real[: self.max_samples].flatten(1).double()
        y = generated[: self.max_samples].flatten(1).double().to(x.device)
        bandwidth = self.bandwidth if self.bandwidth is not None else median_bandwidth(x)
        return {"mmd2": mmd2_unbiased(x, y, bandwidth)}


def build_mmd(params: MMDParams, context: BuildContext) -> MMD:
    return MMD(params.bandwidth, params.max_samples)
