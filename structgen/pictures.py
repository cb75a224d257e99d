"""Pictures saved as PNG with matplotlib's Agg backend (no screen needed).

Samples beside real objects, latent interpolations, one row of samples per
class, and the training curves of a run directory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .core import Domain, Generator, Strategy
from .devices import module_device
from .errors import DataError
from .inference.discrete import eval_mode
from .runs import METRICS

# Approximate width in screen pixels of an image grid. Each object pixel becomes a whole number of screen pixels.
GRID_WIDTH_PIXELS = 800
DPI = 100
# Size in inches of one panel of the training curves.
CURVE_PANEL_SIZE = (3.2, 2.6)
CURVE_COLUMNS = 3
# Logged fields that are not curves: the step is the x axis and seconds is the wall-clock time.
NOT_CURVES = ("step", "seconds")


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


def sampling_generator(model: Generator | Strategy) -> Generator | None:
    """Return the generator that draws a model's samples, or None for a model without one.

    A strategy samples through its ``sampler``. When that is an ``amortized``
    inference, its generator is the one returned: the weight average of a
    GAN, or the ``codes`` strategy's generator that draws codes from the
    learned code distribution. Otherwise the strategy's ``generator`` is
    returned.
    """
    if isinstance(model, Generator):
        return model
    sampler_generator = getattr(getattr(model, "sampler", None), "generator", None)
    if isinstance(sampler_generator, Generator):
        return sampler_generator
    generator = getattr(model, "generator", None)
    return generator if isinstance(generator, Generator) else None


def interpolation_codes(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Return evenly spaced points on the line segment from each row of ``start`` to the same row of ``end``.

    Args:
        start: codes ``z_a`` of shape ``(rows, d)``.
        end: codes ``z_b`` of the same shape.
        steps: points per segment, at least 2, the ends included.

    Returns:
        Codes of shape ``(rows, steps, d)``; point ``t`` of a row is
        ``z_a + t / (steps - 1) * (z_b - z_a)``.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs steps >= 2 (both ends), got {steps}")
    weights = torch.linspace(0.0, 1.0, steps, device=start.device, dtype=start.dtype)
    return start[:, None, :] + weights[None, :, None] * (end - start)[:, None, :]


@torch.no_grad()
def interpolation_batch(
    generator: Generator, rows: int, steps: int, seed: int = 0, condition: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``rows`` straight lines between pairs of latent codes, ``steps`` codes per line.

    The ends ``z_a`` and ``z_b`` of each line come from ``generator.sample_latent``
    with a ``torch.Generator`` seeded by ``seed``, so the global random state
    is left alone. The line is linear, not spherical. For N(0, I) codes its
    middle therefore has a smaller norm than typical draws, by a factor of about
    ``1 / sqrt(2)``.

    Args:
        generator: decodes the codes; it runs in evaluation mode.
        rows: number of lines.
        steps: codes per line, the ends included.
        seed: seed of the end points.
        condition: class label passed with every code to a conditional generator.

    Returns:
        The codes, shape ``(rows, steps, d)``, and the decoded objects,
        shape ``(rows, steps, *event_shape)``.
    """
    if rows < 1:
        raise ValueError(f"an interpolation needs rows >= 1, got {rows}")
    random = torch.Generator(device=generator.device).manual_seed(seed)
    ends = generator.sample_latent(2 * rows, random)
    codes = interpolation_codes(ends[:rows], ends[rows:], steps)
    labels = None
    if condition is not None:
        labels = torch.full((rows * steps,), condition, dtype=torch.long, device=codes.device)
    with eval_mode(generator):
        objects = generator.harden(generator(codes.flatten(0, 1), labels))
    return codes, objects.view(rows, steps, *objects.shape[1:])


