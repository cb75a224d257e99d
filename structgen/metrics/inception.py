"""Inception score of generated objects from a classifier's class probabilities."""

from __future__ import annotations

import torch
from pydantic import Field

from ..config import ComponentConfig, ComponentParams
from ..context import BuildContext
from ..core import FeatureExtractor, Metric
from ..errors import ConfigError
from .sizes import require_count

ROW_SUM_TOLERANCE = 1e-3


def _check_probabilities(probabilities: torch.Tensor, splits: int) -> None:
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be 2-D (n, num_classes), got shape {tuple(probabilities.shape)}")
    if splits < 1 or splits > len(probabilities):
        raise ValueError(f"splits must be between 1 and the number of rows ({len(probabilities)}), got {splits}")
    if bool((probabilities < 0).any()):
        raise ValueError(
            f"probabilities must be non-negative, got a minimum of {float(probabilities.min()):.4g}; "
            "pass softmax outputs, not logits"
        )
    row_sums = probabilities.sum(dim=1)
    if bool(((row_sums - 1).abs() > ROW_SUM_TOLERANCE).any()):
        raise ValueError(
            f"each row of probabilities must sum to 1, got row sums from {float(row_sums.min()):.4g} to "
            f"{float(row_sums.max()):.4g}; pass softmax outputs, not logits"
        )


def inception_score(probabilities: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Compute the mean and std of the inception score of class ``probabilities`` (n, C) over ``splits`` parts.

    ``IS = exp(E_x KL(p(y | x) || p(y)))`` (Salimans et al., 2016,
    "Improved Techniques for Training GANs"), where ``p(y)`` is the mean of
    ``p(y | x)`` over the split. The rows are cut into ``splits``
    consecutive parts whose sizes differ by at most one, and each part
    gives one score. The std is the population std (divisor ``splits``), so
    it is 0 for one split. The score ranges from 1, when every row is the
    same, to C, when every row is one-hot and the classes are balanced.
    Computed in float64, with ``0 log 0 = 0``.

    Raises:
        ValueError: when ``probabilities`` is not 2-D, has a negative entry
            or a row that does not sum to 1, or when ``splits`` is not
            between 1 and n.
    """
    _check_probabilities(probabilities, splits)
    probabilities = probabilities.double()
    scores = []
    for part in probabilities.tensor_split(splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(dim=1)
        scores.append(kl.mean().exp())
    stacked = torch.stack(scores)
    return float(stacked.mean()), float(stacked.std(correction=0))


class InceptionScoreParams(ComponentParams):
    """Settings of ``inception_score``."""

    feature_extractor: ComponentConfig = Field(
        default_factory=lambda: ComponentConfig(name="classifier"),
        description="Registered feature extractor that is a classifier (implements class_probabilities), "
        "e.g. {name: classifier}.",
    )
    splits: int = Field(
        10, ge=1, description="Number of consecutive parts of the generated set. The score is the mean over the parts."
    )


class InceptionScore(Metric):
    """Reports ``inception_score`` and ``inception_score_std`` of the generated objects.

    The real objects are not used: the score depends only on the classifier's
    predictions for the generated ones.
    """

    def __init__(self, extractor: FeatureExtractor, splits: int = 10) -> None:
        self.extractor = extractor
        self.splits = splits

    def check_sizes(self, real: int, generated: int) -> None:
        require_count("inception_score", "generated", generated, self.splits, f"lower splits ({self.splits})")

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        self.check_sizes(len(real), len(generated))
        mean, std = inception_score(self.extractor.class_probabilities(generated), self.splits)
        return {"inception_score": mean, "inception_score_std": std}


def build_inception_score(params: InceptionScoreParams, context: BuildContext) -> InceptionScore:
    extractor = context.build("feature_extractor", params.feature_extractor)
    if type(extractor).class_probabilities is FeatureExtractor.class_probabilities:
        raise ConfigError(
            [
                (
                    "feature_extractor.name",
                    f"inception_score needs a classifier, but feature extractor {params.feature_extractor.name!r} "
                    f"({type(extractor).__name__}) does not implement class_probabilities; use one that does, "
                    "such as classifier",
                )
            ]
        )
    return InceptionScore(extractor, params.splits)
