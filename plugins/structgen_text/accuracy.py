"""Metrics of paired text rows: ``char_accuracy`` and ``name_accuracy``.

Both compare generated row ``i`` with real row ``i``, so they need paired
data, such as ``name_typos``, whose evaluation passes the test conditions in order.
"""

from __future__ import annotations

import torch

from structgen import DataError, Metric
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .vocabulary import BOS_ID, EOS_ID, PAD_ID


def check_paired(real: torch.Tensor, generated: torch.Tensor, metric: str) -> None:
    """Raise :class:`DataError` unless ``real`` and ``generated`` are non-empty rows of the same shape."""
    if real.dim() != 2 or generated.shape != real.shape:
        raise DataError(
            f"{metric} compares row i of the generated batch with row i of the real one, so both need the "
            f"same shape (n, max_length); got real {tuple(real.shape)} and generated {tuple(generated.shape)}. "
            "Use it on paired data (info['paired']) with one generated row per test row."
        )
    if len(real) == 0:
        raise DataError(f"{metric}: the real batch contains no rows")


def character_positions(rows: torch.Tensor) -> torch.Tensor:
    """Bool mask of the positions that contain a character: not <pad>, <bos> or <eos>."""
    return (rows != PAD_ID) & (rows != BOS_ID) & (rows != EOS_ID)


def char_accuracy(real: torch.Tensor, generated: torch.Tensor) -> float:
    """Fraction of the real rows' character positions at which the generated row has the same token.

    <eos> and <pad> positions of the real rows do not count, so a generated
    row that is too long loses no character accuracy, but it is wrong for
    :func:`name_accuracy`. Raises :class:`DataError` when the real rows contain no character.
    """
    check_paired(real, generated, "char_accuracy")
    generated = generated.to(real.device)
    positions = character_positions(real)
    total = int(positions.sum())
    if total == 0:
        raise DataError("char_accuracy: the real rows contain no characters, only <eos> and <pad>")
    matches = (generated == real) & positions
    return int(matches.sum()) / total


def name_accuracy(real: torch.Tensor, generated: torch.Tensor) -> float:
    """Fraction of rows where the generated row equals the real row at every position."""
    check_paired(real, generated, "name_accuracy")
    equal = (generated.to(real.device) == real).all(dim=1)
    return float(equal.double().mean())


class CharAccuracy(Metric):
    """Reports ``char_accuracy``: see :func:`char_accuracy`."""

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        return {"char_accuracy": char_accuracy(real, generated)}


class NameAccuracy(Metric):
    """Reports ``name_accuracy``: see :func:`name_accuracy`."""

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        return {"name_accuracy": name_accuracy(real, generated)}


def build_char_accuracy(params: ComponentParams, context: BuildContext) -> CharAccuracy:
    return CharAccuracy()


def build_name_accuracy(params: ComponentParams, context: BuildContext) -> NameAccuracy:
    return NameAccuracy()
