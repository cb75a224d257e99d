"""The ``linear_chain_crf`` discriminator, ``viterbi`` inference and the ``crf`` strategy, against brute force."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structgen import ConfigError, DataError, DataSplits, Discriminator, Split, hookimpl
from structgen.config import ComponentParams, validate_values
from structgen.experiment import build_experiment
from structgen.inference.exhaustive import Exhaustive
from structgen.inference.viterbi import Viterbi
from structgen.plugins import load_registry
from structgen.structured import sequence_score
from structgen_text.accuracy import name_accuracy
from structgen_text.crf import LinearChainCRF, layout_constraints
from structgen_text.crf_strategy import LOSSES, CRFStrategy, check_training_rows
from structgen_text.domain import SequenceDomain
from structgen_text.name_typos import substitute_characters
from structgen_text.vocabulary import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary

NEG_INF = float("-inf")


def tiny_domain(max_length: int = 3, fixed_length: bool = False, letters: str = "ab") -> SequenceDomain:
    return SequenceDomain(Vocabulary(list(letters), "character"), max_length, fixed_length)


def every_row(domain: SequenceDomain) -> torch.Tensor:
    """Every valid row of a small domain: each text of up to max_length letters."""
    letters = domain.vocabulary.tokens[4:]
    lengths = [domain.max_length] if domain.fixed_length else range(domain.max_length + 1)
    texts = ["".join(word) for length in lengths for word in itertools.product(letters, repeat=length)]
    return domain.from_user(texts)


def random_crf(domain: SequenceDomain, seed: int, conditional: bool = False, scale: float = 1.0) -> LinearChainCRF:
    torch.manual_seed(seed)
    crf = LinearChainCRF(domain, conditional=conditional, embedding_dim=4, hidden=4)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_(0.0, scale)
    return crf


def condition_row(domain: SequenceDomain, text: str) -> torch.Tensor:
    return domain.from_user([text])


# Scores


def test_crf_score_matches_formula():
    domain = tiny_domain()
    crf = random_crf(domain, seed=0)
    rows = every_row(domain)

    scores = crf(rows).detach()

    for row, score in zip(rows.tolist(), scores, strict=True):
        expected = crf.start[row[0]] + crf.end[row[-1]]
        expected = expected + sum(crf.position_scores[t, tag] for t, tag in enumerate(row))
        expected = expected + sum(crf.transitions[a, b] for a, b in zip(row[:-1], row[1:], strict=True))
        assert float(score) == pytest.approx(float(expected.detach()), abs=1e-5)


def test_crf_score_equals_sequence_score():
    domain = tiny_domain()
    crf = random_crf(domain, seed=1)
    rows = every_row(domain)

    transitions, start, end = crf.transition_scores()
    unary = crf.unary_scores(None, len(rows))
    expected = sequence_score(unary, transitions, rows, None, start, end)
    assert torch.allclose(crf(rows), expected)
    assert torch.allclose(crf.energy(rows), -expected)


def test_crf_factors_sum_to_score():
    domain = tiny_domain()
    crf = random_crf(domain, seed=2)
    rows = every_row(domain)

    unary, transitions = crf.factors(rows)

    assert unary.shape == (len(rows), domain.max_length, domain.num_categories)
    assert transitions.shape == (domain.num_categories, domain.num_categories)
    assert torch.allclose(sequence_score(unary, transitions, rows, None), crf(rows), atol=1e-5)


@pytest.mark.parametrize("text_rows", [[[UNK_ID, EOS_ID, PAD_ID]], [[BOS_ID, EOS_ID, PAD_ID]], [[PAD_ID] * 3]])
def test_crf_invalid_layout_scores_neg_inf(text_rows):
    crf = random_crf(tiny_domain(), seed=3)
    assert float(crf(torch.tensor(text_rows)).detach()) == NEG_INF


def test_crf_tokens_after_eos_score_neg_inf():
    domain = tiny_domain()
    a = domain.vocabulary.ordinary_ids["a"]
    crf = random_crf(domain, seed=3)

    assert float(crf(torch.tensor([[a, EOS_ID, a]])).detach()) == NEG_INF
    assert float(crf(torch.tensor([[a, EOS_ID, EOS_ID]])).detach()) == NEG_INF


@pytest.mark.parametrize("fixed_length", [False, True])
def test_crf_likelihood_sums_to_one_over_valid_rows(fixed_length):
    domain = tiny_domain(fixed_length=fixed_length)
    crf = random_crf(domain, seed=4)
    rows = every_row(domain)

    log_likelihood = crf.log_likelihood(rows).detach()

    assert bool((log_likelihood <= 0).all())
    assert float(torch.logsumexp(log_likelihood, dim=0)) == pytest.approx(0.0, abs=1e-5)


def test_crf_conditional_likelihood_sums_to_one():
    domain = tiny_domain()
    crf = random_crf(domain, seed=5, conditional=True)
    rows = every_row(domain)
    condition = condition_row(domain, "ab").expand(len(rows), -1)

    log_likelihood = crf.log_likelihood(rows, condition).detach()

    assert bool((log_likelihood <= 0).all())
    assert float(torch.logsumexp(log_likelihood, dim=0)) == pytest.approx(0.0, abs=1e-5)


def test_crf_relaxed_score_equals_hard_score():
    domain = tiny_domain()
    crf = random_crf(domain, seed=6)
    rows = every_row(domain)

    one_hot = nn.functional.one_hot(rows, domain.num_categories).float()

    assert torch.allclose(crf(one_hot), crf(rows), atol=1e-5)


def test_crf_condition_errors():
    domain = tiny_domain()
    rows = every_row(domain)[:2]

    with pytest.raises(ValueError, match="set conditional: true"):
        random_crf(domain, seed=0)(rows, rows)
    with pytest.raises(ValueError, match="needs a condition row"):
        random_crf(domain, seed=0, conditional=True)(rows)
    with pytest.raises(ValueError, match="one condition row per row"):
        random_crf(domain, seed=0, conditional=True)(rows, rows[:1])


def test_crf_has_no_block_conditionals():
    crf = random_crf(tiny_domain(), seed=0, conditional=True)

    with pytest.raises(NotImplementedError, match="no conditional distributions"):
        crf.conditional(every_row(tiny_domain()), "visible")


def test_layout_constraints_fixed_length():
    transitions, start, end = layout_constraints(6, fixed_length=True)

    assert start.tolist() == [False, False, False, False, True, True]
    assert torch.equal(end, start)
    assert int(transitions.sum()) == 4


# Viterbi and sampling


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    max_length=st.integers(1, 5),
    fixed_length=st.booleans(),
    scale=st.sampled_from([0.5, 3.0, 10.0]),
)
def test_crf_paths_are_valid_rows(seed, max_length, fixed_length, scale):
    domain = tiny_domain(max_length, fixed_length, letters="abc")
    crf = random_crf(domain, seed, scale=scale)

    best = Viterbi(domain).run(crf, 4)
    drawn = Viterbi(domain, draw_samples=True).run(crf, 64)

    domain.validate(best, source="viterbi")
    domain.validate(drawn, source="samples")
    assert bool(torch.isfinite(crf(drawn)).all())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_equals_exhaustive_argmax(seed):
    domain = tiny_domain()
    crf = random_crf(domain, seed)
    exhaustive = Exhaustive(domain, None, None, max_candidates=10_000, chunk_size=1024)

    expected = exhaustive.run(crf, 3)
    best = Viterbi(domain).run(crf, 3)

    assert torch.equal(best, expected)


def test_viterbi_equals_exhaustive_argmax_conditional():
    domain = tiny_domain()
    crf = random_crf(domain, seed=7, conditional=True)
    exhaustive = Exhaustive(domain, None, None, max_candidates=10_000, chunk_size=1024)

    for text in ["", "a", "ab", "bba"]:
        condition = condition_row(domain, text)
        best = Viterbi(domain).run(crf, 1, condition=condition)
        assert torch.equal(best, exhaustive.run(crf, 1, condition=condition))


def test_viterbi_samples_follow_crf_distribution():
    domain = tiny_domain()
    crf = random_crf(domain, seed=8)
    rows = every_row(domain)
    probabilities = crf.log_likelihood(rows).exp().detach()

    torch.manual_seed(0)
    drawn = Viterbi(domain, draw_samples=True).run(crf, 8000)

    matches = (drawn.unsqueeze(1) == rows.unsqueeze(0)).all(dim=2)
    assert bool((matches.sum(dim=1) == 1).all())
    frequencies = matches.double().mean(dim=0)
    total_variation = 0.5 * float((frequencies - probabilities.double()).abs().sum())
    assert total_variation < 0.04


def test_viterbi_rejects_mismatched_condition():
    domain = tiny_domain()
    crf = random_crf(domain, seed=0, conditional=True)

    with pytest.raises(ValueError, match="2 condition rows for 3 objects"):
        Viterbi(domain).run(crf, 3, condition=every_row(domain)[:2])


# Losses and the crf strategy


@pytest.mark.parametrize("loss_name", ["log_likelihood", "perceptron", "hinge"])
def test_crf_losses_decrease(loss_name):
    domain = tiny_domain(max_length=4)
    crf = random_crf(domain, seed=9)
    gold = domain.from_user(["ab", "abba", "b", "", "bab", "aa"])
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.05)
    loss_function = LOSSES[loss_name]

    losses = []
    for _ in range(40):
        unary, transitions = crf.factors(gold)
        loss = loss_function(unary, transitions, gold)
        losses.append(float(loss.mean().detach()))
        assert bool((loss >= -1e-5).all())
        optimizer.zero_grad()
        loss.mean().backward()
        optimizer.step()

    assert losses[0] > 0.5
    assert losses[-1] < 0.7 * losses[0]


def test_check_training_rows_rejects_unknown_token():
    domain = tiny_domain()
    crf = random_crf(domain, seed=0)
    rows = every_row(domain)
    rows[5] = torch.tensor([UNK_ID, EOS_ID, PAD_ID])

    with pytest.raises(DataError, match=r"1 training row\(s\) score -inf .*first rows \[5\]"):
        check_training_rows(crf, rows, None)


TYPO_NAMES = ["abc", "bead", "cafe", "dab", "face", "fed", "ace", "bad"]


def build_tiny_typos(params: ComponentParams, context) -> DataSplits:
    """The eight TYPO_NAMES, each letter replaced with probability 0.25, as a paired data set."""
    domain = SequenceDomain(Vocabulary(list("abcdef"), "character"), 5)
    splits = []
    for seed, copies in enumerate([64, 4, 32]):
        correct = domain.from_user(TYPO_NAMES * copies)
        typos = substitute_characters(correct, len(domain.vocabulary), 0.25, torch.Generator().manual_seed(seed))
        splits.append(Split(correct, typos))
    return DataSplits(domain, *splits, info={"paired": True})


class ConstantScorer(Discriminator):
    """A scorer without factors."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.bias.expand(len(x))


