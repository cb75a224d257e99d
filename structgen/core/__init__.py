"""Core interfaces of structgen. This package imports nothing else of the project."""

from .data import DataSplits, Split
from .discriminator import Capability, Discriminator
from .domain import Domain
from .features import FeatureExtractor
from .generator import Generator
from .inference import Inference
from .loss import AdversarialLoss
from .metric import Metric
from .strategy import Strategy

__all__ = [
    "AdversarialLoss",
    "Capability",
    "DataSplits",
    "Discriminator",
    "Domain",
    "FeatureExtractor",
    "Generator",
    "Inference",
    "Metric",
    "Split",
    "Strategy",
]
