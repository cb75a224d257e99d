"""The ``classes_covered`` metric: how many classes a generator produces recognisably."""

from __future__ import annotations

import torch
from pydantic import Field

from structgen import Metric
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .classifier import ClassifierFeatures, ClassifierParams, build_classifier


class ClassesCoveredParams(ComponentParams):
    """Settings of ``classes_covered``."""

    min_fraction: float = Field(0.01, gt=0, le=1, description="Share of generated samples a class needs to count.")
    confidence: float = Field(0.9, gt=0, le=1, description="Minimum classifier confidence for a sample to count.")


class ClassesCovered(Metric):
    """``classes_covered``: classes that receive at least ``min_fraction`` of the generated
    samples with classifier confidence at least ``confidence``."""

    def __init__(self, classifier: ClassifierFeatures, classes: int, min_fraction: float, confidence: float) -> None:
        self.classifier = classifier
        self.classes = classes
        self.min_fraction = min_fraction
        self.confidence = confidence

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        probabilities = self.classifier.class_probabilities(generated)
        confidence, label = probabilities.max(dim=1)
        counts = torch.bincount(label[confidence >= self.confidence], minlength=self.classes)
        covered = counts >= self.min_fraction * len(generated)
        return {"classes_covered": float(covered.sum())}


def build_classes_covered(params: ClassesCoveredParams, context: BuildContext) -> ClassesCovered:
    classifier = build_classifier(ClassifierParams(), context)
    classes = int(context.data.info["label_count"]) if context.data is not None else 0
    return ClassesCovered(classifier, classes, params.min_fraction, params.confidence)
