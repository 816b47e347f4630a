"""Build the embedded Fashion-MNIST mini subset from the full set.

Selection scheme (deterministic): one ``numpy.random.Generator(PCG64(seed=20181))``
is used for, in this order, the training split then the test split; within a split,
for each class ``c = 0..9``, take the ascending indices ``i`` with ``labels[i] == c``,
draw ``rng.permutation(count)`` and keep the first 400 (train) or 100 (test) of the
permuted indices. The chosen indices of a split are then sorted ascending, so the
subset keeps the original order of the full set.

Usage: ``python -m archsim.data.make_mini [--out PATH]`` (default: the package file).
The script prints the arrays' SHA-256, which must match ``datasets.MINI_SHA256``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .datasets import MINI_FILE, MINI_SHA256, Dataset, array_sha256, load_dataset
from ..fileio import write_npz
from .errors import DataError

MINI_SEED = 20181
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100


def select_stratified(
    labels: np.ndarray, per_class: int, rng: np.random.Generator, num_classes: int = 10
) -> np.ndarray:
    """Indices of ``per_class`` random examples of each class, sorted, as little-endian int64."""
    chosen = []
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        if idx.size < per_class:
            raise DataError(f"class {c} has {idx.size} examples, fewer than the {per_class} wanted")
        chosen.append(idx[rng.permutation(idx.size)[:per_class]])
    return np.sort(np.concatenate(chosen)).astype("<i8")


def build_mini(full: Dataset, seed: int = MINI_SEED) -> dict[str, np.ndarray]:
    """The six arrays of the mini file, selected from ``full`` as documented above."""
    rng = np.random.Generator(np.random.PCG64(seed))
    train_idx = select_stratified(full.train_labels, TRAIN_PER_CLASS, rng, full.num_classes)
    test_idx = select_stratified(full.test_labels, TEST_PER_CLASS, rng, full.num_classes)
    return {
        "train_images": np.ascontiguousarray(full.train_images[train_idx]),
        "train_labels": np.ascontiguousarray(full.train_labels[train_idx]),
        "test_images": np.ascontiguousarray(full.test_images[test_idx]),
        "test_labels": np.ascontiguousarray(full.test_labels[test_idx]),
        "train_indices": train_idx,
        "test_indices": test_idx,
    }


def save_mini(arrays: dict[str, np.ndarray], out: Path) -> None:
    """Write ``arrays`` with ``np.savez_compressed``, atomically (package data, mode 0644)."""
    write_npz(out, arrays, compressed=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m archsim.data.make_mini", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=MINI_FILE, help=f"output .npz (default: {MINI_FILE})")
    args = parser.parse_args(argv)
    try:
        arrays = build_mini(load_dataset("fashion_mnist", "full"))
        save_mini(arrays, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    mismatched = []
    for key, array in arrays.items():
        digest = array_sha256(array)
        print(f'    "{key}": "{digest}",  # {array.dtype.str} {array.shape}')
        if digest != MINI_SHA256.get(key):
            mismatched.append(key)
    if mismatched:
        print(f"note: {', '.join(mismatched)} differ from datasets.MINI_SHA256; update it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
