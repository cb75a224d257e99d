"""Interpolation, class-grid and training-curve pictures."""

from __future__ import annotations

import json

import matplotlib.image
import pytest
import torch

from structgen import DataError
from structgen.config import ComponentConfig, load_experiment
from structgen.context import BuildContext
from structgen.experiment import build_experiment, run_experiment, train
from structgen.pictures import (
    CURVE_PANEL_SIZE,
    class_grid_batch,
    class_grid_conditions,
    curve_series,
    interpolation_batch,
    interpolation_codes,
    read_metric_records,
    sampling_generator,
    save_class_grid,
    save_interpolation,
    save_training_curves,
)
from structgen.strategies.codes import PriorGenerator
from structgen_images.domain import ImageDomain
from structgen_text.domain import SequenceDomain
from structgen_text.vocabulary import Vocabulary

DIGIT = ImageDomain(1, 8, 8)


def _image_generator(registry, num_classes: int | None = None):
    context = BuildContext(registry=registry, device=torch.device("cpu"), domain=DIGIT, num_classes=num_classes)
    section = ComponentConfig(name="mlp", latent_dim=4, hidden=16, layers=1, conditional=num_classes is not None)
    torch.manual_seed(0)
    return context.build("generator", section)


def _aspect(path) -> float:
    pixels = matplotlib.image.imread(path)
    return pixels.shape[1] / pixels.shape[0]


def _grid_aspect(rows: int, columns: int, side: int = 8) -> float:
    # One padding pixel around every image, as _image_grid lays them out.
    return (columns * (side + 1) + 1) / (rows * (side + 1) + 1)


def test_interpolation_codes_are_a_straight_line():
    start = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    end = torch.tensor([[4.0, 2.0], [3.0, 1.0]])
    codes = interpolation_codes(start, end, steps=5)
    assert codes.shape == (2, 5, 2)
    assert torch.equal(codes[:, 0], start)
    assert torch.equal(codes[:, -1], end)
    assert torch.allclose(codes[:, 2], (start + end) / 2)
    assert torch.allclose(codes[0, :, 0], torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match="steps >= 2"):
        interpolation_codes(start, end, steps=1)


def test_interpolation_middle_decodes_midpoint(registry):
    generator = _image_generator(registry)
    codes, objects = interpolation_batch(generator, rows=3, steps=5, seed=4)
    assert objects.shape == (3, 5, 1, 8, 8)
    generator.eval()
    with torch.no_grad():
        midpoint = generator((codes[:, 0] + codes[:, -1]) / 2)
    assert torch.allclose(objects[:, 2], midpoint, atol=1e-6)
    assert float((objects[:, 2] - objects[:, 0]).abs().max()) > 1e-3
    assert float((objects[:, 2] - objects[:, -1]).abs().max()) > 1e-3


def test_interpolation_leaves_random_state_alone(registry):
    generator = _image_generator(registry)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    first, _ = interpolation_batch(generator, rows=2, steps=3, seed=7)
    assert torch.equal(torch.rand(3), expected)
    second, _ = interpolation_batch(generator, rows=2, steps=3, seed=7)
    assert torch.equal(first, second)


def test_save_interpolation_png_size(registry, tmp_path):
    generator = _image_generator(registry)
    path = save_interpolation(generator, DIGIT, tmp_path / "lines.png", rows=4, steps=10)
    assert path == tmp_path / "lines.png"
    assert _aspect(path) == pytest.approx(_grid_aspect(4, 10), rel=0.02)


