"""The user cache directory, for trained feature extractors and similar derived files."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "STRUCTGEN_CACHE_DIR"


def cache_dir() -> Path:
    """``$STRUCTGEN_CACHE_DIR`` if set, else the platform's user cache directory for structgen."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("structgen"))
