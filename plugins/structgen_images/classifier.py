"""A small CNN classifier trained on a data set's training split: features and labels for metrics."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from structgen import ConfigError, FeatureExtractor
from structgen.cache import cache_dir
from structgen.config import ComponentParams
from structgen.context import BuildContext

logger = logging.getLogger(__name__)


class ClassifierParams(ComponentParams):
    """Settings of the ``classifier`` feature extractor."""

    feature_dim: int = Field(
        32, ge=2, description="Width of the feature layer; keep it well below the test split's size."
    )
    epochs: int = Field(30, ge=1, description="Training epochs over the training split.")
    batch_size: int = Field(64, ge=1, description="Training batch size.")
    lr: float = Field(2e-3, gt=0, description="Adam learning rate.")
    seed: int = Field(0, ge=0, description="Seed of initialisation and batch order.")


def image_shape(images: torch.Tensor) -> tuple[int, int, int]:
    """Return ``(C, H, W)`` of a batch of images of shape ``(n, C, H, W)``."""
    channels, height, width = images.shape[1:]
    return channels, height, width


class DigitClassifier(nn.Module):
    """``Conv 3x3 (16), ReLU, Conv 3x3 stride 2 (32), ReLU -> Linear (features) -> ReLU -> Linear (logits)``.

    The features are taken before the ReLU: after it, units that are never
    active leave the feature covariance rank-deficient.
    """

    def __init__(self, shape: tuple[int, int, int], classes: int, feature_dim: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * ((height + 1) // 2) * ((width + 1) // 2), feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class ClassifierFeatures(FeatureExtractor):
    """Features and class probabilities of a trained :class:`DigitClassifier`, computed in batches."""

    def __init__(self, model: DigitClassifier, batch_size: int = 1024) -> None:
        self.model = model.eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        return torch.cat([self.model.body(chunk.to(device)) for chunk in x.split(self.batch_size)])

    @torch.no_grad()
    def class_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        return torch.cat([self.model(chunk.to(device)).softmax(dim=1) for chunk in x.split(self.batch_size)])


def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, classes: int, params: ClassifierParams
) -> DigitClassifier:
    """Train on ``images`` (n, C, H, W) and ``labels`` (n,) with a fixed seed, on the CPU for reproducibility."""
    generator = torch.Generator().manual_seed(params.seed)
    with torch.random.fork_rng():
        torch.manual_seed(params.seed)
        model = DigitClassifier(image_shape(images), classes, params.feature_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr)
    images, labels = images.cpu(), labels.cpu()
    model.train()
    for _ in range(params.epochs):
        order = torch.randperm(len(images), generator=generator)
        for index in order.split(params.batch_size):
            loss = F.cross_entropy(model(images[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


def _cache_key(
    dataset: str, shape: tuple[int, ...], classes: int, params: ClassifierParams, labels: torch.Tensor
) -> str:
    description = json.dumps(
        {
            "dataset": dataset,
            "shape": list(shape),
            "classes": classes,
            "params": params.model_dump(),
            "torch": torch.__version__,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(description.encode() + labels.cpu().numpy().tobytes()).hexdigest()[:16]
    return f"classifier-{dataset}-{digest}.pt"


def load_or_train(
    dataset: str, images: torch.Tensor, labels: torch.Tensor, classes: int, params: ClassifierParams
) -> DigitClassifier:
    """Load the classifier for this data set and these settings from the cache, or train and cache it."""
    path = cache_dir() / _cache_key(dataset, tuple(images.shape[1:]), classes, params, labels)
    if path.is_file():
        # Building the network draws initial weights from the global random state. A copy of that
        # state keeps a cached classifier from shifting the training that follows.
        with torch.random.fork_rng():
            model = DigitClassifier(image_shape(images), classes, params.feature_dim)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    logger.info("training the %s classifier; it is cached at %s", dataset, path)
    model = train_classifier(images, labels, classes, params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(handle)
        torch.save(model.state_dict(), temporary)
        os.replace(temporary, path)
    except OSError as err:
        logger.warning(
            "cannot cache the classifier at %s (%s); set STRUCTGEN_CACHE_DIR to a writable directory", path, err
        )
    return model


def build_classifier(params: ClassifierParams, context: BuildContext) -> ClassifierFeatures:
    data = context.data
    if data is None or "train_labels" not in data.info:
        raise ConfigError([("feature_extractor.name", "classifier needs a data set with class labels, such as digits")])
    model = load_or_train(
        str(data.info.get("name", "data")),
        data.train.x,
        data.info["train_labels"],
        int(data.info["label_count"]),
        params,
    )
    return ClassifierFeatures(model.to(context.device))
