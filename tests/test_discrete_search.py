"""Tests of the discrete searches (beam, gibbs, metropolis_hastings, simulated_annealing) against exhaustive."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structgen import ConfigError, DataError, Discriminator, Domain, Generator
from structgen.config import ComponentConfig
from structgen.context import BuildContext
from structgen.inference.annealing import SimulatedAnnealing
from structgen.inference.beam import Beam, first_occurrences
from structgen.inference.discrete import score_site_values
from structgen.inference.exhaustive import Exhaustive
from structgen.inference.gibbs import Gibbs
from structgen.inference.metropolis import MetropolisHastings
from structgen_text.domain import SequenceDomain
from structgen_text.vocabulary import EOS_ID, FIRST_ORDINARY_ID, PAD_ID, UNK_ID, Vocabulary
from structgen_vectors.domain import VectorDomain

# Domains and their objects


def variable_domain(max_length: int = 3) -> SequenceDomain:
    """Texts over {a, b} of 0 to max_length characters: 15 objects for max_length 3."""
    return SequenceDomain(Vocabulary(["a", "b"], "character"), max_length)


def fixed_domain() -> SequenceDomain:
    """Texts of exactly 3 characters over {a, b, c}: 27 objects."""
    return SequenceDomain(Vocabulary(["a", "b", "c"], "character"), 3, fixed_length=True)


def all_texts(domain: SequenceDomain) -> torch.Tensor:
    """Every valid row without <unk>, in a fixed order."""
    tokens = domain.vocabulary.tokens[FIRST_ORDINARY_ID:]
    lengths = [domain.max_length] if domain.fixed_length else range(domain.max_length + 1)
    texts = ["".join(chars) for length in lengths for chars in itertools.product(tokens, repeat=length)]
    return domain.from_user(texts)


class BitStrings(Domain):
    """Binary strings of a fixed length that keep the default site interface of Domain."""

    def __init__(self, length: int) -> None:
        self.length = length

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.length,)

    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def num_categories(self) -> int:
        return 2

    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.randint(0, 2, (n, self.length), device=device, generator=generator)

    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        if ((batch != 0) & (batch != 1)).any():
            raise DataError(f"{source}: bits must be 0 or 1")

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        return [row.tolist() for row in batch]

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        return torch.tensor(list(objects), dtype=torch.long)


class SymmetricBits(Domain):
    """Symmetric 0/1 matrices, such as adjacency matrices of graphs with self-loops.

    ``set_site`` also sets the mirrored entry, which may be a site that comes
    earlier in row-major order, so a pass over the sites can reach one row
    from two different rows.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.size, self.size)

    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def num_categories(self) -> int:
        return 2

    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        upper = torch.randint(0, 2, (n, self.size, self.size), device=device, generator=generator).triu()
        return upper | upper.transpose(1, 2)

    def set_site(self, batch: torch.Tensor, site: int, values: torch.Tensor) -> torch.Tensor:
        row, column = divmod(site, self.size)
        out = batch.clone()
        out[:, row, column] = values
        out[:, column, row] = values
        return out

    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        if not torch.equal(batch, batch.transpose(1, 2)):
            raise DataError(f"{source}: matrices must be symmetric")

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        return [row.tolist() for row in batch]

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        return torch.tensor(list(objects), dtype=torch.long)


# Scorers and a generator


