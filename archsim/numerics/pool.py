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
    y = x[:, 0:ho * size:size, 0:wo * size:size].copy()
    arg = np.zeros(y.shape, dtype=np.int16)
    for idx in range(1, size * size):
        di, dj = divmod(idx, size)
        view = x[:, di:ho * size:size, dj:wo * size:size]
        better = view > y
        np.copyto(y, view, where=better)
        arg[better] = idx
    return y, arg


def maxpool2d_backward(dy: np.ndarray, arg: np.ndarray, x_shape: tuple, size: int) -> np.ndarray:
    """Route dy (pooled NHWC) to the max positions in a tensor of ``x_shape``; all other entries are 0."""
    ho, wo = dy.shape[1], dy.shape[2]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for idx in range(size * size):
        di, dj = divmod(idx, size)
        dx[:, di:ho * size:size, dj:wo * size:size] = np.where(arg == idx, dy, 0)
    return dx
