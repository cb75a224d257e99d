"""The ``name_typos`` data set: correct names (x) paired with the same names with typos (condition).

A model that generates x given the condition corrects the typos. Generated
row ``i`` is compared with test row ``i``, so the data is paired.
"""

from __future__ import annotations

import torch
from pydantic import Field

from structgen import DataError, DataSplits, Split
from structgen.context import BuildContext

from .accuracy import char_accuracy, character_positions, name_accuracy
from .names import NamesParams, load_names
from .vocabulary import FIRST_ORDINARY_ID


class NameTyposParams(NamesParams):
    """Settings of the ``name_typos`` data set: those of ``names`` plus the typo rate."""

    seed: int = Field(
        0, ge=0, description="Seed of the split; the typos of split k (0 train, 1 validation, 2 test) use 3 * seed + k."
    )
    substitution_rate: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Probability that each character of a name is replaced by a different random letter.",
    )


def substitute_characters(
    rows: torch.Tensor, vocabulary_size: int, rate: float, generator: torch.Generator
) -> torch.Tensor:
    """Replace each character of ``rows`` with probability ``rate`` by a uniformly drawn different letter.

    The letters are the ordinary tokens of the vocabulary (ids 4 to
    ``vocabulary_size - 1``). <eos> and <pad> stay where they are, so each
    row keeps its layout and length. ``generator`` must be a CPU generator.
    """
    letters = vocabulary_size - FIRST_ORDINARY_ID
    if letters < 2:
        raise DataError(f"substituting a different letter needs at least 2 letters in the vocabulary, got {letters}")
    chosen = (torch.rand(rows.shape, generator=generator) < rate) & character_positions(rows)
    # An offset in [1, letters - 1], added modulo the letter count, gives every other letter the same chance.
    offsets = torch.randint(1, letters, rows.shape, generator=generator)
    substituted = (rows - FIRST_ORDINARY_ID + offsets) % letters + FIRST_ORDINARY_ID
    return torch.where(chosen, substituted, rows)


def build_name_typos(params: NameTyposParams, context: BuildContext) -> DataSplits:
    """Build ``name_typos``: the ``names`` splits as x, with typos drawn once per split as the condition.

    The typos of split ``k`` (0 train, 1 validation, 2 test) come from a
    generator seeded with ``3 * seed + k``, so they never change between runs.
    """
    domain, rows, info = load_names(params)
    size = len(domain.vocabulary)
    typos = []
    for index, correct in enumerate(rows):
        generator = torch.Generator().manual_seed(3 * params.seed + index)
        typos.append(substitute_characters(correct, size, params.substitution_rate, generator))
    splits = [Split(correct, condition) for correct, condition in zip(rows, typos, strict=True)]

    info = {
        **info,
        "name": "name_typos",
        "paired": True,
        "metrics": [{"name": "name_accuracy"}, {"name": "char_accuracy"}],
        "copy_baseline": {
            "name_accuracy": name_accuracy(rows[2], typos[2]),
            "char_accuracy": char_accuracy(rows[2], typos[2]),
        },
    }
    return DataSplits(domain, splits[0], splits[1], splits[2], info)
