"""The ``names`` and ``name_typos`` data sets and the paired accuracy metrics."""

from __future__ import annotations

import sys

import pytest
import torch

from structgen import ConfigError, DataError
from structgen.config import validate_values
from structgen.context import BuildContext
from structgen_text.accuracy import CharAccuracy, NameAccuracy, char_accuracy, name_accuracy
from structgen_text.name_typos import NameTyposParams, build_name_typos, substitute_characters
from structgen_text.names import NamesParams, build_names, read_census_names
from structgen_text.vocabulary import EOS_ID, FIRST_ORDINARY_ID, PAD_ID

FIRST_NAMES = 5163  # unique names of dist.female.first and dist.male.first together


def load(registry, kind: str = "names", **params):
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    if kind == "names":
        return build_names(NamesParams(**params), context)
    return build_name_typos(NameTyposParams(**params), context)


def experiment_values(data: dict) -> dict:
    return {"data": data, "strategy": {"name": "crf"}, "discriminator": {"name": "linear_chain_crf"}}


# names


def test_names_splits_cover_every_first_name_once(registry):
    data = load(registry)

    texts = [data.domain.to_user(split.x) for split in (data.train, data.validation, data.test)]
    assert [len(split) for split in texts] == [4131, 516, 516]
    assert len(set().union(*texts)) == FIRST_NAMES
    assert data.info["dropped"] == 0
    assert "names" in data.info["source"]


def test_names_rows_are_lower_case_and_valid(registry):
    data = load(registry)

    for split in (data.train, data.validation, data.test):
        data.domain.validate(split.x, source="names")
        assert split.condition is None
    assert set("".join(data.domain.vocabulary.tokens[FIRST_ORDINARY_ID:])) == set("abcdefghijklmnopqrstuvwxyz")
    assert "mary" in data.domain.to_user(torch.cat([data.train.x, data.validation.x, data.test.x]))


def test_names_split_is_deterministic(registry):
    first = load(registry)
    again = load(registry)
    other_seed = load(registry, seed=1)

    assert torch.equal(first.test.x, again.test.x)
    assert torch.equal(first.train.x, again.train.x)
    assert not torch.equal(first.test.x, other_seed.test.x)


def test_names_drops_long_names(registry):
    all_names = read_census_names(["female", "male"])
    longer = sum(len(name) > 5 for name in all_names)

    data = load(registry, max_length=5)

    assert data.info["dropped"] == longer
    assert len(data.train) + len(data.validation) + len(data.test) == FIRST_NAMES - longer
    assert data.domain.max_length == 5


def test_names_reads_last_names(registry):
    data = load(registry, lists=["last"], max_length=6)

    total = len(data.train) + len(data.validation) + len(data.test)
    assert total + data.info["dropped"] == 88799
    assert "smith" in data.domain.to_user(torch.cat([data.train.x, data.validation.x, data.test.x]))


def test_names_max_length_below_every_name(registry):
    with pytest.raises(DataError, match="longer than max_length 1; raise max_length"):
        load(registry, max_length=1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_length": 0}, "data.max_length"),
        ({"lists": []}, "data.lists"),
        ({"lists": ["middle"]}, "data.lists"),
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, "validation_fraction \\+ test_fraction"),
        ({"seed": -1}, "data.seed"),
        ({"splitseed": 1}, "data.splitseed"),
    ],
)
def test_names_bad_params(registry, params, field):
    with pytest.raises(ConfigError, match=field):
        validate_values(experiment_values({"name": "names", **params}), registry)


def test_names_without_package(registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "names", None)  # makes `import names` fail

    with pytest.raises(DataError, match='pip install "structgen\\[text\\]"'):
        load(registry)


# name_typos


def test_name_typos_x_equals_names(registry):
    names = load(registry)
    typos = load(registry, kind="name_typos")

    assert torch.equal(typos.train.x, names.train.x)
    assert torch.equal(typos.test.x, names.test.x)
    assert typos.domain.vocabulary == names.domain.vocabulary
    assert typos.info["paired"] is True


def test_name_typos_pairs_share_layout(registry):
    data = load(registry, kind="name_typos", substitution_rate=0.5)

    for split in (data.train, data.validation, data.test):
        assert split.condition is not None
        assert torch.equal(split.condition == EOS_ID, split.x == EOS_ID)
        assert torch.equal(split.condition == PAD_ID, split.x == PAD_ID)
        data.domain.validate(split.condition, source="typos")


