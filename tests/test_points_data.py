"""Tests of the ``points`` data set: reading .npy and .csv files, splitting, and rejecting bad files."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from structgen import ConfigError, DataError
from structgen.config import load_experiment
from structgen.context import BuildContext
from structgen.experiment import build_experiment
from structgen.plugins import default_registry
from structgen_vectors.domain import VectorDomain
from structgen_vectors.points import PointsParams, build_points, read_points

POINTS = np.array(
    [[0.5 * i - 3.0, (-1.0) ** i * 0.25 * i] for i in range(50)],
    dtype=np.float32,
)


def write_csv(path: Path, array: np.ndarray, header: str | None = None) -> Path:
    rows = [",".join(repr(float(value)) for value in row) for row in array]
    lines = ([header] if header is not None else []) + rows
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sorted_rows(x: torch.Tensor) -> list[list[float]]:
    return sorted(x.tolist())


# Valid files


def test_read_npy(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    array = read_points(path)

    assert array.dtype == np.float32
    assert np.array_equal(array, POINTS)


def test_read_csv_without_header(tmp_path):
    path = write_csv(tmp_path / "points.csv", POINTS)

    array = read_points(path)

    assert array.shape == POINTS.shape
    assert np.array_equal(array, POINTS)


def test_read_csv_with_header(tmp_path):
    path = write_csv(tmp_path / "points.csv", POINTS, header="x,y")

    array = read_points(path)

    assert array.shape == POINTS.shape
    assert np.array_equal(array, POINTS)


def test_read_csv_one_column(tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("value\n1.5\n-2\n3e1\n", encoding="utf-8")

    array = read_points(path)

    assert array.shape == (3, 1)
    assert array[:, 0].tolist() == [1.5, -2.0, 30.0]


def test_read_integer_npy_as_float(tmp_path):
    path = tmp_path / "counts.npy"
    np.save(path, np.arange(10).reshape(5, 2))

    array = read_points(path)

    assert array.dtype == np.float32
    assert array[4].tolist() == [8.0, 9.0]


def test_read_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "spreadsheet.csv"
    path.write_text("\ufeff1.0,2.0\n3.0,4.0\n5.0,6.0\n", encoding="utf-8")

    array = read_points(path)

    assert array.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_read_csv_header_after_blank_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("\nx,y\n1,2\n3,4\n", encoding="utf-8")

    array = read_points(path)

    assert array.tolist() == [[1.0, 2.0], [3.0, 4.0]]


# Splits and domain


def test_build_splits_sizes(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    data = build_points(PointsParams(path=str(path)), None)

    assert len(data.validation) == 5
    assert len(data.test) == 5
    assert len(data.train) == 40
    assert len(data.train) + len(data.validation) + len(data.test) == len(POINTS)


def test_build_splits_partition_data(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    data = build_points(PointsParams(path=str(path)), None)
    joined = torch.cat([data.train.x, data.validation.x, data.test.x])

    assert sorted_rows(joined) == sorted_rows(torch.from_numpy(POINTS))
    assert data.train.condition is None


def test_build_custom_fractions(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    data = build_points(PointsParams(path=str(path), validation_fraction=0.2, test_fraction=0.3), None)

    assert len(data.validation) == 10
    assert len(data.test) == 15
    assert len(data.train) == 25


def test_build_split_seed(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    first = build_points(PointsParams(path=str(path), split_seed=3), None)
    again = build_points(PointsParams(path=str(path), split_seed=3), None)
    other = build_points(PointsParams(path=str(path), split_seed=4), None)

    assert torch.equal(first.test.x, again.test.x)
    assert not torch.equal(first.test.x, other.test.x)


def test_build_domain_covers_data(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)
    low, high = float(POINTS.min()), float(POINTS.max())
    span = high - low

    data = build_points(PointsParams(path=str(path), margin=0.1), None)

    assert isinstance(data.domain, VectorDomain)
    assert data.domain.dim == 2
    assert data.domain.low == pytest.approx(low - 0.1 * span)
    assert data.domain.high == pytest.approx(high + 0.1 * span)
    for split in (data.train, data.validation, data.test):
        assert bool((split.x >= data.domain.low).all())
        assert bool((split.x <= data.domain.high).all())


def test_build_csv_matches_npy(tmp_path):
    npy_path = tmp_path / "points.npy"
    np.save(npy_path, POINTS)
    csv_path = write_csv(tmp_path / "points.csv", POINTS, header="first,second")

    from_npy = build_points(PointsParams(path=str(npy_path)), None)
    from_csv = build_points(PointsParams(path=str(csv_path)), None)

    assert torch.equal(from_npy.train.x, from_csv.train.x)
    assert torch.equal(from_npy.test.x, from_csv.test.x)


def test_build_three_points(tmp_path):
    path = write_csv(tmp_path / "three.csv", POINTS[:3])

    data = build_points(PointsParams(path=str(path)), None)

    assert (len(data.train), len(data.validation), len(data.test)) == (1, 1, 1)


def test_build_records_path_and_metrics(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    data = build_points(PointsParams(path=str(path)), None)

    assert data.info["path"] == str(path)
    assert data.info["metrics"] == [{"name": "mmd"}]


# Bad files


def write_text(name: str, text: str) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def write_array(name: str, array: np.ndarray) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / name
        np.save(path, array)
        return path

    return write


def missing_file(directory: Path) -> Path:
    return directory / "absent.npy"


BAD_FILES = {
    "missing": (missing_file, "file not found"),
    "empty_csv": (write_text("empty.csv", ""), "the file is empty"),
    "blank_csv": (write_text("blank.csv", "\n  \n"), "the file is empty"),
    "header_only_csv": (write_text("header.csv", "x,y\n"), "contains a header but no points"),
    "empty_npy": (write_array("empty.npy", np.zeros((0, 2))), "contains no points"),
    "one_dimensional_npy": (write_array("flat.npy", np.arange(6.0)), r"expected a 2-D array .* got shape \(6,\)"),
    "three_dimensional_npy": (
        write_array("cube.npy", np.zeros((4, 2, 2))),
        r"expected a 2-D array .* got shape \(4, 2, 2\)",
    ),
    "nan_npy": (
        write_array("nan.npy", np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0], [5.0, 6.0]])),
        r"1 point\(s\) contain NaN or infinite values \(first rows \[1\]\)",
    ),
    "nan_csv": (write_text("nan.csv", "1,2\n3,nan\n5,6\n7,8\n"), r"1 point\(s\) contain NaN or infinite values"),
    "infinite_csv": (
        write_text("inf.csv", "1,2\n3,4\n-inf,6\n7,inf\n"),
        r"2 point\(s\) contain NaN or infinite values \(first rows \[2, 3\]\)",
    ),
    "non_numeric_csv": (write_text("words.csv", "1,2\n3,abc\n5,6\n"), "line 2: 'abc' is not a number"),
    "ragged_csv": (write_text("ragged.csv", "1,2\n3\n5,6\n"), "line 2 has 1 values but line 1 has 2"),
    "boolean_npy": (write_array("flags.npy", np.ones((4, 2), dtype=bool)), "expected numbers, got dtype bool"),
    "corrupt_npy": (write_text("corrupt.npy", "1,2\n3,4\n"), "not a readable .npy array"),
    "text_suffix": (write_text("points.txt", "1,2\n3,4\n5,6\n"), "unsupported file type '.txt'; use .npy or .csv"),
    "two_points": (write_text("two.csv", "1,2\n3,4\n"), "2 points are too few to split"),
}


@pytest.mark.parametrize("writer, problem", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_raises(tmp_path, writer, problem):
    path = writer(tmp_path)
    params = PointsParams(path=str(path))

    with pytest.raises(DataError, match=re.escape(str(path)) + ": .*" + problem):
        build_points(params, None)


# Configuration


def points_experiment(path: Path, **data: object) -> dict:
    return {"data": {"name": "points", "path": str(path), **data}, "strategy": {"name": "gan"}}


def test_config_resolves_points(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    resolved = load_experiment(values=points_experiment(path, test_fraction=0.2))

    assert resolved.data.component.name == "points"
    assert resolved.data.params.path == str(path)
    assert resolved.data.params.test_fraction == 0.2
    assert resolved.to_dict()["data"]["validation_fraction"] == 0.1


def test_config_builds_points(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)
    resolved = load_experiment(values=points_experiment(path))
    context = BuildContext(registry=default_registry(), device=torch.device("cpu"), experiment=resolved)

    data = context.build("dataset", resolved.data)

    assert len(data.train) == 40
    assert isinstance(data.domain, VectorDomain)


def test_config_fractions_sum_to_one_raises(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, POINTS)

    with pytest.raises(ConfigError, match="validation_fraction \\+ test_fraction must be below 1") as error:
        load_experiment(values=points_experiment(path, validation_fraction=0.5, test_fraction=0.5))

    assert error.value.problems[0][0] == "data"


def test_config_missing_path_raises():
    with pytest.raises(ConfigError, match="data.path: required field is missing"):
        load_experiment(values={"data": {"name": "points"}, "strategy": {"name": "gan"}})


def test_config_unknown_field_raises(tmp_path):
    with pytest.raises(ConfigError, match="data.delimiter: unknown field"):
        load_experiment(values=points_experiment(tmp_path / "points.csv", delimiter=";"))


def test_three_points_raise_before_training(tmp_path):
    path = write_csv(tmp_path / "three.csv", POINTS[:3])
    resolved = load_experiment(values=points_experiment(path))

    with pytest.raises(DataError) as error:
        build_experiment(resolved, default_registry())

    message = str(error.value)
    assert "the test split contains 1 object," in message
    assert "mmd needs at least 2 real objects, got 1" in message
    assert "larger held-out fraction" in message


def test_small_file_with_larger_test_fraction(tmp_path):
    path = write_csv(tmp_path / "six.csv", POINTS[:6])
    resolved = load_experiment(values=points_experiment(path, test_fraction=0.34))

    experiment = build_experiment(resolved, default_registry())

    assert len(experiment.data.test) == 2
