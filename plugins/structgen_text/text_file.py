"""The ``text_file`` data set: a UTF-8 text file with one example per line."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field, model_validator

from structgen import DataError, DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import SequenceDomain
from .vocabulary import FIRST_ORDINARY_ID, Level, Vocabulary


class TextFileParams(ComponentParams):
    """Settings of the ``text_file`` data set."""

    path: str = Field(description="A UTF-8 text file with one example per line; blank lines are skipped.")
    level: Level = Field("character", description="Token level: `character`, or `word` for whitespace-split words.")
    max_length: int = Field(64, ge=1, description="Maximum tokens per line, not counting the <eos>.")
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="Share of lines held out for validation.")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="Share of lines held out for testing.")
    split_seed: int = Field(0, ge=0, description="Seed of the one random split.")

    @model_validator(mode="after")
    def _check_fractions(self) -> TextFileParams:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1, leaving lines to train on")
        return self


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Return the non-blank lines of a UTF-8 file with their 1-based line numbers.

    Line endings (``\\n`` or ``\\r\\n``) and a leading byte order mark are
    removed, but other whitespace is kept. Raises :class:`DataError` for a
    missing or empty file and for invalid UTF-8.
    """
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (relative paths start from the current directory, {Path.cwd()}); "
            "give the path of a UTF-8 text file with one example per line"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad_line = data[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {bad_line} is not valid UTF-8 ({err.reason} at byte {err.start}); save the file as UTF-8"
        ) from err
    text = text.removeprefix("\ufeff")

    lines = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            lines.append((number, line))
    if not lines:
        raise DataError(f"{path}: the file is empty or contains only blank lines; write one example per line")
    return lines


def build_text_file(params: TextFileParams, context: BuildContext) -> DataSplits:
    """Read the file, build the vocabulary from all of its lines, and split the lines at random.

    The vocabulary comes from every line, not only the training split, so
    that validation and test lines contain no ``<unk>`` tokens.
    """
    path = Path(params.path).expanduser()
    lines = read_lines(path)
    texts = [line for _, line in lines]

    vocabulary = Vocabulary.build(texts, params.level)
    if len(vocabulary) == FIRST_ORDINARY_ID:
        raise DataError(f"{path}: every token is spelled like a special token such as <eos>; the file has no text")
    for number, line in lines:
        length = len(vocabulary.tokenize(line))
        if length > params.max_length:
            raise DataError(
                f"{path}: line {number} has {length} {params.level} tokens, more than max_length "
                f"{params.max_length}; raise max_length to at least {length} or shorten the line"
            )
    domain = SequenceDomain(vocabulary, params.max_length)
    sequences = domain.from_user(texts)

    count = len(sequences)
    n_validation = max(1, round(params.validation_fraction * count))
    n_test = max(1, round(params.test_fraction * count))
    if count - n_validation - n_test < 1:
        raise DataError(
            f"{path}: {count} non-blank line(s) are too few to split into train, validation and test "
            f"with validation_fraction {params.validation_fraction} and test_fraction {params.test_fraction}; "
            "add lines or lower the fractions so that every split gets at least one line"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(params.split_seed))
    test, validation, train = order[:n_test], order[n_test : n_test + n_validation], order[n_test + n_validation :]
    info = {"metrics": [{"name": "bleu"}, {"name": "self_bleu"}, {"name": "uniqueness"}, {"name": "novelty"}]}
    return DataSplits(domain, Split(sequences[train]), Split(sequences[validation]), Split(sequences[test]), info)
