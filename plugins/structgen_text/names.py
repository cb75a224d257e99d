"""The ``names`` data set: US census name lists from the ``names`` package, one name per row, character level."""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from structgen import DataError, DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import SequenceDomain
from .vocabulary import Vocabulary

NameList = Literal["female", "male", "last"]

# Files of the `names` package (version 0.3), from the 1990 US census: one
# name per line in capitals, followed by its frequency, cumulative frequency and rank.
CENSUS_FILES: dict[str, str] = {
    "female": "dist.female.first",
    "male": "dist.male.first",
    "last": "dist.all.last",
}
INSTALL_HINT = 'install it with: pip install "structgen[text]"'


def _first_name_lists() -> list[NameList]:
    return ["female", "male"]


class NamesParams(ComponentParams):
    """Settings of the ``names`` data set."""

    lists: list[NameList] = Field(
        default_factory=_first_name_lists,
        min_length=1,
        description="Census lists to read: `female` and `male` first names (5,163 unique together), "
        "`last` names (88,799).",
    )
    max_length: int = Field(
        12, ge=1, description="Characters per row; longer names are dropped and counted in info['dropped']."
    )
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="Share of names held out for validation.")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="Share of names held out for testing.")
    seed: int = Field(0, ge=0, description="Seed of the one random split into train, validation and test.")

    @model_validator(mode="after")
    def _check_fractions(self) -> NamesParams:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1, leaving names to train on")
        return self


def read_census_names(lists: list[str]) -> list[str]:
    """Return the unique lower-cased names of the given census lists, sorted.

    Reads the files installed with the ``names`` package, so nothing is
    downloaded. Raises :class:`DataError` when the package or a file is missing.
    """
    try:
        package = resources.files("names")
    except ModuleNotFoundError as err:
        raise DataError(f"the names data set reads the census lists of the `names` package; {INSTALL_HINT}") from err

    unique: set[str] = set()
    for list_name in dict.fromkeys(lists):
        census_file = package.joinpath(CENSUS_FILES[list_name])
        try:
            text = census_file.read_text(encoding="ascii")
        except FileNotFoundError as err:
            raise DataError(
                f"{census_file}: census file of the {list_name!r} list not found in the installed `names` "
                f"package; reinstall it ({INSTALL_HINT})"
            ) from err
        unique.update(line.split()[0].lower() for line in text.splitlines() if line.strip())
    return sorted(unique)


def split_indices(count: int, validation_fraction: float, test_fraction: float, seed: int) -> list[torch.Tensor]:
    """Shuffle ``range(count)`` with ``seed`` and cut it into train, validation and test indices."""
    n_validation = max(1, round(validation_fraction * count))
    n_test = max(1, round(test_fraction * count))
    if count - n_validation - n_test < 1:
        raise DataError(
            f"{count} name(s) are too few to split into train, validation and test with validation_fraction "
            f"{validation_fraction} and test_fraction {test_fraction}; raise max_length or add lists"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return [order[n_test + n_validation :], order[n_test : n_test + n_validation], order[:n_test]]


def load_names(params: NamesParams) -> tuple[SequenceDomain, list[torch.Tensor], dict[str, Any]]:
    """Read, filter and encode the names, and return the domain, the train, validation and test rows, and info."""
    all_names = read_census_names(list(params.lists))
    fitting_names = [name for name in all_names if len(name) <= params.max_length]
    dropped = len(all_names) - len(fitting_names)
    if not fitting_names:
        longest = max(len(name) for name in all_names)
        raise DataError(
            f"every name of the lists {list(params.lists)} is longer than max_length {params.max_length}; "
            f"raise max_length (the longest name has {longest} characters)"
        )

    # One vocabulary from every fitting name, so the three splits share it and contain no <unk>.
    domain = SequenceDomain(Vocabulary.build(fitting_names, "character"), params.max_length)
    rows = domain.from_user(fitting_names)
    indices = split_indices(len(fitting_names), params.validation_fraction, params.test_fraction, params.seed)
    info = {
        "name": "names",
        "source": f"US census name lists {list(params.lists)} of the `names` package, lower-cased",
        "dropped": dropped,
        "metrics": [{"name": "bleu"}, {"name": "self_bleu"}, {"name": "uniqueness"}, {"name": "novelty"}],
    }
    return domain, [rows[index] for index in indices], info


def build_names(params: NamesParams, context: BuildContext) -> DataSplits:
    """Build the ``names`` data set: lower-cased unique names, split once with ``seed``."""
    domain, (train, validation, test), info = load_names(params)
    return DataSplits(domain, Split(train), Split(validation), Split(test), info)
