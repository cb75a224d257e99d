"""Tests of the gradient-based and exhaustive inference algorithms against exact results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structgen import Capability, ConfigError, DataError, Discriminator, Domain, Generator
from structgen.inference.amortized import Amortized
from structgen.inference.exhaustive import Exhaustive, enumerate_domain
from structgen.inference.gradient import GradientAscent, Langevin, temperature_schedule
from structgen_vectors.domain import VectorDomain

# Scorers


class StandardNormalScorer(Discriminator):
    """score(x) = -|x|^2 / 2, so exp(score / T) is N(0, T I)."""

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return -0.5 * x.pow(2).sum(dim=1)


class QuadraticScorer(Discriminator):
    """score(x) = -|x - center|^2, concave with its maximum at ``center``."""

    def __init__(self, center: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("center", torch.tensor(center, dtype=torch.float32))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return -(x - self.center).pow(2).sum(dim=1)


class DoubleWellScorer(Discriminator):
    """score(x) = -(x^2 - 1)^2 in 1-D, with maxima at -1 and +1."""

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return -(x[:, 0].pow(2) - 1).pow(2)


class LinearScorer(Discriminator):
    """score(x) = x . weights, so on bit strings the argmax sets exactly the bits with positive weight."""

    def __init__(self, weights: Sequence[float]) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.tensor(weights, dtype=torch.float32))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return x.float() @ self.weights


class CountingScorer(Discriminator):
    """A scorer that records how often it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        return torch.zeros(len(x))


class NoGradientScorer(StandardNormalScorer):
    capabilities = frozenset()


# A small discrete domain


class BitStrings(Domain):
    """Binary strings of a fixed length, batched with shape ``(n, length)``."""

    name = "bit_strings"

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
        if batch.dim() != 2 or batch.shape[1] != self.length:
            raise DataError(f"{source}: expected shape (n, {self.length}), got {tuple(batch.shape)}")
        if ((batch != 0) & (batch != 1)).any():
            raise DataError(f"{source}: bits must be 0 or 1")

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        return [row.tolist() for row in batch]

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        batch = torch.tensor(list(objects), dtype=torch.long)
        self.validate(batch, source="bit strings")
        return batch


class LinearGenerator(Generator):
    latent_dim = 3

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(self.latent_dim, 2)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.linear(z)


# Langevin sampling


def langevin_samples(temperature: float) -> torch.Tensor:
    """Run 4,000 2-D chains on the standard normal score from (8, 8), far from the mode."""
    torch.manual_seed(0)
    domain = VectorDomain(2, -10.0, 10.0)
    sampler = Langevin(domain, steps=1200, step_size=0.01, temperature=temperature, final_temperature=None)
    start = torch.full((4000, 2), 8.0)
    return sampler.run(StandardNormalScorer(), n=len(start), init=start)


def test_langevin_samples_standard_normal():
    samples = langevin_samples(temperature=1.0)

    assert samples.shape == (4000, 2)
    assert abs(float(samples.std()) - 1.0) < 0.05
    assert abs(float(samples.mean())) < 0.05


def test_langevin_variance_scales_with_temperature():
    samples = langevin_samples(temperature=4.0)

    assert abs(float(samples.std()) - 2.0) < 0.1
    assert abs(float(samples.mean())) < 0.1


def test_langevin_zero_temperature_is_gradient_ascent():
    domain = VectorDomain(2, -10.0, 10.0)
    scorer = QuadraticScorer([1.5, -2.0])
    start = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)) * 3

    torch.manual_seed(0)
    langevin = Langevin(domain, steps=20, step_size=0.05, temperature=0.0, final_temperature=None).run(
        scorer, n=64, init=start
    )
    ascent = GradientAscent(domain, steps=20, step_size=0.05).run(scorer, n=64, init=start)

    assert torch.equal(langevin, ascent)
    assert not torch.equal(langevin, start)


def test_langevin_annealing_ends_at_modes():
    torch.manual_seed(0)
    domain = VectorDomain(1, -3.0, 3.0)
    sampler = Langevin(domain, steps=500, step_size=0.01, temperature=1.0, final_temperature=1e-3)

    samples = sampler.run(DoubleWellScorer(), n=1000)
    distance_to_mode = (samples.abs() - 1.0).abs()

    assert float(distance_to_mode.max()) < 0.1
    assert float((samples > 0).float().mean()) == pytest.approx(0.5, abs=0.1)


def test_langevin_stays_inside_box():
    torch.manual_seed(0)
    domain = VectorDomain(2, -1.0, 1.0)
    # The maximum lies far outside the box, so the drift pushes every chain onto the corner (1, -1).
    scorer = QuadraticScorer([50.0, -50.0])

    samples = Langevin(domain, steps=50, step_size=0.1, temperature=1.0, final_temperature=None).run(scorer, n=100)

    assert float(samples.min()) >= -1.0
    assert float(samples.max()) <= 1.0
    assert torch.equal(samples, torch.tensor([1.0, -1.0]).expand(100, 2))


