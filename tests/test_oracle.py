"""Tests of the synthetic oracle LSTM and the ``oracle`` data set built from it."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from pydantic import ValidationError

import structgen_text.oracle as oracle_module
from structgen.config import ComponentConfig
from structgen.context import BuildContext
from structgen_text.domain import SequenceDomain
from structgen_text.oracle import OracleLSTM, OracleParams, build_oracle, draw_by_blocks, mean_token_nll
from structgen_text.vocabulary import FIRST_ORDINARY_ID

SMALL = {"vocabulary_size": 50, "hidden": 16, "length": 8, "train": 200, "validation": 50, "test": 100}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def small_oracle_data(**changes: int):
    return build_oracle(OracleParams(**{**SMALL, "floor_samples": 500, **changes}), None)


# The oracle network


def test_oracle_weights_repeat_by_seed():
    first = OracleLSTM(50, 8, seed=3).state_dict()
    second = OracleLSTM(50, 8, seed=3).state_dict()
    other = OracleLSTM(50, 8, seed=4).state_dict()

    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert not torch.equal(first["output.weight"], other["output.weight"])


def test_oracle_weights_standard_normal():
    oracle = OracleLSTM(5000, 32, seed=0)

    for name, weight in oracle.named_parameters():
        if name == "lstm.bias_hh_l0":
            assert torch.equal(weight, torch.zeros_like(weight))
            continue
        assert abs(float(weight.mean())) < 5 / math.sqrt(weight.numel()), name
        assert float(weight.std()) == pytest.approx(1.0, abs=0.3 if weight.numel() < 1000 else 0.05), name
    assert oracle.embedding.weight.shape == (5001, 32)
    assert oracle.output.weight.shape == (5000, 32)
    assert not any(weight.requires_grad for weight in oracle.parameters())
    assert not oracle.training


def test_oracle_leaves_global_random_stream():
    torch.manual_seed(11)
    expected = torch.rand(3)

    torch.manual_seed(11)
    OracleLSTM(20, 4, seed=0)
    observed = torch.rand(3)

    assert torch.equal(observed, expected)


def test_log_prob_sums_to_one_over_all_sequences():
    oracle = OracleLSTM(3, 4, seed=1)
    every_sequence = torch.tensor(list(itertools.product(range(3), repeat=3)))

    log_probs = oracle.log_prob(every_sequence)

    assert log_probs.shape == (27, 3)
    assert float(log_probs.double().sum(dim=1).exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_log_prob_prefix_marginals():
    # Summing p(x1, x2) over x2 gives p(x1), the first column of log_prob.
    oracle = OracleLSTM(4, 4, seed=2)
    pairs = torch.tensor(list(itertools.product(range(4), repeat=2)))

    log_probs = oracle.log_prob(pairs).double()
    joint = log_probs.sum(dim=1).exp().reshape(4, 4)

    assert torch.allclose(joint.sum(dim=1), log_probs[::4, 0].exp(), atol=1e-6)


def test_sample_frequencies_match_probabilities():
    oracle = OracleLSTM(3, 4, seed=5)
    every_sequence = torch.tensor(list(itertools.product(range(3), repeat=2)))
    probabilities = oracle.log_prob(every_sequence).double().sum(dim=1).exp()

    samples = oracle.sample(40_000, 2, seeded(6))
    codes = samples[:, 0] * 3 + samples[:, 1]
    frequencies = torch.bincount(codes, minlength=9).double() / len(samples)

    # Each frequency has a standard error of at most 0.0025 at 40,000 samples.
    assert torch.allclose(frequencies, probabilities, atol=0.01)


def test_sample_log_probs_match_log_prob():
    oracle = OracleLSTM(300, 16, seed=7)

    tokens, log_probs = oracle.sample_with_log_prob(200, 6, seeded(8))

    assert tokens.shape == (200, 6)
    assert tokens.dtype == torch.long
    assert int(tokens.min()) >= 0
    assert int(tokens.max()) < 300
    assert torch.allclose(log_probs, oracle.log_prob(tokens), atol=1e-4)


def test_sample_repeats_by_generator_seed():
    oracle = OracleLSTM(40, 8, seed=0)

    first = oracle.sample(30, 5, seeded(1))
    second = oracle.sample(30, 5, seeded(1))
    other = oracle.sample(30, 5, seeded(2))

    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_sample_independent_of_chunk_size(monkeypatch):
    oracle = OracleLSTM(40, 8, seed=0)
    whole = oracle.sample(50, 5, seeded(3))

    # With room for a single row of scores, every row is drawn in its own chunk.
    monkeypatch.setattr(oracle_module, "CHUNK_ELEMENTS", 1)
    one_row_chunks = oracle.sample(50, 5, seeded(3))

    assert torch.equal(one_row_chunks, whole)


def test_sample_zero_rows():
    oracle = OracleLSTM(10, 4, seed=0)

    tokens, log_probs = oracle.sample_with_log_prob(0, 5, seeded(0))

    assert tokens.shape == (0, 5)
    assert log_probs.shape == (0, 5)


def test_log_prob_rejects_out_of_range_tokens():
    oracle = OracleLSTM(10, 4, seed=0)

    with pytest.raises(ValueError, match=r"oracle indices in \[0, 10\), got values from 0 to 10"):
        oracle.log_prob(torch.tensor([[0, 10]]))


def test_draw_by_blocks_skips_zero_weights():
    weights = torch.tensor([[0.0, 2.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    lowest = torch.zeros(3)
    highest = torch.full((3,), 1.0 - 2.0**-24)

    low_index, low_weight, total = draw_by_blocks(weights, lowest, block_size=2)
    high_index, _, _ = draw_by_blocks(weights, highest, block_size=2)

    assert low_index.flatten().tolist() == [1, 0, 3]
    assert high_index.flatten().tolist() == [1, 2, 3]
    assert low_weight.flatten().tolist() == [2.0, 1.0, 5.0]
    assert total.flatten().tolist() == [2.0, 4.0, 5.0]


def test_draw_by_blocks_inverse_cdf():
    # Cumulative weights 1, 3, 6, 10: a target u * 10 falls into token k when it lies in [cum(k-1), cum(k)).
    weights = torch.tensor([[1.0, 2.0, 3.0, 4.0]]).expand(5, 4)
    uniforms = torch.tensor([0.05, 0.15, 0.35, 0.65, 0.95])

    index, _, _ = draw_by_blocks(weights, uniforms, block_size=2)

    assert index.flatten().tolist() == [0, 1, 2, 3, 3]


def test_default_oracle_floor_near_six():
    # 10,000 samples of the default oracle (seed 0) averaged 6.04 nats per token.
    # The mean of 300 rows has a standard error of about 0.03.
    oracle = OracleLSTM(5000, 32, seed=0)

    _, log_probs = oracle.sample_with_log_prob(300, 20, seeded(3))

    assert float(-log_probs.double().mean()) == pytest.approx(6.04, abs=0.15)


# The data set


def test_oracle_data_layout():
    data = small_oracle_data()

    assert isinstance(data.domain, SequenceDomain)
    assert data.domain.fixed_length
    assert data.domain.max_length == 8
    assert data.domain.num_categories == 50 + FIRST_ORDINARY_ID
    assert data.domain.vocabulary.tokens[FIRST_ORDINARY_ID] == "0"
    assert (len(data.train), len(data.validation), len(data.test)) == (200, 50, 100)
    for split in (data.train, data.validation, data.test):
        assert split.x.shape[1] == 8
        assert int(split.x.min()) >= FIRST_ORDINARY_ID
        assert int(split.x.max()) < FIRST_ORDINARY_ID + 50
        assert split.condition is None
    assert isinstance(data.info["oracle"], OracleLSTM)
    assert [section["name"] for section in data.info["metrics"]][:2] == ["oracle_nll", "oracle_floor"]


def test_oracle_data_ids_offset_indices():
    # Token id = oracle index + FIRST_ORDINARY_ID, so the splits score like fresh samples.
    data = small_oracle_data(test=1000)
    oracle = data.info["oracle"]

    test_nll = mean_token_nll(oracle, data.test.x - FIRST_ORDINARY_ID)

    assert test_nll == pytest.approx(data.info["oracle_floor"], abs=0.1)


def test_oracle_data_repeats_by_seed():
    first = small_oracle_data(seed=4)
    second = small_oracle_data(seed=4)
    other = small_oracle_data(seed=5)

    assert torch.equal(first.train.x, second.train.x)
    assert torch.equal(first.test.x, second.test.x)
    assert first.info["oracle_floor"] == second.info["oracle_floor"]
    assert not torch.equal(first.train.x, other.train.x)
    assert first.info["oracle_floor"] != other.info["oracle_floor"]


def test_oracle_splits_differ_from_each_other():
    data = small_oracle_data()

    assert not torch.equal(data.train.x[:50], data.validation.x)
    assert not torch.equal(data.validation.x, data.test.x[:50])


def test_oracle_split_independent_of_other_sizes():
    base = small_oracle_data()
    more_training = small_oracle_data(train=300, floor_samples=700)

    assert torch.equal(base.test.x, more_training.test.x)
    assert torch.equal(base.validation.x, more_training.validation.x)
    assert torch.equal(base.train.x, more_training.train.x[:200])


def test_oracle_floor_below_uniform_entropy():
    # The floor estimates the oracle's entropy per token, at most log V.
    data = small_oracle_data()

    assert 0.0 < data.info["oracle_floor"] < math.log(50)


def test_oracle_params_reject_bad_values():
    with pytest.raises(ValidationError, match="vocabulary_size"):
        OracleParams(vocabulary_size=1)
    with pytest.raises(ValidationError, match="length"):
        OracleParams(length=0)
    with pytest.raises(ValidationError, match="unknown_field|extra"):
        OracleParams(unknown_field=1)


def test_oracle_registered_data_set(registry):
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    section = ComponentConfig.model_validate({"name": "oracle", **SMALL, "floor_samples": 100})

    data = context.build("dataset", section)

    assert data.train.x.shape == (200, 8)
    assert data.info["oracle"].vocabulary_size == 50