class NeuralScorer(Discriminator):
    """Embedding, then an MLP on the flattened row: a fixed random score that is not additive over sites."""

    capabilities = frozenset()

    def __init__(self, num_categories: int, length: int, scale: float = 3.0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(num_categories, 4)
        self.mlp = nn.Sequential(nn.Linear(4 * length, 16), nn.Tanh(), nn.Linear(16, 1))
        self.scale = scale
        self.seen_training: list[bool] = []

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        self.seen_training.append(self.training)
        return self.scale * self.mlp(self.embedding(x).flatten(1)).squeeze(1)


class TableScorer(Discriminator):
    """An independent N(0, 1) score for every row, looked up by the row read as a base-num_categories number."""

    capabilities = frozenset()

    def __init__(self, num_categories: int, length: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("table", torch.randn(num_categories**length, generator=generator))
        self.register_buffer("place_values", num_categories ** torch.arange(length - 1, -1, -1))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.table[x.flatten(1) @ self.place_values]


def neural_scorer(domain: Domain) -> NeuralScorer:
    return NeuralScorer(domain.num_categories, domain.num_sites)


class MatchConditionScorer(Discriminator):
    """score(x) = 4 * number of positions holding the token id given as the row's condition."""

    capabilities = frozenset()

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return 4.0 * (x == condition.unsqueeze(1)).sum(dim=1).float()


class LengthThenTokens(Generator):
    """q(x) = q(length) * prod of q(token) over the tokens: a generator with an exact log_prob."""

    latent_dim = 1

    def __init__(self, domain: SequenceDomain, length_probs: list[float], token_probs: list[float]) -> None:
        super().__init__()
        self.domain = domain
        self.register_buffer("length_probs", torch.tensor(length_probs))
        self.register_buffer("token_probs", torch.tensor(token_probs))

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        logits = torch.full((self.domain.num_categories,), float("-inf"))
        logits[FIRST_ORDINARY_ID:] = self.token_probs.log()
        return logits.expand(len(z), self.domain.max_length, -1)

    @torch.no_grad()
    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        length = self.domain.max_length
        lengths = torch.multinomial(self.length_probs, n, replacement=True).unsqueeze(1)
        tokens = torch.multinomial(self.token_probs, n * length, replacement=True).reshape(n, length)
        positions = torch.arange(length).expand(n, -1)
        batch = torch.where(positions < lengths, tokens + FIRST_ORDINARY_ID, PAD_ID)
        return batch.masked_fill(positions == lengths, EOS_ID)

    def log_prob(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        is_token = x >= FIRST_ORDINARY_ID
        token_log_probs = self.token_probs.log()[(x - FIRST_ORDINARY_ID).clamp(min=0)]
        return self.length_probs.log()[is_token.sum(dim=1)] + (token_log_probs * is_token).sum(dim=1)


class NoLogProbGenerator(Generator):
    latent_dim = 1

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return z


# Helpers


def exact_probabilities(
    domain: Domain, scorer: Discriminator, objects: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """softmax(score / T) over ``objects``, from exhaustive's scores."""
    scores = Exhaustive(domain, objects, temperature, 10**6, 4096).scores(scorer)
    return torch.softmax(scores / temperature, dim=0)


def row_indices(rows: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    """Return the index of each row in ``objects``, failing when a row is not one of them."""
    matches = (rows.flatten(1).unsqueeze(1) == objects.flatten(1).unsqueeze(0)).all(dim=2)
    assert bool(matches.any(dim=1).all()), "a returned row is not a valid object"
    return matches.float().argmax(dim=1)


def total_variation(rows: torch.Tensor, objects: torch.Tensor, probabilities: torch.Tensor) -> float:
    counts = torch.bincount(row_indices(rows, objects), minlength=len(objects)).float()
    return 0.5 * float((counts / len(rows) - probabilities).abs().sum())


def exhaustive_argmax(domain: Domain, scorer: Discriminator, objects: torch.Tensor) -> torch.Tensor:
    return Exhaustive(domain, objects, None, 10**6, 4096).run(scorer, n=1)[0]


def neighbourhood(domain: Domain, row: torch.Tensor, site: int) -> set[tuple[int, ...]]:
    """Rows, flattened, that single-site moves at ``site`` reach from ``row``."""
    values = domain.site_values(row.unsqueeze(0), site)[0].nonzero().flatten()
    moved = domain.set_site(row.unsqueeze(0).expand(len(values), *row.shape), site, values)
    return {tuple(r) for r in moved.flatten(1).tolist()}


def build(registry, domain: Domain, name: str, generator: Generator | None = None, **params: Any) -> Any:
    context = BuildContext(registry=registry, device=torch.device("cpu"), domain=domain, generator=generator)
    return context.build("inference", ComponentConfig(name=name, **params))


# Site interface of the sequences domain


def test_site_values_follow_layout():
    domain = variable_domain(max_length=4)
    row = domain.from_user(["ab"])
    ordinary = list(range(FIRST_ORDINARY_ID, domain.num_categories))

    allowed = [domain.site_values(row, site)[0].nonzero().flatten().tolist() for site in range(4)]

    assert allowed[0] == ordinary
    assert allowed[1] == [EOS_ID, *ordinary]
    assert allowed[2] == [EOS_ID, *ordinary]
    assert allowed[3] == [PAD_ID]


def test_site_values_fixed_length_are_ordinary():
    domain = fixed_domain()
    rows = all_texts(domain)

    allowed = domain.site_values(rows, 1)

    assert bool(allowed[:, FIRST_ORDINARY_ID:].all())
    assert not bool(allowed[:, :FIRST_ORDINARY_ID].any())


def test_set_site_deletes_and_appends():
    domain = variable_domain(max_length=4)
    row = domain.from_user(["ab"])
    a_id = domain.vocabulary.ordinary_ids["a"]

    deleted = domain.set_site(row, 1, torch.tensor([EOS_ID]))
    appended = domain.set_site(row, 2, torch.tensor([a_id]))
    full = domain.set_site(domain.from_user(["abb"]), 3, torch.tensor([a_id]))

    assert domain.to_user(deleted) == ["a"]
    assert deleted.tolist() == domain.from_user(["a"]).tolist()
    assert appended.tolist() == domain.from_user(["aba"]).tolist()
    assert full.tolist() == domain.from_user(["abba"]).tolist()


def test_set_site_returns_copy():
    domain = variable_domain()
    row = domain.from_user(["ab"])
    before = row.clone()

    domain.set_site(row, 0, torch.tensor([EOS_ID]))

    assert torch.equal(row, before)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), site=st.integers(0, 4), fixed_length=st.booleans())
def test_site_moves_keep_rows_valid_and_symmetric(seed: int, site: int, fixed_length: bool):
    vocabulary = Vocabulary(["a", "b", "c"], "character")
    domain = SequenceDomain(vocabulary, 5, fixed_length=fixed_length)
    rows = domain.random_batch(6, generator=torch.Generator().manual_seed(seed))
    current = rows[:, site]

    allowed = domain.site_values(rows, site)
    unchanged = domain.set_site(rows, site, current)

    assert torch.equal(unchanged, rows)
    assert bool(allowed.gather(1, current.unsqueeze(1)).all()), "the current value must be allowed"
    for row in rows:
        reachable = neighbourhood(domain, row, site)
        moved = torch.tensor(sorted(reachable))
        domain.validate(moved, source="moved rows")
        for other in moved:
            assert neighbourhood(domain, other, site) == reachable


def test_site_values_reject_unknown_token():
    domain = variable_domain()
    row = torch.tensor([[UNK_ID, EOS_ID, PAD_ID]])

    allowed = domain.site_values(row, 0)

    assert not bool(allowed[0, UNK_ID])
    assert bool(allowed[0, FIRST_ORDINARY_ID])


@pytest.mark.parametrize("domain", [variable_domain(), fixed_domain()], ids=["variable", "fixed"])
def test_site_moves_connect_all_rows(domain: SequenceDomain):
    objects = {tuple(row) for row in all_texts(domain).tolist()}
    start = tuple(domain.start_batch(1)[0].tolist()) if not domain.fixed_length else next(iter(objects))
    seen = {start}
    queue = deque([start])

    while queue:
        row = torch.tensor(queue.popleft())
        for site in range(domain.num_sites):
            for reached in neighbourhood(domain, row, site) - seen:
                seen.add(reached)
                queue.append(reached)

    assert seen == objects


def test_gibbs_kernel_satisfies_detailed_balance():
    domain = variable_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain).eval()
    probabilities = exact_probabilities(domain, scorer, objects)
    scores = scorer(objects).detach()

    for site in range(domain.num_sites):
        site_scores = score_site_values(scorer, domain, objects, site, scores, None, chunk_size=7)
        conditionals = torch.softmax(site_scores, dim=1)
        values = torch.arange(domain.num_categories)
        kernel = torch.zeros(len(objects), len(objects))
        for index, row in enumerate(objects):
            moved = domain.set_site(row.expand(domain.num_categories, -1), site, values)
            reachable = conditionals[index] > 0
            kernel[index, row_indices(moved[reachable], objects)] += conditionals[index][reachable]
        flow = probabilities.unsqueeze(1) * kernel

        assert torch.allclose(kernel.sum(dim=1), torch.ones(len(objects)))
        assert torch.allclose(flow, flow.T, atol=1e-6)


def test_score_site_values_matches_direct_scores():
    domain = variable_domain()
    rows = all_texts(domain)
    scorer = neural_scorer(domain).eval()
    scores = scorer(rows).detach()

    site_scores = score_site_values(scorer, domain, rows, 1, scores, None, chunk_size=5)

    allowed = domain.site_values(rows, 1)
    assert torch.equal(torch.isfinite(site_scores), allowed)
    for value in range(FIRST_ORDINARY_ID, domain.num_categories):
        moved = domain.set_site(rows, 1, torch.full((len(rows),), value))
        expected = scorer(moved).detach()
        assert torch.allclose(site_scores[allowed[:, value], value], expected[allowed[:, value]], atol=1e-5)


# Beam search


@pytest.mark.parametrize("domain", [variable_domain(), fixed_domain()], ids=["variable", "fixed"])
def test_beam_wide_equals_exhaustive_argmax(domain: SequenceDomain):
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    torch.manual_seed(0)

    rows = Beam(domain, width=len(objects), chunk_size=1000).run(scorer, n=3)

    assert rows.tolist() == [exhaustive_argmax(domain, scorer, objects).tolist()] * 3


def test_beam_default_site_interface_exact():
    domain = BitStrings(4)
    objects = torch.tensor(list(itertools.product([0, 1], repeat=4)))
    scorer = neural_scorer(domain)
    torch.manual_seed(1)

    rows = Beam(domain, width=16, chunk_size=1000).run(scorer, n=2)

    assert rows.tolist() == [exhaustive_argmax(domain, scorer, objects).tolist()] * 2


def test_beam_narrow_returns_good_valid_rows():
    domain = variable_domain(max_length=4)
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    scores = scorer(objects).detach()

    rows = Beam(domain, width=2, chunk_size=1000).run(scorer, n=4)

    domain.validate(rows, source="beam rows")
    row_scores = scorer(rows).detach()
    assert float(row_scores.min()) >= float(scores.median())
    assert float(row_scores.min()) >= float(scorer(domain.start_batch(1)).detach()[0])


def reference_beam(domain: Domain, scorer: Discriminator, start: torch.Tensor, width: int) -> list[int]:
    """Beam search on Python sets of rows; returns the best kept row, flattened."""
    shape = domain.event_shape
    beams = [tuple(start.flatten().tolist())]
    best = beams[0]
    for site in range(domain.num_sites):
        reachable = (neighbourhood(domain, torch.tensor(row).reshape(shape), site) for row in beams)
        candidates = sorted(set().union(*reachable))
        scores = scorer(torch.tensor(candidates).reshape(-1, *shape)).tolist()
        ranked = sorted(zip(scores, candidates, strict=True), reverse=True)
        beams = [row for _, row in ranked[:width]]
        if ranked[0][0] > float(scorer(torch.tensor(best).reshape(1, *shape))[0]):
            best = ranked[0][1]
    return list(best)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(1, 6), symmetric=st.booleans())
def test_beam_matches_reference_beam(seed: int, width: int, symmetric: bool):
    domain = SymmetricBits(3) if symmetric else variable_domain(max_length=4)
    scorer = TableScorer(domain.num_categories, domain.num_sites, seed)
    start = domain.start_batch(1)

    rows = Beam(domain, width=width, chunk_size=50).run(scorer, n=0, init=start.expand(2, *domain.event_shape))

    expected = reference_beam(domain, scorer, start[0], width)
    assert rows.flatten(1).tolist() == [expected, expected]


def test_beam_chunk_size_does_not_change_result():
    domain = variable_domain(max_length=4)
    scorer = neural_scorer(domain)

    small = Beam(domain, width=3, chunk_size=5).run(scorer, n=2)
    large = Beam(domain, width=3, chunk_size=10_000).run(scorer, n=2)

    assert torch.equal(small, large)


def test_beam_from_init_keeps_fixed_length():
    domain = fixed_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    init = objects[[0, 5, 26]]

    rows = Beam(domain, width=27, chunk_size=1000).run(scorer, n=0, init=init)

    assert rows.shape == (3, 3)
    assert rows.tolist() == [exhaustive_argmax(domain, scorer, objects).tolist()] * 3


def test_first_occurrences_within_groups():
    rows = torch.tensor([[1, 2], [1, 2], [3, 4], [1, 2], [1, 2]])
    groups = torch.tensor([0, 0, 0, 1, 1])

    first = first_occurrences(rows, groups)

    assert first.tolist() == [True, False, True, True, False]


# Sampling against the exact distribution


@pytest.mark.parametrize(
    ("domain", "scan", "temperature", "sweeps"),
    [
        (variable_domain(), "systematic", 1.0, 12),
        (variable_domain(), "random", 0.5, 32),
        (fixed_domain(), "systematic", 1.0, 12),
    ],
    ids=["variable", "random-scan", "fixed"],
)
def test_gibbs_matches_exact_distribution(domain: SequenceDomain, scan: str, temperature: float, sweeps: int):
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    torch.manual_seed(0)

    rows = Gibbs(domain, sweeps=sweeps, temperature=temperature, scan=scan, chunk_size=65_536).run(scorer, n=6000)

    probabilities = exact_probabilities(domain, scorer, objects, temperature)
    assert total_variation(rows, objects, probabilities) < 0.05


def test_gibbs_matches_exact_distribution_symmetric_matrices():
    domain = SymmetricBits(2)
    objects = torch.tensor([[[a, b], [b, c]] for a, b, c in itertools.product([0, 1], repeat=3)])
    scorer = TableScorer(domain.num_categories, domain.num_sites, seed=3)
    torch.manual_seed(0)

    rows = Gibbs(domain, sweeps=10, temperature=1.0, scan="random", chunk_size=65_536).run(scorer, n=6000)

    domain.validate(rows, source="gibbs rows")
    assert total_variation(rows, objects, exact_probabilities(domain, scorer, objects)) < 0.05


def test_gibbs_changes_temperature_of_samples():
    domain = variable_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    torch.manual_seed(0)

    rows = Gibbs(domain, sweeps=8, temperature=0.5, scan="systematic", chunk_size=65_536).run(scorer, n=6000)

    assert total_variation(rows, objects, exact_probabilities(domain, scorer, objects, 1.0)) > 0.1


def test_metropolis_site_matches_exact_distribution():
    domain = variable_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    torch.manual_seed(0)

    rows = MetropolisHastings(domain, steps=90, temperature=1.0, chunk_size=65_536).run(scorer, n=6000)

    assert total_variation(rows, objects, exact_probabilities(domain, scorer, objects)) < 0.05


def test_metropolis_generator_matches_exact_distribution():
    domain = variable_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    # A proposal far from the target, so the acceptance ratio has to correct it.
    generator = LengthThenTokens(domain, [0.1, 0.2, 0.3, 0.4], [0.7, 0.3])
    torch.manual_seed(0)

    rows = MetropolisHastings(domain, steps=40, temperature=1.0, chunk_size=65_536, generator=generator).run(
        scorer, n=6000
    )

    assert total_variation(rows, objects, exact_probabilities(domain, scorer, objects)) < 0.05
    assert total_variation(generator.sample(6000), objects, exact_probabilities(domain, scorer, objects)) > 0.1


# Simulated annealing


@pytest.mark.parametrize("moves", ["gibbs", "metropolis"])
@pytest.mark.parametrize("domain", [variable_domain(max_length=4), fixed_domain()], ids=["variable", "fixed"])
def test_simulated_annealing_finds_argmax(domain: SequenceDomain, moves: str):
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    best = exhaustive_argmax(domain, scorer, objects)
    torch.manual_seed(0)

    rows = SimulatedAnnealing(domain, sweeps=30, t_start=2.0, t_end=0.02, moves=moves, chunk_size=65_536).run(
        scorer, n=200
    )

    domain.validate(rows, source="annealing rows")
    found = (rows == best).all(dim=1).float().mean()
    assert float(found) > 0.9


def test_simulated_annealing_returns_best_visited_row():
    domain = variable_domain()
    objects = all_texts(domain)
    scorer = neural_scorer(domain)
    best = exhaustive_argmax(domain, scorer, objects)
    torch.manual_seed(0)

    # At a constant high temperature few final rows are the argmax, but most chains visit it.
    visited_best = SimulatedAnnealing(domain, sweeps=40, t_start=5.0, t_end=5.0, moves="gibbs", chunk_size=65_536).run(
        scorer, n=200
    )
    final = Gibbs(domain, sweeps=40, temperature=5.0, scan="systematic", chunk_size=65_536).run(scorer, n=200)

    assert float((visited_best == best).all(dim=1).float().mean()) > 0.9
    assert float((final == best).all(dim=1).float().mean()) < 0.3


# Conditioning, modes and results


@pytest.mark.parametrize(
    "search",
    [
        Beam(variable_domain(), width=2, chunk_size=7),
        Gibbs(variable_domain(), sweeps=5, temperature=0.05, scan="systematic", chunk_size=7),
        MetropolisHastings(variable_domain(), steps=300, temperature=0.05, chunk_size=7),
        SimulatedAnnealing(variable_domain(), sweeps=100, t_start=1.0, t_end=0.05, moves="metropolis", chunk_size=7),
    ],
    ids=["beam", "gibbs", "metropolis", "annealing"],
)
def test_search_passes_condition_per_row(search: Any):
    domain = search.domain
    a_id, b_id = domain.vocabulary.ordinary_ids["a"], domain.vocabulary.ordinary_ids["b"]
    condition = torch.tensor([a_id, b_id] * 10)
    torch.manual_seed(0)

    rows = search.run(MatchConditionScorer(), n=20, condition=condition)

    assert domain.to_user(rows) == ["aaa", "bbb"] * 10


@pytest.mark.parametrize(
    "search",
    [
        Beam(variable_domain(), width=2, chunk_size=100),
        Gibbs(variable_domain(), sweeps=2, temperature=1.0, scan="random", chunk_size=100),
        MetropolisHastings(variable_domain(), steps=5, temperature=1.0, chunk_size=100),
        SimulatedAnnealing(variable_domain(), sweeps=2, t_start=1.0, t_end=0.1, moves="gibbs", chunk_size=100),
    ],
    ids=["beam", "gibbs", "metropolis", "annealing"],
)
def test_search_uses_eval_mode_and_restores_it(search: Any):
    scorer = neural_scorer(search.domain).train()
    scorer.mlp.eval()

    rows = search.run(scorer, n=4)

    assert scorer.seen_training
    assert not any(scorer.seen_training)
    assert scorer.training
    assert not scorer.mlp.training
    assert rows.dtype == torch.long
    assert not rows.requires_grad
    search.domain.validate(rows, source="search rows")


def test_search_validates_init():
    domain = variable_domain()
    bad = torch.tensor([[PAD_ID, EOS_ID, PAD_ID]])

    with pytest.raises(DataError, match="inference init"):
        Gibbs(domain, sweeps=1, temperature=1.0, scan="systematic", chunk_size=10).run(
            neural_scorer(domain), n=1, init=bad
        )


def test_search_replaces_unknown_tokens_of_init():
    domain = variable_domain()
    init = torch.tensor([[UNK_ID, UNK_ID, EOS_ID]] * 8)
    torch.manual_seed(0)

    rows = Gibbs(domain, sweeps=1, temperature=1.0, scan="systematic", chunk_size=100).run(
        neural_scorer(domain), n=0, init=init
    )

    assert not bool((rows == UNK_ID).any())


@pytest.mark.parametrize(
    "search",
    [
        Beam(variable_domain(), width=2, chunk_size=100),
        Gibbs(variable_domain(), sweeps=1, temperature=1.0, scan="systematic", chunk_size=100),
        MetropolisHastings(variable_domain(), steps=1, temperature=1.0, chunk_size=100),
        SimulatedAnnealing(variable_domain(), sweeps=1, t_start=1.0, t_end=0.1, moves="gibbs", chunk_size=100),
    ],
    ids=["beam", "gibbs", "metropolis", "annealing"],
)
def test_search_without_scorer_raises(search: Any):
    with pytest.raises(ValueError, match="needs a scorer"):
        search.run(None, n=2)


# Registration and errors


NAMES = ["beam", "gibbs", "metropolis_hastings", "simulated_annealing"]


@pytest.mark.parametrize("name", NAMES)
def test_registered_search_builds(registry, name: str):
    search = build(registry, variable_domain(), name)

    assert search.needs_scorer
    assert search.requires == frozenset()
    assert registry.get("inference", name).description


@pytest.mark.parametrize("name", NAMES)
def test_continuous_domain_rejected(registry, name: str):
    with pytest.raises(ConfigError, match=f"{name} searches discrete domains.*langevin"):
        build(registry, VectorDomain(2, -1.0, 1.0), name)


def test_generator_proposal_without_generator_rejected(registry):
    with pytest.raises(ConfigError, match="needs a strategy with an autoregressive generator.*found no generator"):
        build(registry, variable_domain(), "metropolis_hastings", proposal="generator")


def test_generator_proposal_without_log_prob_rejected(registry):
    with pytest.raises(ConfigError, match="NoLogProbGenerator, which has no log_prob.*use proposal site"):
        build(registry, variable_domain(), "metropolis_hastings", generator=NoLogProbGenerator(), proposal="generator")


def test_generator_proposal_builds_with_log_prob(registry):
    domain = variable_domain()
    generator = LengthThenTokens(domain, [0.25] * 4, [0.5, 0.5])

    search = build(registry, domain, "metropolis_hastings", generator=generator, proposal="generator", steps=3)

    assert search.generator is generator
    assert search.steps == 3