def test_langevin_without_scorer_raises():
    sampler = Langevin(VectorDomain(2, -1.0, 1.0), steps=5, step_size=0.01, temperature=1.0, final_temperature=None)

    with pytest.raises(ValueError, match="langevin needs a scorer"):
        sampler.run(None, n=4)


# Temperature schedule


def test_schedule_geometric():
    schedule = temperature_schedule(1.0, 0.01, 3)

    assert schedule == pytest.approx([1.0, 0.1, 0.01])


def test_schedule_linear_to_zero():
    schedule = temperature_schedule(1.0, 0.0, 5)

    assert schedule == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])


def test_schedule_linear_from_zero():
    schedule = temperature_schedule(0.0, 2.0, 3)

    assert schedule == pytest.approx([0.0, 1.0, 2.0])


def test_schedule_constant_without_end():
    assert temperature_schedule(2.0, None, 4) == [2.0, 2.0, 2.0, 2.0]


def test_schedule_single_step_uses_start():
    assert temperature_schedule(3.0, 0.1, 1) == [3.0]


def test_langevin_uses_schedule():
    sampler = Langevin(VectorDomain(1, -1.0, 1.0), steps=4, step_size=0.01, temperature=8.0, final_temperature=1.0)

    assert sampler.temperatures == pytest.approx([8.0, 4.0, 2.0, 1.0])


# Gradient ascent against exhaustive search


def grid_candidates(low: float, high: float, spacing: float) -> torch.Tensor:
    ticks = torch.arange(low, high + spacing / 2, spacing)
    return torch.cartesian_prod(ticks, ticks)


def test_gradient_ascent_matches_exhaustive_argmax():
    torch.manual_seed(0)
    domain = VectorDomain(2, -1.0, 1.0)
    scorer = QuadraticScorer([0.33, -0.71])
    spacing = 0.05
    exhaustive = Exhaustive(
        domain, grid_candidates(-1.0, 1.0, spacing), temperature=None, max_candidates=10_000, chunk_size=500
    )

    best = exhaustive.run(scorer, n=1)
    found = GradientAscent(domain, steps=100, step_size=0.1).run(scorer, n=16)

    assert found.shape == (16, 2)
    assert float((found - best).abs().max()) <= spacing
    assert float((found - torch.tensor([0.33, -0.71])).abs().max()) < 1e-4


def test_gradient_ascent_from_init():
    domain = VectorDomain(1, -3.0, 3.0)
    start = torch.tensor([[-0.5], [0.5], [-2.0], [2.0]])

    found = GradientAscent(domain, steps=200, step_size=0.02).run(DoubleWellScorer(), n=100, init=start)

    assert found.shape == (4, 1)
    assert torch.allclose(found[:, 0], torch.tensor([-1.0, 1.0, -1.0, 1.0]), atol=1e-3)


def test_gradient_ascent_without_scorer_raises():
    ascent = GradientAscent(VectorDomain(2, -1.0, 1.0), steps=5, step_size=0.01)

    with pytest.raises(ValueError, match="gradient_ascent needs a scorer"):
        ascent.run(None, n=4)


# Exhaustive search and exact sampling


def test_exhaustive_samples_softmax():
    torch.manual_seed(0)
    domain = VectorDomain(1, -3.0, 3.0)
    candidates = torch.tensor([[-1.0], [0.0], [0.5], [1.0], [2.0]])
    scorer = QuadraticScorer([0.2])
    temperature = 0.5
    exhaustive = Exhaustive(domain, candidates, temperature=temperature, max_candidates=100, chunk_size=2)

    draws = exhaustive.run(scorer, n=20_000)
    index = (draws == candidates.T).float().argmax(dim=1)
    frequencies = torch.bincount(index, minlength=len(candidates)).double() / len(draws)
    expected = torch.softmax(scorer(candidates).double() / temperature, dim=0)
    total_variation = 0.5 * float((frequencies - expected).abs().sum())

    assert draws.shape == (20_000, 1)
    assert bool((draws == candidates.T).any(dim=1).all())
    assert total_variation < 0.02


def test_exhaustive_without_temperature_repeats_argmax():
    domain = VectorDomain(1, -3.0, 3.0)
    candidates = torch.tensor([[-1.0], [0.0], [0.5], [1.0], [2.0]])
    exhaustive = Exhaustive(domain, candidates, temperature=None, max_candidates=100, chunk_size=3)

    best = exhaustive.run(QuadraticScorer([0.9]), n=7)

    assert torch.equal(best, torch.full((7, 1), 1.0))


def test_exhaustive_init_sets_count():
    domain = VectorDomain(1, -3.0, 3.0)
    candidates = torch.tensor([[-1.0], [2.0]])
    exhaustive = Exhaustive(domain, candidates, temperature=None, max_candidates=100, chunk_size=10)

    best = exhaustive.run(QuadraticScorer([0.0]), n=50, init=torch.zeros(3, 1))

    assert best.shape == (3, 1)


