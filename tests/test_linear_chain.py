"""Tests of the linear-chain CRF functions against brute-force enumeration of every tag path."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from structgen.structured import (
    PADDING_TAG,
    constrain,
    log_likelihood,
    log_partition,
    marginals,
    sample,
    sequence_score,
    viterbi,
)

NUM_TAGS = 3
LENGTH = 4
NEG_INF = float("-inf")

# Chains and brute force


class Chain(NamedTuple):
    """Inputs of one batched problem, in float64, with the length of each item."""

    emissions: torch.Tensor  # (batch, LENGTH, NUM_TAGS)
    transitions: torch.Tensor  # (NUM_TAGS, NUM_TAGS)
    mask: torch.Tensor  # (batch, LENGTH), bool
    start: torch.Tensor  # (NUM_TAGS,)
    end: torch.Tensor  # (NUM_TAGS,)
    lengths: list[int]

    def scores(self) -> dict[str, torch.Tensor]:
        """Keyword arguments shared by every function under test."""
        return {
            "emissions": self.emissions,
            "transitions": self.transitions,
            "mask": self.mask,
            "start": self.start,
            "end": self.end,
        }


def prefix_mask(lengths: list[int], length: int) -> torch.Tensor:
    return torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


finite_scores = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False)


@st.composite
def chains(draw: st.DrawFn) -> Chain:
    """Random 3-tag chains of 4 steps, with 1 to 3 items of 1 to 4 real steps each.

    Some chains forbid one transition and one start tag with -inf. Each item
    still has an allowed path, because 3 tags leave a way around one forbidden
    transition.
    """
    batch = draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, LENGTH), min_size=batch, max_size=batch))
    emissions = draw(arrays(np.float64, (batch, LENGTH, NUM_TAGS), elements=finite_scores))
    transitions = torch.from_numpy(draw(arrays(np.float64, (NUM_TAGS, NUM_TAGS), elements=finite_scores)))
    start = torch.from_numpy(draw(arrays(np.float64, (NUM_TAGS,), elements=finite_scores)))
    end = torch.from_numpy(draw(arrays(np.float64, (NUM_TAGS,), elements=finite_scores)))

    forbidden = draw(st.none() | st.tuples(st.integers(0, NUM_TAGS - 1), st.integers(0, NUM_TAGS - 1)))
    if forbidden is not None:
        allowed = torch.ones(NUM_TAGS, NUM_TAGS, dtype=torch.bool)
        allowed[forbidden] = False
        transitions = constrain(transitions, allowed)
        start = constrain(start, torch.arange(NUM_TAGS) != forbidden[0])

    return Chain(torch.from_numpy(emissions), transitions, prefix_mask(lengths, LENGTH), start, end, lengths)


def loop_score(chain: Chain, item: int, path: tuple[int, ...]) -> float:
    """Score of one path of one item, by the definition, in plain Python floats."""
    emissions = chain.emissions[item].tolist()
    transitions = chain.transitions.tolist()
    total = chain.start[path[0]].item() + emissions[0][path[0]]
    for t in range(1, len(path)):
        total += transitions[path[t - 1]][path[t]] + emissions[t][path[t]]
    return total + chain.end[path[-1]].item()


def all_paths(chain: Chain, item: int) -> dict[tuple[int, ...], float]:
    """Score of every tag path of one item, keyed by the path."""
    num_tags = chain.emissions.shape[2]
    paths = itertools.product(range(num_tags), repeat=chain.lengths[item])
    return {path: loop_score(chain, item, path) for path in paths}


def brute_log_partition(chain: Chain, item: int) -> float:
    return torch.logsumexp(torch.tensor(list(all_paths(chain, item).values()), dtype=torch.float64), 0).item()


# Brute-force comparisons


@settings(max_examples=40, deadline=None)
@given(chains())
def test_log_partition_matches_enumeration(chain: Chain) -> None:
    result = log_partition(**chain.scores())

    expected = torch.tensor(
        [brute_log_partition(chain, item) for item in range(len(chain.lengths))], dtype=torch.float64
    )
    assert result.shape == (len(chain.lengths),)
    torch.testing.assert_close(result, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(chains())
def test_viterbi_matches_enumeration(chain: Chain) -> None:
    best_score, best_tags = viterbi(**chain.scores())

    assert best_tags.dtype == torch.int64
    assert best_tags.shape == (len(chain.lengths), LENGTH)
    for item in range(len(chain.lengths)):
        paths = all_paths(chain, item)
        ranked = sorted(paths.items(), key=lambda entry: entry[1], reverse=True)
        best_path, max_score = ranked[0]
        assert best_score[item].item() == pytest.approx(max_score, rel=1e-9, abs=1e-12)

        found = tuple(best_tags[item, : chain.lengths[item]].tolist())
        assert paths[found] == pytest.approx(max_score, rel=1e-9, abs=1e-12)
        assert best_tags[item, chain.lengths[item] :].eq(PADDING_TAG).all()
        # Hypothesis often repeats values, so the best path is compared only where it is unique.
        if len(ranked) == 1 or ranked[1][1] < max_score - 1e-9:
            assert found == best_path


@settings(max_examples=40, deadline=None)
@given(chains())
def test_marginals_match_enumeration(chain: Chain) -> None:
    result = marginals(**chain.scores())

    expected = torch.zeros(len(chain.lengths), LENGTH, NUM_TAGS, dtype=torch.float64)
    for item in range(len(chain.lengths)):
        log_z = brute_log_partition(chain, item)
        for path, score in all_paths(chain, item).items():
            for t, tag in enumerate(path):
                expected[item, t, tag] += math.exp(score - log_z)
    torch.testing.assert_close(result, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(chains())
def test_log_partition_gradient_is_marginals(chain: Chain) -> None:
    emissions = chain.emissions.clone().requires_grad_(True)
    transitions = chain.transitions.clone().requires_grad_(True)
    log_z = log_partition(emissions, transitions, chain.mask, chain.start, chain.end)
    log_z.sum().backward()

    assert torch.isfinite(transitions.grad).all()
    expected = marginals(**chain.scores())
    torch.testing.assert_close(emissions.grad, expected, rtol=1e-9, atol=1e-12)


@st.composite
def chains_with_tags(draw: st.DrawFn) -> tuple[Chain, torch.Tensor]:
    """A chain and one tag sequence per item, with arbitrary values at padded positions."""
    chain = draw(chains())
    tags = torch.from_numpy(draw(arrays(np.int64, (len(chain.lengths), LENGTH), elements=st.integers(0, 2))))
    padding = torch.from_numpy(draw(arrays(np.int64, tags.shape, elements=st.integers(-5, 5))))
    return chain, torch.where(chain.mask, tags, padding)


@settings(max_examples=40, deadline=None)
@given(chains_with_tags())
def test_sequence_score_matches_loop(case: tuple[Chain, torch.Tensor]) -> None:
    chain, tags = case
    result = sequence_score(tags=tags, **chain.scores())

    for item, length in enumerate(chain.lengths):
        path = tuple(tags[item, :length].tolist())
        assert result[item].item() == pytest.approx(loop_score(chain, item, path), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(chains_with_tags())
def test_log_likelihood_matches_enumeration(case: tuple[Chain, torch.Tensor]) -> None:
    chain, tags = case
    result = log_likelihood(tags=tags, **chain.scores())

    assert (result <= 0).all()
    for item, length in enumerate(chain.lengths):
        path = tuple(tags[item, :length].tolist())
        expected = loop_score(chain, item, path) - brute_log_partition(chain, item)
        assert result[item].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


# Padding, lengths and masks


def random_chain(
    lengths: list[int], length: int, num_tags: int, seed: int, dtype: torch.dtype = torch.float64
) -> Chain:
    generator = torch.Generator().manual_seed(seed)
    return Chain(
        emissions=torch.randn(len(lengths), length, num_tags, generator=generator, dtype=dtype),
        transitions=torch.randn(num_tags, num_tags, generator=generator, dtype=dtype),
        mask=prefix_mask(lengths, length),
        start=torch.randn(num_tags, generator=generator, dtype=dtype),
        end=torch.randn(num_tags, generator=generator, dtype=dtype),
        lengths=lengths,
    )


def test_padding_does_not_leak_between_items() -> None:
    chain = random_chain([3, 6], 6, 4, seed=1)
    tags = torch.randint(0, 4, (2, 6), generator=torch.Generator().manual_seed(2))
    # Item 1 gets a shorter length, and the padded emissions of item 0 get large values.
    emissions = chain.emissions.clone()
    emissions[0, 3:] = 1e6
    changed = chain._replace(emissions=emissions, mask=prefix_mask([3, 2], 6), lengths=[3, 2])
    # Item 0 alone, with no padding at all.
    alone = chain._replace(emissions=chain.emissions[:1, :3], mask=prefix_mask([3], 3), lengths=[3])

    for other in (changed, alone):
        width = other.emissions.shape[1]
        torch.testing.assert_close(log_partition(**other.scores())[0], log_partition(**chain.scores())[0])
        torch.testing.assert_close(viterbi(**other.scores())[0][0], viterbi(**chain.scores())[0][0])
        assert viterbi(**other.scores())[1][0, :3].tolist() == viterbi(**chain.scores())[1][0, :3].tolist()
        torch.testing.assert_close(marginals(**other.scores())[0], marginals(**chain.scores())[0, :width])
        torch.testing.assert_close(
            sequence_score(tags=tags[: len(other.lengths), :width], **other.scores())[0],
            sequence_score(tags=tags, **chain.scores())[0],
        )


def test_length_one_sequences() -> None:
    chain = random_chain([1, 1], 1, 5, seed=3)
    unary = chain.start + chain.emissions[:, 0] + chain.end  # (batch, tags): every path is one tag

    torch.testing.assert_close(log_partition(**chain.scores()), torch.logsumexp(unary, dim=1))
    best_score, best_tags = viterbi(**chain.scores())
    torch.testing.assert_close(best_score, unary.max(dim=1).values)
    assert best_tags[:, 0].tolist() == unary.argmax(dim=1).tolist()
    torch.testing.assert_close(marginals(**chain.scores())[:, 0], torch.softmax(unary, dim=1))
    assert sample(**chain.scores(), num_samples=3).shape == (3, 2, 1)


def test_long_sequence_stays_finite() -> None:
    chain = random_chain([300, 137], 300, 5, seed=4, dtype=torch.float32)

    log_z = log_partition(**chain.scores())
    best_score, best_tags = viterbi(**chain.scores())

    assert torch.isfinite(log_z).all()
    assert torch.isfinite(best_score).all()
    assert (best_score <= log_z).all()
    assert best_tags.shape == (2, 300)
    assert best_tags.ne(PADDING_TAG).sum(dim=1).tolist() == [300, 137]
    assert best_tags[1, 137:].eq(PADDING_TAG).all()
    torch.testing.assert_close(marginals(**chain.scores()).sum(dim=2), chain.mask.float())


def test_long_sequence_float32_marginals() -> None:
    chain = random_chain([300, 137], 300, 5, seed=4)
    single = chain._replace(
        emissions=chain.emissions.float(),
        transitions=chain.transitions.float(),
        start=chain.start.float(),
        end=chain.end.float(),
    )

    # log Z is about 720 here. On this chain, float32 marginals computed as
    # exp(alpha + beta - log Z) without rescaling alpha and beta at every step
    # differed from float64 by 2e-4, so the tolerance checks the rescaling.
    result = marginals(**single.scores())

    torch.testing.assert_close(result.double(), marginals(**chain.scores()), rtol=0.0, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.float32])
def test_numeric_mask_matches_bool_mask(dtype: torch.dtype) -> None:
    chain = random_chain([4, 2, 1], 4, 3, seed=5)
    numeric = chain._replace(mask=chain.mask.to(dtype))

    torch.testing.assert_close(log_partition(**numeric.scores()), log_partition(**chain.scores()))
    assert viterbi(**numeric.scores())[1].tolist() == viterbi(**chain.scores())[1].tolist()
    torch.testing.assert_close(marginals(**numeric.scores()), marginals(**chain.scores()))


def test_missing_mask_means_all_real() -> None:
    chain = random_chain([4, 4], 4, 3, seed=6)
    unmasked = chain._replace(mask=None)

    torch.testing.assert_close(log_partition(**unmasked.scores()), log_partition(**chain.scores()))


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ([[1, 2, 0], [1, 1, 1]], r"only 0 and 1 .* \[2\]"),
        ([[1, 0, 1], [1, 1, 1]], r"prefix mask .* after a padded one in item 0$"),
        ([[0, 1, 1], [1, 1, 1]], r"prefix mask .* after a padded one in item 0$"),
        ([[1, 1, 1], [0, 0, 0]], r"at least one real position, but the mask has none in item 1$"),
        ([[1, 1], [1, 1]], r"mask must have shape \(batch, length\) = \(2, 3\)"),
    ],
)
def test_invalid_mask_raises(mask: list[list[int]], message: str) -> None:
    chain = random_chain([3, 3], 3, 3, seed=7)

    with pytest.raises(ValueError, match=message):
        log_partition(chain.emissions, chain.transitions, torch.tensor(mask))


def test_invalid_scores_raise() -> None:
    chain = random_chain([3, 3], 3, 3, seed=8)
    emissions = chain.emissions.clone()
    emissions[0, 1, 2] = float("nan")

    with pytest.raises(ValueError, match="emissions contain NaN or \\+inf"):
        log_partition(emissions, chain.transitions, chain.mask)
    with pytest.raises(ValueError, match=r"transitions must have shape \(3, 3\)"):
        log_partition(chain.emissions, chain.transitions[:2], chain.mask)
    with pytest.raises(ValueError, match=r"tags at real positions must lie in \[0, 3\), but found \[3\] in items 0, 1"):
        sequence_score(chain.emissions, chain.transitions, torch.full((2, 3), 3), chain.mask)


# Forbidden transitions


def test_constrain_sets_disallowed_to_minus_infinity() -> None:
    transitions = torch.arange(4.0).reshape(2, 2)
    allowed = torch.tensor([[True, False], [True, True]])

    result = constrain(transitions, allowed)

    assert result.tolist() == [[0.0, NEG_INF], [2.0, 3.0]]
    assert transitions[0, 1] == 1.0  # the input is not modified
    with pytest.raises(ValueError, match="allowed must be a bool tensor"):
        constrain(transitions, allowed.int())


def test_unreachable_tag_gives_no_nan() -> None:
    # No transition enters tag 2, so tag 2 is possible only at the first step.
    chain = random_chain([4, 1], 4, 3, seed=9)
    allowed = torch.ones(3, 3, dtype=torch.bool)
    allowed[:, 2] = False
    transitions = constrain(chain.transitions, allowed).requires_grad_(True)
    emissions = chain.emissions.clone().requires_grad_(True)

    log_z = log_partition(emissions, transitions, chain.mask, chain.start, chain.end)
    log_z.sum().backward()
    result = marginals(emissions, transitions, chain.mask, chain.start, chain.end)

    assert torch.isfinite(log_z).all()
    assert torch.isfinite(emissions.grad).all()
    assert torch.isfinite(transitions.grad).all()
    assert result[:, 1:, 2].eq(0).all()
    torch.testing.assert_close(result.sum(dim=2), chain.mask.double())


# Sampling


def test_sample_matches_path_probabilities() -> None:
    emissions = torch.tensor([[[0.3, -0.2], [0.1, 0.5], [-0.4, 0.2]]], dtype=torch.float64)
    transitions = constrain(
        torch.tensor([[0.5, -0.3], [0.2, 0.1]], dtype=torch.float64),
        allowed=torch.tensor([[True, True], [False, True]]),  # tag 1 never goes back to tag 0
    )
    start = torch.tensor([0.2, -0.1], dtype=torch.float64)
    end = torch.tensor([0.0, 0.4], dtype=torch.float64)
    chain = Chain(emissions, transitions, torch.ones(1, 3, dtype=torch.bool), start, end, [3])
    num_samples = 20_000

    samples = sample(**chain.scores(), num_samples=num_samples, generator=torch.Generator().manual_seed(10))

    assert samples.shape == (num_samples, 1, 3)
    counts = Counter(tuple(path) for path in samples[:, 0].tolist())
    log_z = brute_log_partition(chain, 0)
    exact = {path: math.exp(score - log_z) for path, score in all_paths(chain, 0).items()}
    assert set(counts) <= {path for path, probability in exact.items() if probability > 0}
    total_variation = 0.5 * sum(abs(counts[path] / num_samples - probability) for path, probability in exact.items())
    assert total_variation < 0.02


def test_sample_avoids_forbidden_transitions() -> None:
    chain = random_chain([6, 3, 1], 6, 3, seed=11)
    allowed = torch.ones(3, 3, dtype=torch.bool)
    allowed[0, 1] = False
    allowed[2, 2] = False
    transitions = constrain(chain.transitions, allowed)

    samples = sample(
        chain.emissions,
        transitions,
        chain.mask,
        chain.start,
        chain.end,
        num_samples=2000,
        generator=torch.Generator().manual_seed(12),
    )

    assert samples.shape == (2000, 3, 6)
    for item, length in enumerate(chain.lengths):
        real = samples[:, item, :length]
        assert real.ge(0).all()
        assert samples[:, item, length:].eq(PADDING_TAG).all()
        pairs = set(zip(real[:, :-1].flatten().tolist(), real[:, 1:].flatten().tolist(), strict=True))
        assert (0, 1) not in pairs
        assert (2, 2) not in pairs


def test_sample_rejects_impossible_item() -> None:
    chain = random_chain([2, 2], 2, 2, seed=13)
    start = torch.full((2,), NEG_INF, dtype=torch.float64)

    with pytest.raises(ValueError, match="sampling failed for items 0, 1 because every tag sequence"):
        sample(chain.emissions, chain.transitions, chain.mask, start, chain.end, num_samples=1)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        sample(**chain.scores(), num_samples=0)


# Precision


def test_float32_matches_float64() -> None:
    lengths = [64, 60, 50, 40, 33, 20, 7, 1]
    chain = random_chain(lengths, 64, 32, seed=14)
    single = chain._replace(
        emissions=chain.emissions.float(),
        transitions=chain.transitions.float(),
        start=chain.start.float(),
        end=chain.end.float(),
    )

    result = log_partition(**single.scores())

    assert result.dtype == torch.float32
    torch.testing.assert_close(result.double(), log_partition(**chain.scores()), rtol=1e-4, atol=0.0)
