"""The three products of a weight layer (forward, input gradient, weight gradient) for conv and fc.

Shared by every algorithm: an integer engine makes them exact through the accumulator,
the float32 engine gives the float reference. ``geometry`` is the layer's LayerSpec.
With a :class:`Recording` each product also appends its op (GEMM view M, N, K, conv
geometry, operand bits, measured zero fractions) to the step's trace.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import LayerSpec
from ..numerics import conv2d, conv2d_input_grad, conv2d_weight_grad
from ..numerics.engine import GemmEngine
from ..trace import TraceRecorder, access


@dataclass(frozen=True)
class Recording:
    """Where and how to record a product: the recorder, the layer name, operand/result/accumulator bits."""

    recorder: TraceRecorder
    layer: str
    bits_in: int
    bits_weight: int
    bits_out: int
    acc_bits: int
    phase: str | None = None  # overrides the product's own phase (e.g. "local_head")


# operand names and which Recording widths describe them, per product
_OPERANDS = {"forward": (("x", "bits_in"), ("w", "bits_weight"), "z"),
             "input_grad": (("dz", "bits_out"), ("w", "bits_weight"), "dx"),
             "weight_grad": (("x", "bits_in"), ("dz", "bits_out"), "dw")}


def _record(rec: Recording | None, phase: str, layer: LayerSpec, a: np.ndarray, b: np.ndarray, out: np.ndarray,
            m: int, n: int, k: int, conv: dict | None) -> None:
    if rec is None:
        return
    (a_name, a_bits), (b_name, b_bits), out_name = _OPERANDS[phase]
    kind = "conv2d" if layer.kind == "conv" else "gemm"
    params = {"m": m, "n": n, "k": k, "acc_bits": rec.acc_bits, "product": phase, **(conv or {})}
    rec.recorder.record(kind, rec.layer, rec.phase or phase,
                        [access(f"{rec.layer}.{a_name}", a, getattr(rec, a_bits)),
                         access(f"{rec.layer}.{b_name}", b, getattr(rec, b_bits))],
                        [access(f"{rec.layer}.{out_name}", out, rec.acc_bits)], **params)


def _conv_geometry(layer: LayerSpec, x_shape: tuple, y_shape: tuple) -> dict:
    return {"batch": x_shape[0], "in_h": x_shape[1], "in_w": x_shape[2], "in_c": x_shape[3],
            "out_h": y_shape[1], "out_w": y_shape[2], "out_c": y_shape[3], "kernel": layer.kernel,
            "stride": layer.stride, "padding": layer.padding}


def forward_product(layer: LayerSpec, x: np.ndarray, w: np.ndarray, engine: GemmEngine,
                    rec: Recording | None = None) -> tuple[np.ndarray, int]:
    """y = x * w (conv, NHWC) or x·w (fc, input flattened); returns (y, overflow events)."""
    if layer.kind == "conv":
        y, n = conv2d(x, w, layer.padding, layer.stride, engine)
        _record(rec, "forward", layer, x, w, y, y.shape[0] * y.shape[1] * y.shape[2], y.shape[3],
                w.shape[0] * w.shape[1] * w.shape[2], _conv_geometry(layer, x.shape, y.shape))
        return y, n
    a, b, bounds = engine.prepare(x.reshape(x.shape[0], -1), w, w.shape[0])
    y, n = engine(a, b, bounds)
    _record(rec, "forward", layer, x, w, y, x.shape[0], w.shape[1], w.shape[0], None)
    return y, n


def input_grad_product(layer: LayerSpec, dy: np.ndarray, w: np.ndarray, x_shape: tuple,
                       engine: GemmEngine, rec: Recording | None = None) -> tuple[np.ndarray, int]:
    """dx for the layer's input of ``x_shape``; returns (dx, overflow events)."""
    if layer.kind == "conv":
        dx, n = conv2d_input_grad(dy, w, x_shape, layer.padding, layer.stride, engine)
        _record(rec, "input_grad", layer, dy, w, dx, x_shape[0] * x_shape[1] * x_shape[2], x_shape[3],
                w.shape[0] * w.shape[1] * w.shape[3], _conv_geometry(layer, x_shape, dy.shape))
        return dx, n
    a, b, bounds = engine.prepare(dy, w, w.shape[1])
    dx, n = engine(a, b.T, bounds)
    _record(rec, "input_grad", layer, dy, w, dx, dy.shape[0], w.shape[0], w.shape[1], None)
    return dx.reshape(x_shape), n


def weight_grad_product(layer: LayerSpec, x: np.ndarray, dy: np.ndarray, engine: GemmEngine,
                        rec: Recording | None = None) -> tuple[np.ndarray, int]:
    """dw with the shape of the layer's weights; returns (dw, overflow events)."""
    if layer.kind == "conv":
        dw, n = conv2d_weight_grad(x, dy, layer.kernel, layer.padding, layer.stride, engine)
        _record(rec, "weight_grad", layer, x, dy, dw, dw.shape[0] * dw.shape[1] * dw.shape[2], dw.shape[3],
                dy.shape[0] * dy.shape[1] * dy.shape[2], _conv_geometry(layer, x.shape, dy.shape))
        return dw, n
    a, b, bounds = engine.prepare(x.reshape(x.shape[0], -1), dy, x.shape[0])
    dw, n = engine(a.T, b, bounds)
    _record(rec, "weight_grad", layer, x, dy, dw, a.shape[1], dy.shape[1], x.shape[0], None)
    return dw, n


def weight_shape(layer: LayerSpec, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Weight tensor shape: (k, k, C_in, C_out) for conv, (fan_in, out) for fc."""
    if layer.kind == "conv":
        return (layer.kernel, layer.kernel, in_shape[-1], layer.out_channels)
    return (int(np.prod(in_shape)), layer.out_features)


def fan_in(layer: LayerSpec, in_shape: tuple[int, ...]) -> int:
    """Inputs summed per output: k²·C_in for conv, the flattened input size for fc."""
    return int(np.prod(weight_shape(layer, in_shape)[:-1]))
