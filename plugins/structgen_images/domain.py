"""The ``images`` domain: images with values in [-1, 1], batches of shape ``(n, C, H, W)``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import Field

from structgen import DataError, Domain
from structgen.config import ComponentParams

# Values may exceed [-1, 1] by this much (float round-off of a rescaling) before data are rejected.
RANGE_TOLERANCE = 1e-4


class ImageParams(ComponentParams):
    """Settings of the ``images`` domain."""

    channels: int = Field(1, ge=1, description="Colour channels C (1 grey, 3 RGB).")
    height: int = Field(8, ge=1, description="Image height H in pixels.")
    width: int = Field(8, ge=1, description="Image width W in pixels.")


class ImageDomain(Domain):
    """Images of shape ``(C, H, W)`` with pixel values in [-1, 1].

    User images (``to_user``, ``from_user``) are numpy arrays of shape
    ``(H, W)`` for one channel or ``(H, W, C)``, with values in [0, 1].
    """

    name = "images"

    def __init__(self, channels: int, height: int, width: int) -> None:
        self.channels = channels
        self.height = height
        self.width = width

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.channels, self.height, self.width)

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def bounds(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.rand(n, *self.event_shape, device=device, generator=generator) * 2 - 1

    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        if batch.dim() != 4 or tuple(batch.shape[1:]) != self.event_shape:
            raise DataError(
                f"{source}: expected images of shape (n, {self.channels}, {self.height}, {self.width}), "
                f"got {tuple(batch.shape)}"
            )
        if len(batch) == 0:
            raise DataError(f"{source}: contains no images")
        if not torch.isfinite(batch).all():
            raise DataError(f"{source}: contains NaN or infinite pixel values")
        low, high = float(batch.min()), float(batch.max())
        if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise DataError(f"{source}: pixel values span [{low:.3g}, {high:.3g}]; rescale them to [-1, 1]")

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        images = ((batch.detach().cpu().clamp(-1, 1) + 1) / 2).numpy()
        if self.channels == 1:
            return list(images[:, 0])
        return list(images.transpose(0, 2, 3, 1))

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        array = np.asarray(objects, dtype=np.float32)
        if array.ndim == 3 and self.channels == 1:
            array = array[:, None]
        elif array.ndim == 4:
            array = array.transpose(0, 3, 1, 2)
        batch = torch.from_numpy(np.ascontiguousarray(array)) * 2 - 1
        self.validate(batch, source="images")
        return batch

    def draw(self, batch: torch.Tensor, axes: Any, title: str | None = None) -> None:
        axes.imshow(tile(batch[:64]), cmap="gray" if self.channels == 1 else None, vmin=0, vmax=1)
        axes.set_axis_off()
        if title:
            axes.set_title(title)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "channels": self.channels, "height": self.height, "width": self.width}


def tile(batch: torch.Tensor, padding: int = 1) -> np.ndarray:
    """Arrange images ``(n, C, H, W)`` in [-1, 1] into one square grid array in [0, 1]."""
    n, channels, height, width = batch.shape
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.ones((rows * (height + padding) + padding, columns * (width + padding) + padding, channels))
    images = ((batch.detach().cpu().clamp(-1, 1) + 1) / 2).numpy().transpose(0, 2, 3, 1)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid[..., 0] if channels == 1 else grid


def build_image_domain(params: ImageParams, context: Any) -> ImageDomain:
    return ImageDomain(params.channels, params.height, params.width)
