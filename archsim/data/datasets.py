"""The :class:`Dataset` container and :func:`load_dataset`.

Variants of ``fashion_mnist``:

* ``"mini"`` (default) - a stratified 4,000/1,000 subset embedded in the package as
  ``fashion_mnist_mini.npz`` (built by :mod:`archsim.data.make_mini`), always available;
* ``"full"`` - the 60,000/10,000 set, found or fetched by :mod:`archsim.data.locations`.
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import locations
from .errors import DataError

#: Dataset name -> available variants.
KNOWN_DATASETS: dict[str, tuple[str, ...]] = {"fashion_mnist": ("mini", "full")}

#: Fashion-MNIST class names, by label.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: The embedded mini subset (package data).
MINI_FILE = Path(__file__).with_name("fashion_mnist_mini.npz")

#: Expected dtype of each array in the mini file.
MINI_DTYPES: dict[str, str] = {
    "train_images": "|u1", "train_labels": "|u1", "test_images": "|u1", "test_labels": "|u1",
    "train_indices": "<i8", "test_indices": "<i8",
}

#: SHA-256 of each mini array's raw C-order bytes (``hashlib.sha256(a.tobytes())``).
MINI_SHA256: dict[str, str] = {
    "train_images": "d3ebbc46d8cd3a1730c1ebecfd8626d26a58b7e1c42edfac52869fd6b6eb7c6e",
    "train_labels": "9c304313c1c8efd7bb50cf30f2e1f62ec7495e1532f113f8e326097a0fee1e2b",
    "test_images": "f1b2078c6dc5583fd9e4dc80060e0dc004dddbf714c8cc03a270d33de3720788",
    "test_labels": "c411ef341eddbee6d89b6e52b50b3634dc69134c76e43007dbe38955487af764",
    "train_indices": "af35cf44196d1e20493b46a16966e4decb6d77691b2e2c533e0bc8e99c85c662",
    "test_indices": "b7ac51d06c6ff4b539c84a14d2467ab9b4ce34aa4c3010813d92617ec5035fa5",
}

_ARRAY_FIELDS = ("train_images", "train_labels", "test_images", "test_labels")


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 hex digest of an array's raw C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification set: uint8 images (N, H, W) and uint8 labels (N,).

    The arrays are stored as read-only views.
    """

    name: str
    variant: str
    train_images: np.ndarray = field(repr=False)
    train_labels: np.ndarray = field(repr=False)
    test_images: np.ndarray = field(repr=False)
    test_labels: np.ndarray = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        for name in _ARRAY_FIELDS:
            view = np.asarray(getattr(self, name)).view()
            view.setflags(write=False)
            object.__setattr__(self, name, view)
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != np.uint8 or images.ndim != 3:
                raise DataError(
                    f"{self.source}: {split} images must be uint8 (N, H, W), "
                    f"got {images.dtype} {images.shape}"
                )
            if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
                raise DataError(
                    f"{self.source}: {split} labels must be uint8 ({len(images)},), "
                    f"got {labels.dtype} {labels.shape}"
                )
            top = int(labels.max()) if labels.size else 0
            if top >= self.num_classes:
                raise DataError(f"{self.source}: {split} label {top} >= {self.num_classes} classes")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DataError(f"{self.source}: train and test image shapes differ")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, indexed by label."""
        return FASHION_MNIST_CLASSES

    @property
    def num_classes(self) -> int:
        """Number of classes (10 for Fashion-MNIST)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int]:
        """Height and width of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


def read_mini(path: Path = MINI_FILE) -> dict[str, np.ndarray]:
    """Load the six arrays of a mini file, checking dtypes and SHA-256 against the record."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read the embedded mini set ({exc}); reinstall archsim") from exc
    if set(arrays) != set(MINI_SHA256):
        raise DataError(f"{path}: mini set has arrays {sorted(arrays)}, expected {sorted(MINI_SHA256)}")
    for key, array in arrays.items():
        if array.dtype.str != MINI_DTYPES[key] or array_sha256(array) != MINI_SHA256[key]:
            raise DataError(
                f"{path}: array {key} ({array.dtype} {array.shape}) does not match its recorded "
                "SHA-256: the embedded mini set is corrupt; reinstall archsim or rebuild it with "
                "`python -m archsim.data.make_mini`"
            )
    return arrays


def _check_choice(name: str, variant: str) -> None:
    if name not in KNOWN_DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(KNOWN_DATASETS)}")
    if variant not in KNOWN_DATASETS[name]:
        known = ", ".join(KNOWN_DATASETS[name])
        raise DataError(f"unknown variant {variant!r} of {name}; known: {known}")


def load_dataset(name: str = "fashion_mnist", variant: str = "mini") -> Dataset:
    """Load a dataset; raises :class:`DataError` with a one-line explanation on failure."""
    _check_choice(name, variant)
    if variant == "mini":
        arrays = read_mini()
        source = f"{MINI_FILE} (embedded mini subset, 400 train / 100 test images per class)"
    else:
        arrays, source = locations.load_full_arrays()
    return Dataset(name, variant, *(arrays[k] for k in _ARRAY_FIELDS), source=source)


__all__ = [
    "Dataset", "KNOWN_DATASETS", "FASHION_MNIST_CLASSES", "MINI_FILE", "MINI_SHA256",
    "array_sha256", "load_dataset", "read_mini",
]
