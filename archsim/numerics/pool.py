"""Integer max-pooling (window = stride, optional padding, floor mode) and its gradient routing.

The window is scanned in row-major order and an element replaces the running maximum
only if it is strictly greater, as a comparator chain would: ties go to the first
maximum, and the backward pass sends each output's gradient to that element alone.
Padding holds the smallest value of the dtype (NITRO-D's "-inf" padding), so a padded
element never wins unless the whole window is padding.
"""
from __future__ import annotations

import numpy as np

from .errors import NumericsError


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def pool_output_size(size: int, kernel: int, padding: int) -> int:
    """Output length of a max-pool with stride = kernel along one axis (floor mode)."""
    return (size + 2 * padding - kernel) // kernel + 1


def _lowest(dtype: np.dtype):
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


def maxpool2d(x: np.ndarray, size: int | tuple[int, int],
              padding: int | tuple[int, int] = 0) -> tuple[np.ndarray, np.ndarray]:
    """Max over non-overlapping kh×kw windows of an NHWC tensor; returns (y, index of the max in its window)."""
    (kh, kw), (ph, pw) = _pair(size), _pair(padding)
    b, h, w, c = x.shape
    ho, wo = pool_output_size(h, kh, ph), pool_output_size(w, kw, pw)
    if kh < 1 or kw < 1 or ho < 1 or wo < 1 or ph >= kh or pw >= kw:
        raise NumericsError(f"max-pool of {kh}x{kw} with padding {ph},{pw} does not fit an input of {h}x{w}")
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=_lowest(x.dtype))
    windows = x[:, :ho * kh, :wo * kw].reshape(b, ho, kh, wo, kw, c)
    y = windows[:, :, 0, :, 0, :].copy()
    arg = np.zeros(y.shape, dtype=np.int8 if kh * kw <= 127 else np.int16)
    for idx in range(1, kh * kw):
        view = windows[:, :, idx // kw, :, idx % kw, :]
        better = np.greater(view, y)
        np.maximum(y, view, out=y)
        arg -= better * (arg - arg.dtype.type(idx))  # arg = idx where better (arithmetic select is fastest here)
    return y, arg


def maxpool2d_backward(dy: np.ndarray, arg: np.ndarray, x_shape: tuple, size: int | tuple[int, int],
                       padding: int | tuple[int, int] = 0) -> np.ndarray:
    """Route dy (pooled NHWC) to the max positions in a tensor of ``x_shape``; all other entries are 0."""
    (kh, kw), (ph, pw) = _pair(size), _pair(padding)
    b, ho, wo, c = dy.shape
    h, w = x_shape[1] + 2 * ph, x_shape[2] + 2 * pw
    dx = np.zeros((b, h, w, c), dtype=dy.dtype)
    windows = dx[:, :ho * kh, :wo * kw].reshape(b, ho, kh, wo, kw, c)
    for idx in range(kh * kw):
        windows[:, :, idx // kw, :, idx % kw, :] = np.where(arg == idx, dy, 0)
    return dx[:, ph:ph + x_shape[1], pw:pw + x_shape[2]]
