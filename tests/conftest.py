"""Shared fixtures: a private cache directory and the loaded plugin registry."""

from __future__ import annotations

import pytest

from structgen.cache import CACHE_ENV
from structgen.plugins import default_registry
from structgen.registry import Registry


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep cached classifiers of the tests out of the user's cache directory."""
    patcher = pytest.MonkeyPatch()
    patcher.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
    yield
    patcher.undo()


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The registry of the installed plugins."""
    return default_registry()
