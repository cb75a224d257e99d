"""The ``points`` data set: a user's points from a ``.npy`` or ``.csv`` file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pydantic import Field, model_validator

from structgen import DataError, DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import VectorDomain


class PointsParams(ComponentParams):
    """Settings of the ``points`` data set."""

    path: str = Field(description="A .npy array of shape (n, d) or a .csv file with one point per row.")
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="Share of points held out for validation.")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="Share of points held out for testing.")
    split_seed: int = Field(0, ge=0, description="Seed of the one random split.")
    margin: float = Field(0.1, ge=0, description="Search box margin, as a share of the data's range per side.")

    @model_validator(mode="after")
    def _check_fractions(self) -> PointsParams:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1, leaving points to train on")
        return self


def read_points(path: Path) -> np.ndarray:
    """Read a 2-D float array from ``.npy`` or ``.csv`` (an optional non-numeric header row is skipped)."""
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (relative paths start from the current directory, {Path.cwd()}); "
            "give the path of a .npy or .csv file of points"
        )
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"{path}: not a readable .npy array ({err}); save points with numpy.save") from err
    elif suffix == ".csv":
        array = _read_csv(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    if array.ndim == 1 and array.size > 0 and suffix == ".csv":
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array of shape (points, dimensions), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{path}: contains no points")
    if not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{path}: expected numbers, got dtype {array.dtype}")
    return array.astype(np.float32)


def _read_csv(path: Path) -> np.ndarray:
    # utf-8-sig drops the byte order mark that spreadsheet programs write first.
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not rows:
        raise DataError(f"{path}: the file is empty; write one point per row, values separated by commas")
    if not _is_numeric_row(rows[0][1]):
        rows = rows[1:]  # a header row
    if not rows:
        raise DataError(f"{path}: contains a header but no points")
    width = len(rows[0][1].split(","))
    values = []
    for number, line in rows:
        cells = line.split(",")
        if len(cells) != width:
            raise DataError(
                f"{path}: line {number} has {len(cells)} values but line {rows[0][0]} has {width}; "
                "every row needs the same number of comma-separated values"
            )
        try:
            values.append([float(cell) for cell in cells])
        except ValueError:
            bad = next(cell for cell in cells if not _is_number(cell))
            raise DataError(f"{path}: line {number}: {bad.strip()!r} is not a number") from None
    return np.asarray(values, dtype=np.float64)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_numeric_row(line: str) -> bool:
    return all(_is_number(cell) for cell in line.split(","))


def build_points(params: PointsParams, context: BuildContext) -> DataSplits:
    path = Path(params.path).expanduser()
    array = read_points(path)
    points = torch.from_numpy(array)
    VectorDomain(points.shape[1], -1.0, 1.0).validate(points, source=str(path))
    low, high = float(points.min()), float(points.max())
    span = max(high - low, 1e-6)
    domain = VectorDomain(points.shape[1], low - params.margin * span, high + params.margin * span)

    count = len(points)
    n_validation = max(1, round(params.validation_fraction * count))
    n_test = max(1, round(params.test_fraction * count))
    if count - n_validation - n_test < 1:
        raise DataError(f"{path}: {count} points are too few to split into train, validation and test; give at least 3")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(params.split_seed))
    test, validation, train = order[:n_test], order[n_test : n_test + n_validation], order[n_test + n_validation :]
    info = {"metrics": [{"name": "mmd"}], "path": str(path)}
    return DataSplits(domain, Split(points[train]), Split(points[validation]), Split(points[test]), info)