class TinyTyposPlugin:
    @hookimpl
    def register_datasets(self, register):
        register("tiny_typos", build_tiny_typos, params=ComponentParams, description="Eight names with typos.")

    @hookimpl
    def register_discriminators(self, register):
        register("constant", lambda params, context: ConstantScorer(), params=ComponentParams)


@pytest.fixture(scope="module")
def typo_registry():
    return load_registry(extra_plugins=[("tiny_typos_plugin", TinyTyposPlugin())])


def typo_experiment(registry, discriminator: dict, inference: dict | None = None, **strategy):
    values = {
        "data": {"name": "tiny_typos"},
        "strategy": {"name": "crf", **strategy},
        "discriminator": discriminator,
        "inference": inference,
        "device": "cpu",
        "seed": 0,
    }
    return build_experiment(validate_values(values, registry), registry)


def test_crf_strategy_learns_typo_task(typo_registry):
    experiment = typo_experiment(
        typo_registry, {"name": "linear_chain_crf", "conditional": True, "embedding_dim": 16, "hidden": 32}
    )
    strategy = experiment.strategy
    train, test = experiment.data.train, experiment.data.test
    assert isinstance(strategy, CRFStrategy)

    batches = torch.Generator().manual_seed(0)
    losses = []
    for step in range(150):
        index = torch.randint(len(train), (64,), generator=batches)
        losses.append(float(strategy.train_step(train.x[index], train.condition[index], step=step)["loss"]))
    corrected = strategy.sample(len(test), test.condition)

    experiment.domain.validate(corrected, source="corrected names")
    copy_accuracy = name_accuracy(test.x, test.condition)
    assert copy_accuracy < 0.5
    assert losses[-1] < 0.2 * losses[0]
    # The Bayes-optimal corrector, given the eight names and the typo rate, reaches 0.87 here.
    assert name_accuracy(test.x, corrected) > 0.7


def test_crf_strategy_rejects_scorer_without_factors(typo_registry):
    with pytest.raises(ConfigError, match="use linear_chain_crf"):
        typo_experiment(typo_registry, {"name": "constant"})


def test_crf_strategy_samples_with_viterbi_sampling(typo_registry):
    experiment = typo_experiment(
        typo_registry,
        {"name": "linear_chain_crf", "conditional": True, "hidden": 8},
        inference={"name": "viterbi", "sample": True},
    )
    condition = experiment.data.test.condition[:1].expand(200, -1)

    torch.manual_seed(0)
    drawn = experiment.strategy.sample(200, condition)

    experiment.domain.validate(drawn, source="samples")
    assert len(drawn.unique(dim=0)) > 10
