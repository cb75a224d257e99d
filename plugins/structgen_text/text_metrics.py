"""Text metrics: BLEU against the test split, self-BLEU, uniqueness and novelty of generated rows."""

from __future__ import annotations

import torch
from pydantic import Field, field_validator

from structgen import ConfigError, DataError, Metric
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.metrics.bleu import mean_bleu, mean_self_bleu

from .domain import SequenceDomain
from .vocabulary import EOS_ID


def token_lists(domain: SequenceDomain, batch: torch.Tensor) -> list[list[int]]:
    """Return each row's tokens up to its first ``<eos>``, as lists of token ids."""
    keep = domain.mask(batch) & (batch != EOS_ID)
    lengths = keep.sum(dim=1).tolist()
    tokens = batch[keep].tolist()
    rows, start = [], 0
    for length in lengths:
        rows.append(tokens[start : start + length])
        start += length
    return rows


def sample_indices(n: int, max_samples: int, seed: int) -> list[int]:
    """Return all of ``range(n)``, or a seeded random subset of ``max_samples`` of them in increasing order."""
    if n <= max_samples:
        return list(range(n))
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_samples]
    return sorted(chosen.tolist())


class BLEUParams(ComponentParams):
    """Settings of ``bleu``."""

    orders: list[int] = Field(
        default_factory=lambda: [2, 3, 4, 5], min_length=1, description="N-gram orders N, one figure `bleuN` each."
    )
    max_samples: int = Field(
        1000, ge=1, description="Maximum generated rows scored as hypotheses, a random subset drawn with sample_seed."
    )
    sample_seed: int = Field(0, ge=0, description="Seed of the subset of generated rows.")

    @field_validator("orders")
    @classmethod
    def _check_orders(cls, orders: list[int]) -> list[int]:
        if any(order < 1 for order in orders):
            raise ValueError(f"orders must be at least 1, got {orders}")
        if len(set(orders)) != len(orders):
            raise ValueError(f"orders must not repeat, got {orders}")
        return orders


class SelfBLEUParams(BLEUParams):
    """Settings of ``self_bleu``."""

    orders: list[int] = Field(
        default_factory=lambda: [4], min_length=1, description="N-gram orders N, one figure `self_bleuN` each."
    )


class BLEU(Metric):
    """Reports ``bleuN`` for each order N: the mean sentence BLEU-N of generated rows against all real rows.

    Higher means the generated texts reuse more n-grams of the real texts
    (quality), but it does not reward diversity. See
    :mod:`structgen.metrics.bleu` for the formula.
    """

    def __init__(self, domain: SequenceDomain, orders: list[int], max_samples: int, sample_seed: int) -> None:
        self.domain = domain
        self.orders = orders
        self.max_samples = max_samples
        self.sample_seed = sample_seed

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        if len(real) == 0 or len(generated) == 0:
            raise DataError(
                f"bleu: expected real and generated rows, got {len(real)} real and {len(generated)} generated"
            )
        indices = sample_indices(len(generated), self.max_samples, self.sample_seed)
        hypotheses = token_lists(self.domain, generated[indices])
        scores = mean_bleu(hypotheses, token_lists(self.domain, real), self.orders)
        return {f"bleu{order}": score for order, score in scores.items()}


class SelfBLEU(BLEU):
    """Reports ``self_bleuN`` for each order N: the mean sentence BLEU-N of each generated row against all
    other generated rows (Zhu et al., 2018, Texygen).

    Higher means less diverse, and identical rows score 1. The real rows are not used.
    """

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        if len(generated) < 2:
            raise DataError(f"self_bleu: expected at least 2 generated rows, got {len(generated)}")
        indices = sample_indices(len(generated), self.max_samples, self.sample_seed)
        scores = mean_self_bleu(token_lists(self.domain, generated), self.orders, indices)
        return {f"self_bleu{order}": score for order, score in scores.items()}


def _sequence_domain(context: BuildContext, metric: str) -> SequenceDomain:
    domain = context.require_domain()
    if not isinstance(domain, SequenceDomain):
        reason = f"{metric} scores token sequences, but the domain is {domain.name!r}, so remove {metric} from metrics"
        raise ConfigError([("metrics", reason)])
    return domain


def build_bleu(params: BLEUParams, context: BuildContext) -> BLEU:
    return BLEU(_sequence_domain(context, "bleu"), params.orders, params.max_samples, params.sample_seed)


def build_self_bleu(params: SelfBLEUParams, context: BuildContext) -> SelfBLEU:
    return SelfBLEU(_sequence_domain(context, "self_bleu"), params.orders, params.max_samples, params.sample_seed)


class Uniqueness(Metric):
    """Reports ``uniqueness``: distinct generated rows divided by generated rows (1 when no row repeats).

    Rows are compared whole and exactly, which for sequences equals comparing
    their texts because padding is canonical.
    """

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        if len(generated) == 0:
            raise DataError("uniqueness: got no generated rows")
        distinct = torch.unique(generated.flatten(1), dim=0)
        return {"uniqueness": len(distinct) / len(generated)}


class Novelty(Metric):
    """Reports ``novelty``: the fraction of generated rows that equal no row of the training split.

    Rows are compared whole and exactly. A generator that memorised its
    training data scores 0.
    """

    def __init__(self, train: torch.Tensor) -> None:
        self.train = train.flatten(1)

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        if len(generated) == 0:
            raise DataError("novelty: got no generated rows")
        rows = generated.flatten(1)
        if rows.shape[1] != self.train.shape[1]:
            raise DataError(
                f"novelty: generated rows have {rows.shape[1]} values each, training rows {self.train.shape[1]}"
            )
        train = self.train.to(rows.device, rows.dtype)
        # Rows get the same id in both sets exactly when they are equal.
        _, ids = torch.unique(torch.cat([train, rows]), dim=0, return_inverse=True)
        seen = torch.isin(ids[len(train) :], ids[: len(train)])
        return {"novelty": float((~seen).double().mean())}


def build_uniqueness(params: ComponentParams, context: BuildContext) -> Uniqueness:
    return Uniqueness()


def build_novelty(params: ComponentParams, context: BuildContext) -> Novelty:
    if context.data is None:
        raise ConfigError(
            [("metrics", "novelty compares generated rows with the training split, but no data set was built")]
        )
    return Novelty(context.data.train.x)
