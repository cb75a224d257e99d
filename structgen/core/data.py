"""Data splits and the interface of built-in data sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .domain import Domain


@dataclass
class Split:
    """One split of a data set: objects and optional per-object conditions.

    Attributes:
        x: objects, shape ``(n, *event_shape)``.
        condition: optional conditioning per object, such as class labels of
            shape ``(n,)``; None for unconditional data.
    """

    x: torch.Tensor
    condition: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        """Return a copy of the split on ``device``."""
        condition = None if self.condition is None else self.condition.to(device)
        return Split(self.x.to(device), condition)


@dataclass
class DataSplits:
    """A data set split once, with a fixed seed, into train, validation and test.

    Attributes:
        domain: what the objects are.
        train: split the strategies learn from.
        validation: split for choosing settings (never the test split).
        test: split that metrics compare generated samples against.
        info: facts that metrics need, such as mixture ``means`` and ``std``
            or ``num_classes``.
    """

    domain: Domain
    train: Split
    validation: Split
    test: Split
    info: dict[str, Any] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> DataSplits:
        """Return a copy with every split on ``device``."""
        return DataSplits(
            self.domain, self.train.to(device), self.validation.to(device), self.test.to(device), self.info
        )