def _image_grid(domain: Domain, objects: torch.Tensor, padding: int = 1) -> np.ndarray | None:
    """Tile objects of shape ``(rows, columns, *event_shape)`` into one image in [0, 1], or None for non-images.

    The pictures come from ``domain.to_user``. Objects count as images when
    it returns arrays of shape ``(H, W)`` or ``(H, W, C)``.
    """
    rows, columns = objects.shape[:2]
    pictures = domain.to_user(objects.flatten(0, 1))
    if not all(isinstance(picture, np.ndarray) and picture.ndim in (2, 3) for picture in pictures):
        return None
    height, width = pictures[0].shape[:2]
    channels = 1 if pictures[0].ndim == 2 else pictures[0].shape[2]
    grid = np.ones((rows * (height + padding) + padding, columns * (width + padding) + padding, channels))
    for index, picture in enumerate(pictures):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = picture.reshape(height, width, channels)
    return grid[..., 0] if channels == 1 else grid


def _save_grid(grid: np.ndarray, path: Path) -> None:
    """Save ``grid`` filling the whole figure, each grid pixel a square of whole screen pixels."""
    plt = _pyplot()
    height, width = grid.shape[:2]
    scale = max(1, GRID_WIDTH_PIXELS // width)
    figure = plt.figure(figsize=(width * scale / DPI, height * scale / DPI), dpi=DPI)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    axes.set_axis_off()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def _save_rows(domain: Domain, objects: torch.Tensor, labels: Sequence[str], path: Path) -> Path | Literal[False]:
    """Save objects of shape ``(rows, columns, *event_shape)`` as an image grid, or one drawn panel per row.

    Returns False when the domain is discrete or neither an image nor drawable.
    """
    if domain.is_discrete:
        return False
    grid = _image_grid(domain, objects)
    if grid is not None:
        _save_grid(grid, path)
        return path
    try:
        save_panels(domain, list(zip(labels, objects, strict=True)), path)
    except NotImplementedError:
        return False
    return path


def save_interpolation(
    generator: Generator | Strategy,
    domain: Domain,
    path: str | Path,
    rows: int = 8,
    steps: int = 10,
    seed: int = 0,
    condition: int | None = None,
) -> Path | Literal[False]:
    """Save ``rows`` latent interpolations, one per row, each from ``z_a`` (left) to ``z_b`` (right).

    Each row decodes ``steps`` evenly spaced codes on the straight line between
    two codes of the model's latent distribution (see :func:`interpolation_batch`),
    so the row shows how the object changes gradually along the line. Images
    form one grid. Other continuous domains that can draw get one panel per row.

    Args:
        generator: a generator, or a strategy whose sampling generator is used
            (see :func:`sampling_generator`).
        domain: the objects' domain.
        path: PNG file to write.
        rows: number of interpolations.
        steps: codes per interpolation, the ends included.
        seed: seed of the end codes.
        condition: class label for a conditional generator.

    Returns:
        ``path``, or False when the model has no generator or the domain has no
        picture (discrete domains such as text, or domains that cannot draw).
    """
    decoder = sampling_generator(generator)
    if decoder is None or domain.is_discrete:
        return False
    _, objects = interpolation_batch(decoder, rows, steps, seed, condition)
    return _save_rows(domain, objects, [f"line {row}" for row in range(rows)], Path(path))


def class_grid_conditions(classes: Sequence[int], per_class: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Return each class ``per_class`` times in order, shape ``(len(classes) * per_class,)``: a class grid's labels."""
    return torch.tensor(list(classes), dtype=torch.long, device=device).repeat_interleave(per_class)


@torch.no_grad()
def class_grid_batch(model: Generator | Strategy, conditions: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Draw one sample of ``model`` per label in ``conditions``, in evaluation mode, with the global seed ``seed``.

    The global random state is restored afterwards, so a picture does not
    change the course of a training run.
    """
    device = conditions.device
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), eval_mode(model):
        torch.manual_seed(seed)
        try:
            return model.sample(len(conditions), conditions)
        except ValueError as err:
            raise ValueError(f"a class grid needs a conditional model: {err}") from err


def save_class_grid(
    model: Generator | Strategy,
    domain: Domain,
    num_classes: int,
    path: str | Path,
    per_class: int = 10,
    classes: Sequence[int] | None = None,
    seed: int = 0,
) -> Path | Literal[False]:
    """Save ``per_class`` conditional samples of each class, one row per class.

    Args:
        model: a conditional generator or strategy; its ``sample(n, condition)`` draws the rows.
        domain: the objects' domain.
        num_classes: number of classes of the model's condition.
        path: PNG file to write.
        per_class: samples in each row.
        classes: the class of each row, top to bottom; ``0 .. num_classes - 1`` when None.
        seed: global seed while sampling (the global random state is restored afterwards).

    Returns:
        ``path``, or False when the domain has no picture (discrete domains
        such as text, or domains that cannot draw).
    """
    chosen = list(range(num_classes)) if classes is None else list(classes)
    invalid = [label for label in chosen if not 0 <= label < num_classes]
    if invalid:
        raise ValueError(f"classes {invalid} are outside 0 .. {num_classes - 1}; pass labels of the model's classes")
    if not chosen or per_class < 1:
        raise ValueError(f"a class grid needs at least one class and per_class >= 1, got {chosen} and {per_class}")
    if domain.is_discrete:
        return False
    conditions = class_grid_conditions(chosen, per_class, module_device(model))
    samples = class_grid_batch(model, conditions, seed)
    objects = samples.view(len(chosen), per_class, *samples.shape[1:])
    return _save_rows(domain, objects, [f"class {label}" for label in chosen], Path(path))


def read_metric_records(source: str | Path | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the logged records of a run: ``source`` is a run directory, its ``metrics.jsonl``, or the records."""
    if not isinstance(source, (str, Path)):
        return [dict(record) for record in source]
    path = Path(source)
    if path.is_dir():
        path = path / METRICS
    if not path.is_file():
        raise DataError(f"{path}: file not found; pass a run directory or the metrics.jsonl file inside it")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}, line {number}: invalid JSON ({err.msg}); the file may be cut off") from err
    return records


def curve_series(
    records: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None
) -> dict[str, tuple[list[int], list[float]]]:
    """Return ``{key: (steps, values)}`` for each logged number, in the order the keys first appear.

    Records that lack a key add no point to its curve: the ``test/...``
    keys of ``evaluate_at`` points appear in a few records only. ``keys``
    selects and orders the curves; None takes every key but ``step`` and
    ``seconds``.
    """
    available: list[str] = []
    for record in records:
        for key, value in record.items():
            if key not in NOT_CURVES and key not in available and isinstance(value, (int, float)):
                available.append(key)
    chosen = available if keys is None else list(keys)
    missing = [key for key in chosen if key not in available]
    if missing:
        raise ValueError(f"no logged values for {missing}; logged keys: {', '.join(available) or '(none)'}")
    series: dict[str, tuple[list[int], list[float]]] = {key: ([], []) for key in chosen}
    for record in records:
        for key in chosen:
            value = record.get(key)
            if isinstance(value, (int, float)):
                series[key][0].append(int(record["step"]))
                series[key][1].append(float(value))
    return series


def save_training_curves(
    source: str | Path | Iterable[Mapping[str, Any]], path: str | Path, keys: Sequence[str] | None = None
) -> Path | Literal[False]:
    """Plot each logged number against the training step, one panel per key, and save the figure.

    Args:
        source: a run directory, its ``metrics.jsonl``, or records in that
            file's format (``{"step": ..., "seconds": ..., name: value, ...}``).
        path: PNG file to write.
        keys: the keys to plot, such as ``["loss_d", "test/mmd2"]``; None
            plots every logged number.

    Returns:
        ``path``, or False when nothing was logged. Each panel is
        ``CURVE_PANEL_SIZE`` inches, ``CURVE_COLUMNS`` panels per row.
    """
    series = curve_series(read_metric_records(source), keys)
    if not series:
        return False
    plt = _pyplot()
    columns = min(CURVE_COLUMNS, len(series))
    rows = math.ceil(len(series) / columns)
    width, height = CURVE_PANEL_SIZE
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), dpi=DPI, squeeze=False)
    flat_axes = axes.flatten()
    for ax, (key, (steps, values)) in zip(flat_axes, series.items(), strict=False):
        # Metrics of evaluate_at points are few, and a line through a single point draws nothing, so both get markers.
        few = key.startswith(("test/", "validation/")) or len(steps) == 1
        ax.plot(steps, values, marker="o" if few else None)
        ax.set_title(key)
        ax.set_xlabel("step")
    for ax in flat_axes[len(series) :]:
        ax.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return Path(path)
