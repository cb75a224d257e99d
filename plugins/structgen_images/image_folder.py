"""The ``image_folder`` data set: a user's images from a folder of PNG files or from a ``.npy`` array."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from structgen import DataError, DataSplits, Split
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .domain import ImageDomain

logger = logging.getLogger(__name__)

# Pillow modes of one grey channel. Every other mode is read as RGB.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Pillow modes that PNG uses for 16-bit grey images.
WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
# ITU-R 601-2 luma weights of R, G and B, as in Pillow's RGB to "L" conversion (Image.convert, Pillow 13).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageFolderParams(ComponentParams):
    """Settings of the ``image_folder`` data set."""

    path: str = Field(
        description="A folder of .png files, or a .npy array of shape (N, H, W) or (N, H, W, C) with C 1 or 3, "
        "uint8 in [0, 255] or float in [0, 1]. A relative path starts from the current directory."
    )
    channels: Literal[1, 3] | None = Field(
        None,
        description="Colour channels C: 1 (grey) or 3 (RGB); None infers them from the files. When set, PNG "
        "images are converted (RGB to grey by ITU-R 601-2 luma), but a .npy array must already have C channels.",
    )
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="Share of images held out for validation.")
    test_fraction: float = Field(0.1, gt=0, lt=1, description="Share of images held out for testing.")
    split_seed: int = Field(0, ge=0, description="Seed of the one random split into train, validation and test.")
    labels_from_subfolders: bool = Field(
        False,
        description="Read the PNG files of each subfolder of `path` as one class; classes are numbered in the "
        "sorted order of the subfolder names. Without it, only the .png files directly in `path` are read.",
    )
    conditional: bool = Field(
        False, description="Pass the subfolder labels to the networks as the condition (needs labels_from_subfolders)."
    )
    binarize: bool = Field(
        False, description="Threshold every pixel at the midpoint 0, so that values are exactly -1 or 1 (for RBMs)."
    )

    @model_validator(mode="after")
    def _check_settings(self) -> ImageFolderParams:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1, leaving images to train on")
        if self.conditional and not self.labels_from_subfolders:
            raise ValueError(
                "conditional needs labels; set labels_from_subfolders: true and put each class in a subfolder"
            )
        return self


@dataclass
class LoadedImages:
    """Images read from disk, before the split.

    Attributes:
        images: float ``(N, C, H, W)`` in [-1, 1].
        labels: class index per image ``(N,)``, or None without labels.
        class_names: subfolder name of each class index, or None without labels.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None


def read_png(path: Path) -> np.ndarray:
    """Read one PNG file as float32 ``(H, W, C)`` in [0, 1], with C 1 for grey modes and 3 otherwise.

    An alpha channel is dropped. Raises :class:`DataError` naming the file when Pillow cannot decode it.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode in WIDE_GREY_MODES:
                pixels = np.asarray(image, dtype=np.float32) / 65535.0
            elif mode in GREY_MODES:
                pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
            else:
                pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not a readable PNG image ({err}); replace or remove the file") from err
    return pixels[..., None] if pixels.ndim == 2 else pixels


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Convert ``(..., C)`` pixels to ``channels`` channels: grey is repeated, RGB is reduced to luma."""
    if pixels.shape[-1] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=-1)
    return (pixels @ LUMA_WEIGHTS)[..., None]


def list_pngs(folder: Path) -> list[Path]:
    """Return the ``.png`` files directly inside ``folder``, sorted. Hidden files are skipped, other files logged."""
    entries = sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))
    pngs = [entry for entry in entries if entry.is_file() and entry.suffix.lower() == ".png"]
    others = [entry for entry in entries if entry.is_file() and entry.suffix.lower() != ".png"]
    if others:
        logger.warning("%s: skipped %d file(s) that are not .png, such as %s", folder, len(others), others[0].name)
    return pngs


def stack_pngs(files: list[Path], channels: int | None) -> np.ndarray:
    """Read ``files`` into one float32 array ``(N, H, W, C)`` in [0, 1].

    Raises :class:`DataError` naming two files when their sizes differ, or,
    with ``channels`` None, when grey and RGB files are mixed.
    """
    images = [read_png(file) for file in files]
    first_size = images[0].shape[:2]
    for file, image in zip(files, images, strict=True):
        if image.shape[:2] != first_size:
            raise DataError(
                f"{file} is {image.shape[0]}x{image.shape[1]} pixels (height x width) but {files[0]} is "
                f"{first_size[0]}x{first_size[1]}; resize every image to one size"
            )
    if channels is None:
        grey = [file for file, image in zip(files, images, strict=True) if image.shape[-1] == 1]
        colour = [file for file, image in zip(files, images, strict=True) if image.shape[-1] == 3]
        if grey and colour:
            raise DataError(
                f"{grey[0]} is grey but {colour[0]} is RGB; set channels to 1 or 3 to convert every image, "
                "or save all of them in one mode"
            )
        channels = images[0].shape[-1]
    return np.stack([convert_channels(image, channels) for image in images])


def read_png_folder(folder: Path, channels: int | None) -> np.ndarray:
    """Read the ``.png`` files directly inside ``folder`` (see :func:`stack_pngs`)."""
    files = list_pngs(folder)
    if not files:
        hint = "add .png files to it"
        if any(sub.is_dir() and list(sub.glob("*.png")) for sub in folder.iterdir()):
            hint = "its subfolders contain .png files: set labels_from_subfolders: true to read them as classes"
        raise DataError(f"{folder}: contains no .png files; {hint}")
    return stack_pngs(files, channels)