def test_name_typos_substitution_rate(registry):
    data = load(registry, kind="name_typos", substitution_rate=0.2)

    characters = data.train.x >= FIRST_ORDINARY_ID
    changed = (data.train.condition != data.train.x) & characters
    rate = int(changed.sum()) / int(characters.sum())
    # About 26,000 characters, so the standard error of the rate is below 0.003.
    assert abs(rate - 0.2) < 0.015
    assert bool((data.train.condition[characters] >= FIRST_ORDINARY_ID).all())


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_name_typos_extreme_rates(registry, rate):
    data = load(registry, kind="name_typos", substitution_rate=rate)

    characters = data.test.x >= FIRST_ORDINARY_ID
    changed = data.test.condition != data.test.x
    assert torch.equal(changed, characters & (rate == 1.0))


def test_name_typos_are_deterministic(registry):
    first = load(registry, kind="name_typos")
    again = load(registry, kind="name_typos")

    assert torch.equal(first.train.condition, again.train.condition)
    assert torch.equal(first.test.condition, again.test.condition)
    assert not torch.equal(first.test.condition, first.test.x)


def test_name_typos_copy_baseline(registry):
    data = load(registry, kind="name_typos")

    baseline = data.info["copy_baseline"]
    assert baseline["char_accuracy"] == char_accuracy(data.test.x, data.test.condition)
    assert 0.75 < baseline["char_accuracy"] < 0.85
    # A name of 6 characters keeps every one with probability 0.8^6 = 0.26.
    assert 0.2 < baseline["name_accuracy"] < 0.35


def test_substitution_draws_every_other_letter():
    rows = torch.full((4000, 1), FIRST_ORDINARY_ID)
    typos = substitute_characters(rows, FIRST_ORDINARY_ID + 4, 1.0, torch.Generator().manual_seed(0))

    counts = torch.bincount(typos.flatten(), minlength=FIRST_ORDINARY_ID + 4)[FIRST_ORDINARY_ID:]
    assert counts[0] == 0
    assert all(abs(int(count) - 4000 / 3) < 150 for count in counts[1:])


def test_substitution_needs_two_letters():
    rows = torch.full((2, 3), FIRST_ORDINARY_ID)
    with pytest.raises(DataError, match="at least 2 letters"):
        substitute_characters(rows, FIRST_ORDINARY_ID + 1, 0.5, torch.Generator())


# Accuracy metrics

A, B, C = FIRST_ORDINARY_ID, FIRST_ORDINARY_ID + 1, FIRST_ORDINARY_ID + 2
REAL = torch.tensor([[A, B, C, EOS_ID], [A, EOS_ID, PAD_ID, PAD_ID], [C, C, EOS_ID, PAD_ID]])


def test_accuracy_of_known_rows():
    generated = torch.tensor([[A, B, A, EOS_ID], [A, EOS_ID, PAD_ID, PAD_ID], [C, C, A, EOS_ID]])

    # Characters: 3 + 1 + 2 = 6; the generated rows miss one, at row 0 position 2.
    assert char_accuracy(REAL, generated) == pytest.approx(5 / 6)
    # Row 2 matches every character but is one character too long.
    assert name_accuracy(REAL, generated) == pytest.approx(1 / 3)


def test_accuracy_of_identical_rows():
    assert CharAccuracy().compute(REAL, REAL.clone()) == {"char_accuracy": 1.0}
    assert NameAccuracy().compute(REAL, REAL.clone()) == {"name_accuracy": 1.0}


def test_accuracy_needs_paired_rows():
    with pytest.raises(DataError, match="same shape"):
        char_accuracy(REAL, REAL[:2])
    with pytest.raises(DataError, match="same shape"):
        name_accuracy(REAL, REAL[:, :3])


def test_char_accuracy_needs_characters():
    empty = torch.tensor([[EOS_ID, PAD_ID]])
    with pytest.raises(DataError, match="no characters"):
        char_accuracy(empty, empty)


def test_accuracy_metrics_registered(registry):
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    for name in ("char_accuracy", "name_accuracy"):
        component = registry.get("metric", name)
        metric = component.factory(component.parse_params({}), context)
        assert metric.compute(REAL, REAL) == {name: 1.0}
