"""The ``digits`` data set: scikit-learn's 1,797 bundled 8x8 handwritten digits (no download)."""

from __future__ import annotations

import torch
from pydantic import Field

from structgen import DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import ImageDomain

TRAIN, VALIDATION, TEST = 1197, 300, 300
SPLIT_SEED = 0


class DigitsParams(ComponentParams):
    """Settings of the ``digits`` data set (none: the split is fixed)."""

    conditional: bool = Field(False, description="Pass the digit labels to the networks as the condition.")


def load_digit_splits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Load all 1,797 images scaled to [-1, 1], shape ``(1797, 1, 8, 8)``, their labels, and a fixed permutation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    return images, labels, order


def build_digits(params: DigitsParams, context: BuildContext) -> DataSplits:
    images, labels, order = load_digit_splits()
    train, validation, test = order[:TRAIN], order[TRAIN : TRAIN + VALIDATION], order[TRAIN + VALIDATION :]
    domain = ImageDomain(1, 8, 8)
    domain.validate(images, source="digits")

    def split(index: torch.Tensor) -> Split:
        return Split(images[index], labels[index] if params.conditional else None)

    info = {
        "name": "digits",
        "num_classes": 10 if params.conditional else None,
        "label_count": 10,
        "train_labels": labels[train],
        "metrics": [{"name": "frechet_distance"}, {"name": "classes_covered"}],
    }
    return DataSplits(domain, split(train), split(validation), split(test), info)
