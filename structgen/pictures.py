"""Sample pictures saved as PNG with matplotlib's Agg backend (no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .core import Domain


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_panels(domain: Domain, panels: Sequence[tuple[str, torch.Tensor]], path: str | Path, title: str = "") -> None:
    """Draw each ``(label, batch)`` beside the others in one row and save the figure to ``path``."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (label, batch) in zip(axes[0], panels, strict=True):
        domain.draw(batch.detach().cpu(), ax, title=label)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def save_samples(domain: Domain, samples: torch.Tensor, path: str | Path, real: torch.Tensor | None = None) -> bool:
    """Save generated samples (beside real ones if given); returns False when the domain cannot draw."""
    panels = ([("real", real)] if real is not None else []) + [("generated", samples)]
    try:
        save_panels(domain, panels, path)
    except NotImplementedError:
        return False
    return True