def read_class_folders(folder: Path, channels: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read each subfolder of ``folder`` as one class, and return the images, labels and sorted class names."""
    subfolders = sorted(entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not subfolders:
        raise DataError(
            f"{folder}: contains no subfolders, but labels_from_subfolders is true; put the .png files of each "
            "class in a subfolder named after the class, or set labels_from_subfolders: false"
        )
    stray = list_pngs(folder)
    if stray:
        raise DataError(
            f"{stray[0]} lies outside the class subfolders of {folder}; move it into the subfolder of its class"
        )
    files: list[Path] = []
    labels: list[int] = []
    for index, subfolder in enumerate(subfolders):
        class_files = list_pngs(subfolder)
        if not class_files:
            raise DataError(f"{subfolder}: class folder contains no .png files; add images or remove the folder")
        files.extend(class_files)
        labels.extend([index] * len(class_files))
    return stack_pngs(files, channels), np.array(labels, dtype=np.int64), [sub.name for sub in subfolders]


def read_npy(path: Path, channels: int | None) -> np.ndarray:
    """Read a ``.npy`` array of images into float32 ``(N, H, W, C)`` in [0, 1] and check its shape and values."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npy array ({err}); save the images with numpy.save") from err

    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise DataError(
            f"{path}: expected an array of shape (N, H, W) or (N, H, W, C) with C 1 or 3, got shape {array.shape}; "
            "move a channels-first axis last with numpy.moveaxis(array, 1, -1)"
        )
    if channels is not None and array.shape[-1] != channels:
        raise DataError(f"{path}: the array has {array.shape[-1]} channel(s) but channels is {channels}")
    if array.shape[0] == 0:
        raise DataError(f"{path}: contains no images")

    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(
            f"{path}: expected dtype uint8 (values 0 to 255) or float (values 0 to 1), got {array.dtype}; "
            "convert it with array.astype(numpy.uint8) or scale it to [0, 1]"
        )
    pixels = array.astype(np.float32)
    if not np.isfinite(pixels).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high > 1:
        raise DataError(f"{path}: float values span [{low:.4g}, {high:.4g}]; scale them to [0, 1] or save as uint8")
    return pixels


def load_images(params: ImageFolderParams) -> LoadedImages:
    """Read ``params.path`` and return float ``(N, C, H, W)`` images in [-1, 1], with labels when requested."""
    path = Path(params.path).expanduser()
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    if path.is_dir():
        if params.labels_from_subfolders:
            pixels, labels, class_names = read_class_folders(path, params.channels)
        else:
            pixels = read_png_folder(path, params.channels)
    elif path.is_file():
        if path.suffix.lower() != ".npy":
            raise DataError(
                f"{path}: unsupported file type {path.suffix!r}; give a folder of .png files or a .npy file"
            )
        if params.labels_from_subfolders:
            raise DataError(f"{path}: labels_from_subfolders needs a folder of class subfolders, not a .npy file")
        pixels = read_npy(path, params.channels)
    else:
        raise DataError(
            f"{path}: not found (relative paths start from the current directory, {Path.cwd()}); "
            "give a folder of .png files or a .npy file"
        )

    images = torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))) * 2.0 - 1.0
    if params.binarize:
        images = torch.where(images > 0, 1.0, -1.0)
    label_tensor = None if labels is None else torch.from_numpy(labels)
    return LoadedImages(images, label_tensor, class_names)


def split_indices(count: int, params: ImageFolderParams) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle ``range(count)`` with ``split_seed`` and cut it into train, validation and test indices."""
    if count < 3:
        raise DataError(
            f"{params.path}: {count} image(s) are too few to split into train, validation and test; each split "
            "needs at least 1 image, so give at least 3"
        )
    n_validation = max(1, round(params.validation_fraction * count))
    n_test = max(1, round(params.test_fraction * count))
    # Rounding both fractions up can leave no training image: 4 images at 0.375 each give 2 + 2.
    # The larger held-out split then gives images back until one is left for training.
    while count - n_validation - n_test < 1:
        if n_validation >= n_test:
            n_validation -= 1
        else:
            n_test -= 1
    order = torch.randperm(count, generator=torch.Generator().manual_seed(params.split_seed))
    return order[n_test + n_validation :], order[n_test : n_test + n_validation], order[:n_test]


def build_image_folder(params: ImageFolderParams, context: BuildContext) -> DataSplits:
    """Build the ``image_folder`` data set from the user's files, split once with ``split_seed``."""
    loaded = load_images(params)
    images, labels = loaded.images, loaded.labels
    domain = ImageDomain(*images.shape[1:])
    domain.validate(images, source=params.path)
    train, validation, test = split_indices(len(images), params)

    def split(index: torch.Tensor) -> Split:
        condition = labels[index] if labels is not None and params.conditional else None
        return Split(images[index], condition)

    # The classifier of the image metrics is cached under the data set name, its labels and the image
    # shape, so the name carries a digest of the pixels to keep two folders from sharing a classifier.
    digest = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:12]
    info: dict[str, Any] = {"name": f"image_folder-{digest}", "path": params.path}
    # NOTE: with no more test images than the classifier's feature_dim, the Fréchet distance's covariances
    # are rank-deficient and the distance is biased upwards. Fewer than 2 test images are rejected before training.
    if labels is not None and loaded.class_names is not None:
        class_count = len(loaded.class_names)
        info.update(
            num_classes=class_count if params.conditional else None,
            label_count=class_count,
            class_names=loaded.class_names,
            train_labels=labels[train],
            metrics=[{"name": "frechet_distance"}, {"name": "classes_covered"}],
        )
    else:
        info["metrics"] = [{"name": "mmd"}]
    return DataSplits(domain, split(train), split(validation), split(test), info)
