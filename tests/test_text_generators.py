"""Gumbel-softmax and the autoregressive text generators: likelihood, sampling and relaxed sampling."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from structgen import ConfigError, DataError
from structgen.context import BuildContext
from structgen.relaxation import gumbel_noise, gumbel_softmax
from structgen_images.domain import ImageDomain
from structgen_text.autoregressive import AutoregressiveGenerator
from structgen_text.domain import SequenceDomain
from structgen_text.gru import GRUGenerator, GRUParams
from structgen_text.transformer import TransformerGenerator, TransformerParams
from structgen_text.vocabulary import BOS_ID, EOS_ID, FIRST_ORDINARY_ID, PAD_ID, UNK_ID, Vocabulary

GENERATORS = [GRUGenerator, TransformerGenerator]

# ---------------------------------------------------------------------------
# Gumbel noise and Gumbel-softmax


def test_gumbel_noise_moments():
    noise = gumbel_noise((10**6,), generator=torch.Generator().manual_seed(0))
    euler_gamma = 0.5772156649
    assert torch.isfinite(noise).all()
    assert abs(float(noise.mean()) - euler_gamma) < 0.01
    assert abs(float(noise.var()) - math.pi**2 / 6) < 0.02


def _mixed_logits(rows: int) -> torch.Tensor:
    """Rows of moderate logits with one -inf, and rows with huge, tiny and -inf logits."""
    moderate = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0, float("-inf"), -0.5, 0.3])
    extreme = torch.tensor([1e38, -1e38, float("-inf"), 0.0, 40.0, -40.0, 1e-30, 0.0])
    logits = moderate.repeat(rows, 1)
    logits[rows // 2 :] = extreme
    return logits


@pytest.mark.parametrize("tau", [1.0, 0.1])
def test_gumbel_softmax_hard_samples(tau):
    rows = 10**6 // 8
    logits = _mixed_logits(rows).requires_grad_(True)
    samples = gumbel_softmax(logits, tau=tau, hard=True, generator=torch.Generator().manual_seed(1))

    assert not torch.isnan(samples).any()
    assert torch.equal(samples.detach().sum(dim=-1), torch.ones(rows))
    assert torch.equal(samples.detach().max(dim=-1).values, torch.ones(rows))
    assert ((samples == 0) | (samples == 1)).all()
    assert samples[:, 5].sum() == 0
    assert samples[rows // 2 :, 2].sum() == 0

    chosen = samples.detach().argmax(dim=-1)
    moderate_frequency = torch.bincount(chosen[: rows // 2], minlength=8).float() / (rows // 2)
    expected = torch.softmax(logits[0].detach(), dim=-1)
    assert torch.allclose(moderate_frequency, expected, atol=0.005)
    assert torch.equal(chosen[rows // 2 :], torch.zeros(rows - rows // 2, dtype=torch.long))

    weights = torch.arange(8.0)
    (samples * weights).sum().backward()
    assert not torch.isnan(logits.grad).any()
    assert logits.grad[: rows // 2, [0, 1, 2, 3, 4, 6, 7]].abs().sum() > 0
    assert logits.grad[:, 5].abs().sum() == 0


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.sampled_from([float("-inf"), -1e38, -50.0, -1.0, 0.0, 3.0, 50.0, 1e38]), min_size=5, max_size=5),
        min_size=1,
        max_size=6,
    ),
    tau=st.sampled_from([0.01, 0.5, 1.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_gumbel_softmax_one_hot_property(rows, tau, seed):
    logits = torch.tensor(rows)
    logits[:, 0] = logits[:, 0].clamp(min=-1e38)  # every row needs a finite logit
    samples = gumbel_softmax(logits, tau=tau, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(samples.sum(dim=-1), torch.ones(len(rows)))
    assert ((samples == 0) | (samples == 1)).all()
    assert samples[logits == float("-inf")].sum() == 0


def test_gumbel_softmax_soft_samples():
    logits = torch.tensor([[0.0, 1.0, float("-inf")]]).repeat(1000, 1).requires_grad_(True)
    samples = gumbel_softmax(logits, tau=0.5, hard=False, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(samples.detach().sum(dim=-1), torch.ones(1000))
    assert samples[:, 2].abs().sum() == 0
    assert ((samples[:, :2] > 0) & (samples[:, :2] < 1)).any()
    samples[:, 0].sum().backward()
    assert logits.grad[:, 0].abs().sum() > 0


def test_gumbel_softmax_rejects_bad_tau():
    with pytest.raises(ValueError, match="tau must be above 0"):
        gumbel_softmax(torch.zeros(2, 3), tau=0.0)


# ---------------------------------------------------------------------------
# Autoregressive generators


def _domain(characters: str = "ab", max_length: int = 3, fixed_length: bool = False) -> SequenceDomain:
    return SequenceDomain(Vocabulary(list(characters), "character"), max_length, fixed_length)


def _model(generator_class: type[AutoregressiveGenerator], domain: SequenceDomain, **kwargs) -> AutoregressiveGenerator:
    torch.manual_seed(0)
    return generator_class(domain, **kwargs).eval()


def _valid_rows(domain: SequenceDomain) -> torch.Tensor:
    """Every row that ``domain.validate`` accepts, built by enumeration."""
    tokens = [UNK_ID, *range(FIRST_ORDINARY_ID, domain.num_categories)]
    lengths = [domain.max_length] if domain.fixed_length else range(domain.max_length + 1)
    rows = []
    for length in lengths:
        for text in itertools.product(tokens, repeat=length):
            rest = domain.max_length - length
            rows.append([*text, *([EOS_ID] + [PAD_ID] * (rest - 1) if rest else [])])
    candidates = torch.tensor(rows, dtype=torch.long)
    return torch.stack([row for row in candidates if _is_valid(domain, row)])


def _is_valid(domain: SequenceDomain, row: torch.Tensor) -> bool:
    try:
        domain.validate(row.unsqueeze(0))
    except DataError:
        return False
    return True


def _step_log_probs(model: AutoregressiveGenerator, x: torch.Tensor) -> torch.Tensor:
    """Sum of per-step log-softmax along each row, fed token by token through ``step``."""
    state = model.initial_state(len(x))
    inputs = torch.full((len(x),), BOS_ID, dtype=torch.long)
    mask = model.domain.mask(x)
    total = torch.zeros(len(x))
    for position in range(x.shape[1]):
        logits, state = model.step(inputs, state)
        log_probs = torch.log_softmax(model.constrain_logits(logits), dim=-1)
        token = log_probs.gather(1, x[:, position : position + 1]).squeeze(1)
        total += torch.where(mask[:, position], token, torch.zeros_like(token))
        inputs = x[:, position]
    return total


def _greedy(model: AutoregressiveGenerator, n: int) -> torch.Tensor:
    state = model.initial_state(n)
    inputs = torch.full((n,), BOS_ID, dtype=torch.long)
    finished = torch.zeros(n, dtype=torch.bool)
    rows = []
    for _ in range(model.max_length):
        logits, state = model.step(inputs, state)
        token = model.constrain_logits(logits).argmax(dim=-1).masked_fill(finished, PAD_ID)
        finished |= token == EOS_ID
        rows.append(token)
        inputs = token
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("generator_class", GENERATORS)
@pytest.mark.parametrize("fixed_length", [False, True])
def test_log_prob_matches_steps(generator_class, fixed_length):
    domain = _domain("abcde", max_length=6, fixed_length=fixed_length)
    model = _model(generator_class, domain)
    x = domain.random_batch(32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        log_prob = model.log_prob(x)
        expected = _step_log_probs(model, x)
    assert log_prob.shape == (32,)
    assert torch.allclose(log_prob, expected, atol=1e-5)


@pytest.mark.parametrize("generator_class", GENERATORS)
@pytest.mark.parametrize(("fixed_length", "count"), [(False, 40), (True, 8)])
def test_likelihood_sums_to_one(generator_class, fixed_length, count):
    domain = _domain("ab", max_length=3, fixed_length=fixed_length)
    rows = _valid_rows(domain)
    model = _model(generator_class, domain)
    with torch.no_grad():
        total = model.log_prob(rows).exp().sum()
    # Variable-length rows may contain <unk>: 1 + 3 + 9 + 27 rows over {<unk>, a, b}.
    assert len(rows) == count
    assert abs(float(total) - 1.0) < 1e-5


@settings(max_examples=12, deadline=None)
@given(
    generator_class=st.sampled_from(GENERATORS),
    characters=st.sampled_from(["a", "ab"]),
    max_length=st.integers(1, 3),
    fixed_length=st.booleans(),
)
def test_likelihood_normalised_on_small_domains(generator_class, characters, max_length, fixed_length):
    domain = _domain(characters, max_length=max_length, fixed_length=fixed_length)
    model = _model(generator_class, domain)
    with torch.no_grad():
        total = model.log_prob(_valid_rows(domain)).exp().sum()
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_token_log_probs_zero_after_eos(generator_class):
    domain = _domain("ab", max_length=5)
    model = _model(generator_class, domain)
    x = domain.from_user(["a", "", "abab", "babab"])
    with torch.no_grad():
        token_log_probs = model.token_log_probs(x)
    assert torch.equal(token_log_probs == 0, ~domain.mask(x))
    assert (token_log_probs[domain.mask(x)] < 0).all()


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_sequence_logits_are_causal(generator_class):
    domain = _domain("abcd", max_length=6)
    model = _model(generator_class, domain)
    x = domain.random_batch(8, generator=torch.Generator().manual_seed(4))
    changed = x.clone()
    changed[:, 3] = FIRST_ORDINARY_ID + (x[:, 3] + 1) % 4
    with torch.no_grad():
        logits = model.sequence_logits(x)
        changed_logits = model.sequence_logits(changed)
    assert logits.shape == (8, 6, domain.num_categories)
    assert torch.allclose(logits[:, :4], changed_logits[:, :4], atol=1e-6)
    assert not torch.allclose(logits[:, 4:], changed_logits[:, 4:])


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_step_takes_ids_or_one_hots(generator_class):
    domain = _domain("abc", max_length=4)
    model = _model(generator_class, domain)
    ids = torch.tensor([BOS_ID, FIRST_ORDINARY_ID, EOS_ID])
    with torch.no_grad():
        from_ids, _ = model.step(ids, model.initial_state(3))
        from_one_hots, _ = model.step(F.one_hot(ids, domain.num_categories).float(), model.initial_state(3))
    assert from_ids.shape == (3, domain.num_categories)
    assert torch.allclose(from_ids, from_one_hots, atol=1e-6)


@pytest.mark.parametrize("generator_class", GENERATORS)
@pytest.mark.parametrize("fixed_length", [False, True])
def test_sample_gives_valid_rows(generator_class, fixed_length):
    domain = _domain("abc", max_length=5, fixed_length=fixed_length)
    model = _model(generator_class, domain)
    rows = model.sample(200)
    assert rows.shape == (200, 5)
    assert rows.dtype == torch.long
    domain.validate(rows, source="samples")
    assert len(set(map(tuple, rows.tolist()))) > 10


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_sample_top_k_one_is_greedy(generator_class):
    domain = _domain("abcd", max_length=6)
    model = _model(generator_class, domain)
    with torch.no_grad():
        greedy = _greedy(model, 16)
    assert torch.equal(model.sample(16, top_k=1), greedy)
    assert torch.equal(model.sample(16, temperature=1e-4), greedy)


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_sample_top_k_keeps_likeliest(generator_class):
    domain = _domain("abcdef", max_length=3)
    model = _model(generator_class, domain)
    with torch.no_grad():
        logits, _ = model.step(torch.tensor([BOS_ID]), model.initial_state(1))
    likeliest = set(model.constrain_logits(logits)[0].topk(2).indices.tolist())
    first_tokens = set(model.sample(300, top_k=2)[:, 0].tolist())
    assert first_tokens == likeliest


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_sample_rejects_bad_settings(generator_class):
    model = _model(generator_class, _domain())
    with pytest.raises(ValueError, match="temperature must be above 0"):
        model.sample(2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        model.sample(2, top_k=0)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, condition=torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_complete_keeps_prefix(generator_class):
    domain = _domain("abc", max_length=5)
    model = _model(generator_class, domain)
    rows = domain.from_user(["abcab", "ab", "", "c"])
    for length in range(domain.max_length + 1):
        completed = model.complete(rows[:, :length])
        domain.validate(completed, source=f"completions of {length} positions")
        assert torch.equal(completed[:, :length], rows[:, :length])
    # A row whose prefix contains <eos> stays as it is.
    finished = model.complete(rows[2:3, :1].repeat(20, 1))
    assert torch.equal(finished, rows[2:3].repeat(20, 1))


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_complete_rejects_long_prefix(generator_class):
    model = _model(generator_class, _domain(max_length=3))
    with pytest.raises(ValueError, match="more than max_length 3"):
        model.complete(torch.full((2, 4), FIRST_ORDINARY_ID))


@pytest.mark.parametrize("generator_class", GENERATORS)
@pytest.mark.parametrize("fixed_length", [False, True])
def test_sample_relaxed_hardens_to_valid_rows(generator_class, fixed_length):
    domain = _domain("abc", max_length=5, fixed_length=fixed_length)
    model = _model(generator_class, domain)
    relaxed = model(torch.zeros(64, 1))
    assert relaxed.shape == (64, 5, domain.num_categories)
    assert ((relaxed == 0) | (relaxed == 1)).all()
    assert torch.equal(relaxed.detach().sum(dim=-1), torch.ones(64, 5))
    domain.validate(model.harden(relaxed), source="relaxed samples")


@pytest.mark.parametrize("generator_class", GENERATORS)
def test_sample_relaxed_gradients(generator_class):
    domain = _domain("abc", max_length=6)
    model = _model(generator_class, domain)
    torch.manual_seed(5)
    relaxed = model.sample_relaxed(64, tau=0.5)
    padding = ~domain.mask(model.harden(relaxed))
    assert padding.any()
    weights = torch.randn(domain.num_categories)
    names, parameters = zip(*model.named_parameters(), strict=True)

    real_loss = (relaxed * weights)[~padding].sum()
    real_grads = dict(zip(names, torch.autograd.grad(real_loss, parameters, retain_graph=True), strict=True))
    # The embedding only gets a gradient through the one-hots fed back as inputs.
    assert real_grads["embedding.weight"].abs().sum() > 0
    assert real_grads["output.weight"].abs().sum() > 0

    padding_loss = (relaxed * weights)[padding].sum()
    padding_grads = torch.autograd.grad(padding_loss, parameters, allow_unused=True)
    assert all(grad is None or grad.abs().sum() == 0 for grad in padding_grads)
    pad_one_hot = F.one_hot(torch.tensor(PAD_ID), domain.num_categories).float()
    assert (relaxed[padding].detach() == pad_one_hot).all()


def test_transformer_rejects_heads_not_dividing_width():
    with pytest.raises(ValidationError, match="not divisible by heads 4"):
        TransformerParams(d_model=30, heads=4)
    with pytest.raises(ValueError, match="not divisible by heads 4"):
        TransformerGenerator(_domain(), d_model=30, heads=4)


@pytest.mark.parametrize(("name", "params"), [("gru", GRUParams()), ("transformer", TransformerParams())])
def test_factories_need_sequence_domain(registry, name, params):
    factory = registry.get("generator", name).factory
    images = BuildContext(registry=registry, device=torch.device("cpu"), domain=ImageDomain(1, 8, 8))
    with pytest.raises(ConfigError, match=f"{name} needs the sequences domain, got images"):
        factory(params, images)
    text = BuildContext(registry=registry, device=torch.device("cpu"), domain=_domain())
    model = factory(params, text)
    assert isinstance(model, AutoregressiveGenerator)
    assert model.vocab_size == 6
    assert model.max_length == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("generator_class", GENERATORS)
def test_generators_run_on_cuda(generator_class):
    domain = _domain("abc", max_length=5)
    model = _model(generator_class, domain).to("cuda")
    rows = model.sample(16)
    assert rows.device.type == "cuda"
    domain.validate(rows.cpu(), source="CUDA samples")
    assert model.log_prob(rows).device.type == "cuda"
    relaxed = model.sample_relaxed(16)
    relaxed.sum().backward()
    assert model.output.weight.grad is not None
