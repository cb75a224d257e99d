"""Tests of BLEU, self-BLEU, uniqueness, novelty and the oracle metrics on small real data."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.bleu_score import SmoothingFunction
from nltk.translate.bleu_score import sentence_bleu as nltk_sentence_bleu
from pydantic import ValidationError

from structgen import ConfigError, DataError, DataSplits, Split
from structgen.config import ComponentConfig
from structgen.context import BuildContext
from structgen.metrics.bleu import NGramTable, brevity_penalty, mean_bleu, mean_self_bleu, ngram_counts
from structgen_text.domain import SequenceDomain
from structgen_text.oracle import OracleParams, build_oracle
from structgen_text.oracle_metrics import OracleNLL
from structgen_text.text_metrics import BLEU, Novelty, SelfBLEU, Uniqueness, sample_indices, token_lists
from structgen_text.vocabulary import EOS_ID, FIRST_ORDINARY_ID, PAD_ID, Vocabulary

ORDERS = [1, 2, 3, 4, 5]
SMOOTHING = SmoothingFunction().method1

tokens = st.lists(st.integers(0, 3), max_size=8)


def nltk_bleu(references: list[list[int]], hypothesis: list[int], order: int) -> float:
    return float(nltk_sentence_bleu(references, hypothesis, weights=(1 / order,) * order, smoothing_function=SMOOTHING))


@pytest.fixture(scope="module")
def oracle_data() -> DataSplits:
    params = OracleParams(
        vocabulary_size=50, hidden=16, length=8, train=200, validation=50, test=100, floor_samples=2000
    )
    return build_oracle(params, None)


def oracle_context(registry, data: DataSplits | None) -> BuildContext:
    domain = None if data is None else data.domain
    return BuildContext(registry=registry, device=torch.device("cpu"), domain=domain, data=data)


def word_domain(max_length: int = 5) -> SequenceDomain:
    return SequenceDomain(Vocabulary(["a", "b", "c", "d"], "word"), max_length)


# BLEU against NLTK


@settings(max_examples=200, deadline=None)
@given(references=st.lists(tokens, min_size=1, max_size=4), hypothesis=tokens)
def test_bleu_matches_nltk(references, hypothesis):
    table = NGramTable(references, max_order=5)

    scores = table.bleu(hypothesis, ORDERS)

    for order, score in zip(ORDERS, scores, strict=True):
        assert score == pytest.approx(nltk_bleu(references, hypothesis, order), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_bleu_short_hypothesis_matches_nltk(order):
    references = [[0, 1, 2, 3, 0, 1], [1, 2, 3]]
    hypothesis = [1, 2]  # shorter than every order above 2

    score = NGramTable(references, max_order=5).bleu(hypothesis, [order])[0]

    assert score == pytest.approx(nltk_bleu(references, hypothesis, order), rel=1e-12)
    assert score > 0.0


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(tokens, min_size=2, max_size=6))
def test_self_bleu_matches_nltk_leave_one_out(rows):
    expected = {
        order: sum(nltk_bleu(rows[:i] + rows[i + 1 :], rows[i], order) for i in range(len(rows))) / len(rows)
        for order in (2, 4)
    }

    scores = mean_self_bleu(rows, [2, 4])

    assert scores[2] == pytest.approx(expected[2], rel=1e-12, abs=1e-15)
    assert scores[4] == pytest.approx(expected[4], rel=1e-12, abs=1e-15)


def test_self_bleu_second_largest_count():
    # The bigram (0, 0) occurs twice in row 0 and once in row 1, so without row 0 its clip is 1.
    rows = [[0, 0, 0], [0, 0, 1], [2, 3, 1]]
    table = NGramTable(rows, max_order=2)

    assert table.max_count((0, 0)) == 2
    assert table.max_count((0, 0), excluded=0) == 1
    assert table.max_count((0, 0), excluded=1) == 2
    assert table.max_count((3, 1), excluded=2) == 0
    assert mean_self_bleu(rows, [2])[2] == pytest.approx(
        sum(nltk_bleu(rows[:i] + rows[i + 1 :], rows[i], 2) for i in range(3)) / 3, rel=1e-12
    )


def test_self_bleu_identical_rows_is_one():
    rows = [[1, 2, 3, 1, 2]] * 4

    scores = mean_self_bleu(rows, [2, 3, 4, 5])

    assert scores == {2: pytest.approx(1.0), 3: pytest.approx(1.0), 4: pytest.approx(1.0), 5: pytest.approx(1.0)}


def test_mean_bleu_averages_sentence_scores():
    references = [[0, 1, 2, 3], [3, 2, 1]]
    hypotheses = [[0, 1, 2], [3, 3, 3, 3], [], [2, 1, 0, 3, 2]]

    scores = mean_bleu(hypotheses, references, [2, 4])

    for order in (2, 4):
        expected = sum(nltk_bleu(references, hypothesis, order) for hypothesis in hypotheses) / 4
        assert scores[order] == pytest.approx(expected, rel=1e-12)


def test_bleu_closest_length_prefers_shorter():
    # References of 2 and 4 tokens are equally close to 3, and the shorter one gives no penalty.
    table = NGramTable([[0, 1], [0, 1, 2, 3]], max_order=1)

    assert table.closest_length(3) == 2
    assert table.closest_length(3, excluded_length=2) == 4
    assert table.bleu([0, 1, 9], [1])[0] == pytest.approx(2 / 3)


def test_brevity_penalty_values():
    assert brevity_penalty(5, 4) == 1.0
    assert brevity_penalty(0, 4) == 0.0
    assert brevity_penalty(2, 4) == pytest.approx(math.exp(-1.0))


def test_ngram_counts_of_short_sequence():
    assert ngram_counts([1, 2], 3) == {}
    assert ngram_counts([1, 1, 1], 2) == {(1, 1): 2}


def test_bleu_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one reference"):
        NGramTable([], max_order=2)
    with pytest.raises(ValueError, match=r"orders must lie in \[1, 2\] for this table"):
        NGramTable([[1]], max_order=2).bleu([1], [3])
    with pytest.raises(ValueError, match="at least 2 rows, got 1"):
        mean_self_bleu([[1, 2]], [2])


# Text metrics on sequence rows


def test_token_lists_stop_at_eos():
    domain = word_domain()
    a, b, c = (FIRST_ORDINARY_ID + index for index in range(3))
    batch = torch.tensor(
        [
            [a, b, EOS_ID, PAD_ID, PAD_ID],
            [c, c, c, c, c],
            [EOS_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID],
        ]
    )

    assert token_lists(domain, batch) == [[a, b], [c, c, c, c, c], []]


def test_bleu_metric_on_rows_matches_nltk():
    domain = word_domain()
    real = domain.from_user(["a b c d", "b c d", "a a b"])
    generated = domain.from_user(["a b c", "d d", "c d a b"])
    metric = BLEU(domain, [2, 3], max_samples=100, sample_seed=0)

    result = metric.compute(real, generated)

    references = token_lists(domain, real)
    hypotheses = token_lists(domain, generated)
    assert set(result) == {"bleu2", "bleu3"}
    for order in (2, 3):
        expected = sum(nltk_bleu(references, hypothesis, order) for hypothesis in hypotheses) / 3
        assert result[f"bleu{order}"] == pytest.approx(expected, rel=1e-12)


def test_bleu_metric_scores_seeded_subset():
    domain = word_domain()
    real = domain.from_user(["a b c d", "b c d a"])
    generated = domain.from_user(["a b c d", "d c b a", "a b", "c c c", "b c d a", "d d d d"])
    metric = BLEU(domain, [2], max_samples=3, sample_seed=5)
    chosen = sample_indices(6, 3, 5)

    result = metric.compute(real, generated)

    expected = mean_bleu(token_lists(domain, generated[chosen]), token_lists(domain, real), [2])[2]
    assert len(chosen) == 3
    assert chosen == sorted(set(chosen))
    assert result["bleu2"] == pytest.approx(expected)
    assert metric.compute(real, generated) == result


def test_self_bleu_metric_of_identical_rows():
    domain = word_domain()
    generated = domain.from_user(["a b c d"] * 5)

    result = SelfBLEU(domain, [2, 4], max_samples=1000, sample_seed=0).compute(generated, generated)

    assert result == {"self_bleu2": pytest.approx(1.0), "self_bleu4": pytest.approx(1.0)}


def test_self_bleu_metric_needs_two_rows():
    domain = word_domain()
    generated = domain.from_user(["a b"])

    with pytest.raises(DataError, match="at least 2 generated rows, got 1"):
        SelfBLEU(domain, [4], max_samples=10, sample_seed=0).compute(generated, generated)


def test_uniqueness_counts_distinct_rows():
    domain = word_domain()
    generated = domain.from_user(["a b", "a b", "c", "a b c", "c"])

    assert Uniqueness().compute(generated, generated) == {"uniqueness": pytest.approx(3 / 5)}


def test_novelty_counts_rows_outside_training():
    domain = word_domain()
    train = domain.from_user(["a b", "c d", "d"])
    generated = domain.from_user(["a b", "a b c", "d", "b a"])

    result = Novelty(train).compute(train, generated)

    assert result == {"novelty": pytest.approx(2 / 4)}


def test_novelty_of_training_rows_is_zero():
    domain = word_domain()
    train = domain.from_user(["a b", "c d", "d"])

    assert Novelty(train).compute(train, train.flip(0)) == {"novelty": 0.0}


def test_text_metrics_registered(registry):
    domain = word_domain()
    train = domain.from_user(["a b", "c d"])
    data = DataSplits(domain, Split(train), Split(train), Split(train))
    context = oracle_context(registry, data)
    generated = domain.from_user(["a b", "b c", "b c"])

    results = {}
    for name in ("bleu", "self_bleu", "uniqueness", "novelty"):
        metric = context.build("metric", ComponentConfig(name=name))
        results.update(metric.compute(train, generated))

    assert set(results) == {"bleu2", "bleu3", "bleu4", "bleu5", "self_bleu4", "uniqueness", "novelty"}
    assert results["uniqueness"] == pytest.approx(2 / 3)
    assert results["novelty"] == pytest.approx(2 / 3)


def test_bleu_rejects_other_domains(registry, oracle_data):
    from structgen_images.domain import ImageDomain

    context = BuildContext(registry=registry, device=torch.device("cpu"), domain=ImageDomain(1, 8, 8))

    with pytest.raises(ConfigError, match="bleu scores token sequences"):
        context.build("metric", ComponentConfig(name="bleu"))


def test_bleu_params_reject_bad_orders(registry):
    component = registry.get("metric", "bleu")

    with pytest.raises(ValidationError, match=r"orders must not repeat, got \[2, 2\]"):
        component.parse_params({"orders": [2, 2]})
    with pytest.raises(ValidationError, match=r"orders must be at least 1, got \[0, 2\]"):
        component.parse_params({"orders": [0, 2]})


# Oracle metrics


def test_oracle_nll_of_own_samples_near_floor(oracle_data):
    oracle = oracle_data.info["oracle"]
    samples = oracle.sample(1000, 8, torch.Generator().manual_seed(9)) + FIRST_ORDINARY_ID

    result = OracleNLL(oracle).compute(oracle_data.test.x, samples)

    # Per-token NLLs of 1,000 rows have a standard error near 0.016 here.
    assert result["oracle_nll"] == pytest.approx(oracle_data.info["oracle_floor"], abs=0.08)


def test_oracle_nll_of_uniform_rows_above_floor(oracle_data):
    # For uniform tokens the expected NLL is the cross-entropy H(U, p) = log V + KL(U || p) >= log V,
    # while the floor is the oracle's entropy, at most log V.
    oracle = oracle_data.info["oracle"]
    uniform = torch.randint(0, 50, (1000, 8), generator=torch.Generator().manual_seed(10)) + FIRST_ORDINARY_ID

    result = OracleNLL(oracle).compute(oracle_data.test.x, uniform)

    assert result["oracle_nll"] > math.log(50) - 0.05
    assert result["oracle_nll"] > oracle_data.info["oracle_floor"] + 1.0


def test_oracle_nll_rejects_special_tokens(oracle_data):
    rows = oracle_data.test.x[:5].clone()
    rows[1, 7] = EOS_ID
    rows[3, 0] = PAD_ID

    with pytest.raises(DataError, match=r"2 of 5 generated rows contain token ids outside .*\[1, 3\]"):
        OracleNLL(oracle_data.info["oracle"]).compute(oracle_data.test.x, rows)


def test_oracle_metrics_registered(registry, oracle_data):
    context = oracle_context(registry, oracle_data)

    results = {}
    for section in oracle_data.info["metrics"]:
        metric = context.build("metric", ComponentConfig.model_validate(section))
        results.update(metric.compute(oracle_data.test.x, oracle_data.validation.x))

    assert results["oracle_floor"] == oracle_data.info["oracle_floor"]
    assert results["oracle_nll"] == pytest.approx(results["oracle_floor"], abs=0.3)
    assert results["uniqueness"] == 1.0
    assert 0.0 <= results["self_bleu4"] <= 1.0


@pytest.mark.parametrize("name", ["oracle_nll", "oracle_floor"])
def test_oracle_metrics_need_oracle_data(registry, name):
    domain = word_domain()
    rows = domain.from_user(["a b"])
    context = oracle_context(registry, DataSplits(domain, Split(rows), Split(rows), Split(rows)))

    with pytest.raises(ConfigError, match=f"{name} needs the oracle data set"):
        context.build("metric", ComponentConfig(name=name))
