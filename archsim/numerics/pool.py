"""Integer max-pooling (square window = stride, floor mode) and its gradient routing.

The window is scanned in row-major order and an element replaces the running maximum
only if it is strictly greater, as a comparator chain would: ties go to the first
maximum, and the backward pass sends each output's gradient to that element alone.
"""
from __future__ import annotations

import numpy as np

from .errors import NumericsError


def maxpool2d(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over non-overlapping size×size windows of an NHWC tensor; returns (y, window index of the max)."""
    b, h, w, c = x.shape
    ho, wo = h // size, w // size
    if size < 1 or ho < 1 or wo < 1:
        raise NumericsError(f"max-pool of {size}x{size} does not fit an input of {h}x{w}")
    windows = x[:, :ho * size, :wo * size].reshape(b, ho, size, wo, size, c)
    y = windows[:, :, 0, :, 0, :].copy()
    arg = np.zeros(y.shape, dtype=np.int8 if size * size <= 127 else np.int16)
    for idx in range(1, size * size):
        view = windows[:, :, idx // size, :, idx % size, :]
        better = np.greater(view, y)
        np.maximum(y, view, out=y)
        arg -= better * (arg - arg.dtype.type(idx))  # arg = idx where better (arithmetic select is fastest here)
    return y, arg


def maxpool2d_backward(dy: np.ndarray, arg: np.ndarray, x_shape: tuple, size: int) -> np.ndarray:
    """Route dy (pooled NHWC) to the max positions in a tensor of ``x_shape``; all other entries are 0."""
    b, ho, wo, c = dy.shape
    dx = np.zeros(x_shape, dtype=dy.dtype)
    windows = dx[:, :ho * size, :wo * size].reshape(b, ho, size, wo, size, c)
    for idx in range(size * size):
        windows[:, :, idx // size, :, idx % size, :] = np.where(arg == idx, dy, 0)
    return dx
