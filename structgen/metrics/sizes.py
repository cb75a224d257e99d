"""The check of set sizes that the metrics share, with the fix for each kind of set."""

from __future__ import annotations

from ..errors import DataError

# The real set is the split that training.eval_split names. The generated set has training.eval_samples objects.
FIXES = {
    "real": "give the data set more objects or a larger held-out fraction (the real set is the evaluation split)",
    "generated": "raise training.eval_samples",
}


def require_count(metric: str, role: str, count: int, minimum: int, remedy: str | None = None) -> None:
    """Raise :class:`DataError` when ``count`` objects of ``role`` ("real" or "generated") are fewer than ``minimum``.

    ``remedy`` is a fix of the metric's own settings, offered before the fix of the set.
    """
    if count < minimum:
        fix = FIXES[role] if remedy is None else f"{remedy}, or {FIXES[role]}"
        raise DataError(f"{metric} needs at least {minimum} {role} objects, got {count}; {fix}")
