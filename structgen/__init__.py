"""structgen: bottom-up generators and top-down scorers, side by side, on PyTorch.

The public API: the core interfaces, the plugin hook marker, configuration
loading, and the functions behind the command line.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("structgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from .core import (  # noqa: E402
    AdversarialLoss,
    Capability,
    DataSplits,
    Discriminator,
    Domain,
    FeatureExtractor,
    Generator,
    Inference,
    Metric,
    Split,
    Strategy,
)
from .errors import (  # noqa: E402
    CapabilityError,
    ComponentNotFoundError,
    ConfigError,
    DataError,
    PluginError,
    RunDirectoryError,
    StructgenError,
    TrainingError,
)
from .plugins import hookimpl  # noqa: E402

__all__ = [
    "AdversarialLoss",
    "Capability",
    "CapabilityError",
    "ComponentNotFoundError",
    "ConfigError",
    "DataError",
    "DataSplits",
    "Discriminator",
    "Domain",
    "FeatureExtractor",
    "Generator",
    "Inference",
    "Metric",
    "PluginError",
    "RunDirectoryError",
    "Split",
    "Strategy",
    "StructgenError",
    "TrainingError",
    "__version__",
    "hookimpl",
]