def test_enumerate_bit_strings():
    objects = enumerate_domain(BitStrings(3), max_candidates=100)
    distinct = {tuple(row) for row in objects.tolist()}

    assert objects.shape == (8, 3)
    assert objects.dtype == torch.long
    assert len(distinct) == 8
    assert distinct == {(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)}


def test_exhaustive_argmax_on_bit_strings():
    exhaustive = Exhaustive(BitStrings(3), None, temperature=None, max_candidates=100, chunk_size=3)

    best = exhaustive.run(LinearScorer([1.0, -2.0, 3.0]), n=2)

    assert len(exhaustive.candidates) == 8
    assert best.tolist() == [[1, 0, 1], [1, 0, 1]]


def test_exhaustive_large_domain_raises():
    with pytest.raises(ConfigError, match="max_candidates=1000") as error:
        Exhaustive(BitStrings(30), None, temperature=None, max_candidates=1000, chunk_size=100)

    assert error.value.problems[0][0] == "inference.max_candidates"


def test_exhaustive_continuous_domain_needs_candidates():
    with pytest.raises(ConfigError, match="give candidates or path"):
        Exhaustive(VectorDomain(2, -1.0, 1.0), None, temperature=None, max_candidates=100, chunk_size=10)


def test_exhaustive_wrong_candidate_shape_raises():
    candidates = torch.zeros(5, 3)

    with pytest.raises(DataError, match=r"shape \(3,\) per object.*shape \(2,\)"):
        Exhaustive(VectorDomain(2, -1.0, 1.0), candidates, temperature=None, max_candidates=100, chunk_size=10)


def test_exhaustive_too_many_candidates_raises():
    candidates = torch.zeros(11, 2)

    with pytest.raises(DataError, match="11 candidates exceed max_candidates=10"):
        Exhaustive(VectorDomain(2, -1.0, 1.0), candidates, temperature=None, max_candidates=10, chunk_size=10)


# Amortized sampling


def test_amortized_returns_generator_samples():
    torch.manual_seed(0)
    generator = LinearGenerator()
    sampler = Amortized(VectorDomain(2, -1.0, 1.0), generator)

    torch.manual_seed(1)
    samples = sampler.run(None, n=5)
    torch.manual_seed(1)
    expected = generator.sample(5)

    assert samples.shape == (5, 2)
    assert torch.equal(samples, expected)
    assert not samples.requires_grad


def test_amortized_ignores_scorer():
    scorer = CountingScorer()
    sampler = Amortized(VectorDomain(2, -1.0, 1.0), LinearGenerator())

    samples = sampler.run(scorer, n=10, init=torch.zeros(3, 2))

    assert samples.shape == (3, 2)
    assert scorer.calls == 0


# Capability checks


@pytest.mark.parametrize(
    "inference",
    [
        Langevin(VectorDomain(2, -1.0, 1.0), steps=5, step_size=0.01, temperature=1.0, final_temperature=None),
        GradientAscent(VectorDomain(2, -1.0, 1.0), steps=5, step_size=0.01),
    ],
    ids=["langevin", "gradient_ascent"],
)
def test_gradient_search_needs_input_gradient(inference):
    assert inference.missing_capabilities(NoGradientScorer()) == frozenset({Capability.INPUT_GRADIENT})
    assert inference.missing_capabilities(StandardNormalScorer()) == frozenset()


def test_exhaustive_needs_no_capability():
    exhaustive = Exhaustive(BitStrings(2), None, temperature=None, max_candidates=100, chunk_size=10)

    assert exhaustive.missing_capabilities(NoGradientScorer()) == frozenset()


class ScaledQuadraticScorer(Discriminator):
    """score(x) = -sum_i w_i (x_i - c_i)^2 with positive weights: concave, maximum at ``c``."""

    def __init__(self, center: Sequence[float], weights: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("center", torch.tensor(center, dtype=torch.float32))
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return -(self.weights * (x - self.center).pow(2)).sum(dim=1)


@settings(max_examples=25, deadline=None)
@given(
    center=st.tuples(st.floats(-0.9, 0.9), st.floats(-0.9, 0.9)),
    weights=st.tuples(st.floats(0.5, 4.0), st.floats(0.5, 4.0)),
)
def test_gradient_ascent_matches_exhaustive_on_random_concave(center, weights):
    domain = VectorDomain(2, -1.0, 1.0)
    scorer = ScaledQuadraticScorer(center, weights)
    ticks = torch.linspace(-1.0, 1.0, 81)
    grid = torch.cartesian_prod(ticks, ticks)
    best = Exhaustive(domain, grid, temperature=None, max_candidates=10_000, chunk_size=10_000).run(scorer, n=1)[0]

    # Step 0.1 and weights up to 4 keep every coordinate's update a contraction (factor 1 - 2 * 0.1 * w > 0).
    found = GradientAscent(domain, steps=200, step_size=0.1).run(scorer, n=8)

    spacing = float(ticks[1] - ticks[0])
    assert float((found - best).abs().max()) <= spacing
