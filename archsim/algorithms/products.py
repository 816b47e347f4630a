"""The three products of a weight layer (forward, input gradient, weight gradient) for conv and fc.

Shared by every algorithm: an integer engine makes them exact through the accumulator,
the float32 engine gives the float reference. ``geometry`` is the layer's LayerSpec.
"""
from __future__ import annotations

import numpy as np

from ..config import LayerSpec
from ..numerics import conv2d, conv2d_input_grad, conv2d_weight_grad
from ..numerics.engine import GemmEngine


def forward_product(layer: LayerSpec, x: np.ndarray, w: np.ndarray, engine: GemmEngine) -> tuple[np.ndarray, int]:
    """y = x * w (conv, NHWC) or x·w (fc, input flattened); returns (y, overflow events)."""
    if layer.kind == "conv":
        return conv2d(x, w, layer.padding, layer.stride, engine)
    a, b, bounds = engine.prepare(x.reshape(x.shape[0], -1), w, w.shape[0])
    return engine(a, b, bounds)


def input_grad_product(layer: LayerSpec, dy: np.ndarray, w: np.ndarray, x_shape: tuple,
                       engine: GemmEngine) -> tuple[np.ndarray, int]:
    """dx for the layer's input of ``x_shape``; returns (dx, overflow events)."""
    if layer.kind == "conv":
        return conv2d_input_grad(dy, w, x_shape, layer.padding, layer.stride, engine)
    a, b, bounds = engine.prepare(dy, w, w.shape[1])
    dx, n = engine(a, b.T, bounds)
    return dx.reshape(x_shape), n


def weight_grad_product(layer: LayerSpec, x: np.ndarray, dy: np.ndarray, engine: GemmEngine) -> tuple[np.ndarray, int]:
    """dw with the shape of the layer's weights; returns (dw, overflow events)."""
    if layer.kind == "conv":
        return conv2d_weight_grad(x, dy, layer.kernel, layer.padding, layer.stride, engine)
    a, b, bounds = engine.prepare(x.reshape(x.shape[0], -1), dy, x.shape[0])
    return engine(a.T, b, bounds)


def weight_shape(layer: LayerSpec, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Weight tensor shape: (k, k, C_in, C_out) for conv, (fan_in, out) for fc."""
    if layer.kind == "conv":
        return (layer.kernel, layer.kernel, in_shape[-1], layer.out_channels)
    return (int(np.prod(in_shape)), layer.out_features)


def fan_in(layer: LayerSpec, in_shape: tuple[int, ...]) -> int:
    """Inputs summed per output: k²·C_in for conv, the flattened input size for fc."""
    return int(np.prod(weight_shape(layer, in_shape)[:-1]))