def test_glo_interpolation_uses_fitted_codes(registry, tmp_path):
    values = {
        "data": {"name": "digits"},
        "strategy": {"name": "codes", "mode": "glo"},
        "generator": {"name": "mlp", "latent_dim": 8, "hidden": 32, "layers": 1},
        "training": {"steps": 5, "batch_size": 32},
        "metrics": [],
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    train(experiment)
    decoder = sampling_generator(experiment.strategy)
    assert isinstance(decoder, PriorGenerator)
    codes, _ = interpolation_batch(decoder, rows=200, steps=2, seed=0)
    # Learned codes lie in the unit ball, so the fitted Gaussian draws far shorter codes than N(0, I) (mean norm 2.7).
    assert float(codes[:, 0].norm(dim=1).mean()) < 1.5
    assert save_interpolation(experiment.strategy, DIGIT, tmp_path / "codes.png", rows=2, steps=3)


def test_vector_interpolation_draws_rows(registry, tmp_path):
    values = {
        "data": {"name": "ring", "train_size": 256, "eval_size": 16},
        "strategy": {"name": "vae"},
        "generator": {"name": "mlp", "latent_dim": 2, "hidden": 16, "layers": 1},
        "training": {"steps": 1, "batch_size": 8},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    path = save_interpolation(experiment.strategy, experiment.domain, tmp_path / "ring.png", rows=3, steps=6)
    assert path == tmp_path / "ring.png"
    assert path.stat().st_size > 0


def test_text_domain_has_no_pictures(registry, tmp_path):
    text = SequenceDomain(Vocabulary(["a", "b"], "character"), max_length=4)
    generator = _image_generator(registry, num_classes=2)
    assert save_interpolation(generator, text, tmp_path / "lines.png") is False
    assert save_class_grid(generator, text, 2, tmp_path / "grid.png") is False
    assert not list(tmp_path.iterdir())


def test_class_grid_conditions_order():
    labels = class_grid_conditions([2, 0], per_class=3)
    assert labels.tolist() == [2, 2, 2, 0, 0, 0]


def test_class_grid_rows_use_requested_classes(registry):
    generator = _image_generator(registry, num_classes=3)
    conditions = class_grid_conditions([2, 0], per_class=4)
    samples = class_grid_batch(generator, conditions, seed=5)

    generator.eval()
    torch.manual_seed(5)
    codes = generator.sample_latent(8)
    with torch.no_grad():
        for labels in ([2] * 4 + [0] * 4, [0] * 4 + [2] * 4):
            expected = generator(codes, torch.tensor(labels))
            matches = torch.allclose(samples, expected, atol=1e-6)
            assert matches == (labels[0] == 2), labels


def test_save_class_grid_png_size(registry, tmp_path):
    generator = _image_generator(registry, num_classes=3)
    path = save_class_grid(generator, DIGIT, 3, tmp_path / "grid.png", per_class=6)
    assert path == tmp_path / "grid.png"
    assert _aspect(path) == pytest.approx(_grid_aspect(3, 6), rel=0.02)


def test_class_grid_rejects_bad_requests(registry, tmp_path):
    conditional = _image_generator(registry, num_classes=3)
    with pytest.raises(ValueError, match=r"classes \[3\] are outside 0 .. 2"):
        save_class_grid(conditional, DIGIT, 3, tmp_path / "grid.png", classes=[0, 3])
    unconditional = _image_generator(registry)
    with pytest.raises(ValueError, match="needs a conditional model"):
        save_class_grid(unconditional, DIGIT, 3, tmp_path / "grid.png")


@pytest.fixture(scope="module")
def gan_run(registry, tmp_path_factory):
    values = {
        "data": {"name": "ring", "train_size": 512, "eval_size": 100},
        "strategy": {"name": "gan", "r1_gamma": 0.1},
        "generator": {"name": "mlp", "latent_dim": 2, "hidden": 16, "layers": 1},
        "discriminator": {"name": "mlp", "hidden": 16, "layers": 1},
        "training": {"steps": 20, "batch_size": 32, "log_every": 5, "eval_samples": 100, "evaluate_at": [10, 20]},
        "metrics": [{"name": "mmd"}],
        "device": "cpu",
    }
    out = tmp_path_factory.mktemp("gan") / "run"
    run_experiment(load_experiment(values=values, registry=registry), registry, out)
    return out


def test_curve_series_of_real_run(gan_run):
    series = curve_series(read_metric_records(gan_run))
    assert list(series) == ["loss_d", "r1", "loss_g", "test/mmd2"]
    assert series["loss_d"][0] == [5, 10, 15, 20]
    assert series["test/mmd2"][0] == [10, 20]


def test_save_training_curves_png_size(gan_run, tmp_path):
    width, height = CURVE_PANEL_SIZE
    path = save_training_curves(gan_run / "metrics.jsonl", tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    # Four curves: three panels in the first row, one in the second.
    assert _aspect(path) == pytest.approx(3 * width / (2 * height), rel=0.02)

    chosen = save_training_curves(gan_run, tmp_path / "two.png", keys=["loss_g", "test/mmd2"])
    assert _aspect(chosen) == pytest.approx(2 * width / height, rel=0.02)


def test_training_curves_bad_sources(gan_run, tmp_path):
    with pytest.raises(ValueError, match="no logged values for \\['loss'\\]"):
        save_training_curves(gan_run, tmp_path / "x.png", keys=["loss"])
    with pytest.raises(DataError, match="file not found"):
        save_training_curves(tmp_path / "missing", tmp_path / "x.png")
    broken = tmp_path / "metrics.jsonl"
    broken.write_text(json.dumps({"step": 1, "loss": 0.5}) + '\n{"step": 2, "lo', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: invalid JSON"):
        save_training_curves(broken, tmp_path / "x.png")
    assert save_training_curves([], tmp_path / "empty.png") is False
    assert not (tmp_path / "empty.png").exists()
