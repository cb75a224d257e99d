"""The ``vectors`` domain: points in R^d inside a bounding box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator

from structgen import DataError, Domain
from structgen.config import ComponentParams


class VectorParams(ComponentParams):
    """Settings of the ``vectors`` domain."""

    dim: int = Field(2, ge=1, description="Dimension d of each point.")
    low: float = Field(-1.0, description="Lower edge of the box that searches start in and stay in.")
    high: float = Field(1.0, description="Upper edge of that box.")

    @model_validator(mode="after")
    def _check_box(self) -> VectorParams:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class VectorDomain(Domain):
    """Points in R^d; a batch has shape ``(n, d)``.

    The box ``[low, high]^d`` bounds searches: chains start uniformly in it
    and are clamped to it. Data sets choose a box that covers their data with
    a margin.
    """

    name = "vectors"

    def __init__(self, dim: int, low: float, high: float) -> None:
        self.dim = dim
        self.low = low
        self.high = high

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)

    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        uniform = torch.rand(n, self.dim, device=device, generator=generator)
        return self.low + (self.high - self.low) * uniform

    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        if batch.dim() != 2 or batch.shape[1] != self.dim:
            raise DataError(
                f"{source}: expected points of shape (n, {self.dim}), got {tuple(batch.shape)}; "
                f"give one point per row with {self.dim} columns"
            )
        if len(batch) == 0:
            raise DataError(f"{source}: contains no points")
        bad = ~torch.isfinite(batch).all(dim=1)
        if bad.any():
            rows = bad.nonzero().flatten()[:5].tolist()
            raise DataError(
                f"{source}: {int(bad.sum())} point(s) contain NaN or infinite values (first rows {rows}); "
                "remove or fill them"
            )

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        return list(batch.detach().cpu().numpy())

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        batch = torch.as_tensor(np.asarray(objects, dtype=np.float32))
        self.validate(batch, source="points")
        return batch

    def draw(self, batch: torch.Tensor, axes: Any, title: str | None = None) -> None:
        points = batch.detach().cpu().numpy()
        if self.dim == 1:
            axes.hist(points[:, 0], bins=100, range=(self.low, self.high))
        else:
            axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, linewidths=0)
            axes.set_xlim(self.low, self.high)
            axes.set_ylim(self.low, self.high)
            axes.set_aspect("equal")
        if title:
            axes.set_title(title)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "low": self.low, "high": self.high}


def build_vector_domain(params: VectorParams, context: Any) -> VectorDomain:
    return VectorDomain(params.dim, params.low, params.high)
