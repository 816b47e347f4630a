"""NITRO-D's element-wise layers and update rule, in exact integers and in a float32 mirror.

Facts from the authors' public code (see docs/nitro-d.md):
* NITRO-Scaling y = clip(trunc(x / SF), -127, 127), SF = 256·fan_in; backward is the identity;
* NITRO-ReLU y = clip(x, 0, 127) + trunc(clip(x, -127, 0) / slope_inv) - mean; backward passes δ for
  0 <= x < 127, trunc(δ / slope_inv) for -127 <= x < 0 and 0 elsewhere;
* IntegerSGD ΔW = trunc(G / (lr_inv·AF)) + trunc(W / η_inv), W ← W - ΔW;
* integer Kaiming bound b = min(64, ⌊1372·128·1732 / (isqrt(fan_in)·10^6)⌋).
The integer arithmetic follows the numeric spec (rounding of the constant divisions,
k_e-bit head errors, k_w-bit weight storage); :class:`FloatArith` runs the same graph in
float32 with exact division and no wrap, the baseline that isolates integer effects.
"""
from __future__ import annotations

import math

import numpy as np

from ..config import NumericSpec
from ..numerics import Accumulator, ExactGemm, Float32Gemm, divide, saturate, saturate_bits, wrap_bits

ACT_LIMIT = 127
KAIMING_GAIN_X1000 = 1372  # leaky ReLU, slope 1/4


def kaiming_bound(fan_in: int) -> int:
    """The integer initial-weight bound for a layer of this fan-in."""
    return min(64, (KAIMING_GAIN_X1000 * 128 * 1732) // (math.isqrt(fan_in) * 10 ** 6))


def dropout_multiplier(rate: float) -> int:
    """R = ⌊1000 / (1 - p)⌋ of integer dropout (kept activations become trunc(x·R/1000))."""
    return (1000 * 1000) // (1000 - round(rate * 1000))


class IntArith:
    """Exact integer NITRO-D arithmetic under a numeric spec; counts every saturation and wrap."""

    kind = "int"

    def __init__(self, num: NumericSpec, slope_inv: int, relu_mean: int) -> None:
        self.num, self.slope_inv, self.relu_mean = num, slope_inv, relu_mean
        self.engine = ExactGemm(Accumulator(num.accumulator_bits, num.overflow))
        self.act_dtype = np.int8

    def weights(self, w: np.ndarray) -> np.ndarray:
        return w.astype(np.int32)

    def scale(self, z: np.ndarray, sf: int) -> tuple[np.ndarray, int]:
        y, n = saturate(divide(z, sf, self.num.rounding), -ACT_LIMIT, ACT_LIMIT)
        return y.astype(np.int8), n

    def relu(self, s: np.ndarray) -> np.ndarray:
        s = s.astype(np.int16)
        neg = divide(np.minimum(s, 0), self.slope_inv, self.num.rounding)
        return (np.maximum(s, 0) + neg - self.relu_mean).astype(np.int8)

    def relu_backward(self, delta: np.ndarray, s: np.ndarray) -> np.ndarray:
        neg = divide(delta, self.slope_inv, self.num.rounding)
        return np.where((s >= 0) & (s < ACT_LIMIT), delta, np.where(s < 0, neg, 0))

    def error(self, y_hat: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, int]:
        """δ = ŷ - y held in k_e bits (wraps like the reference's int8, or saturates), with the event count."""
        d = y_hat.astype(np.int64) - target
        return wrap_bits(d, self.num.k_e) if self.num.overflow == "wrap" else saturate_bits(d, self.num.k_e)

    def update(self, w: np.ndarray, g: np.ndarray, denom: int, eta_inv: int) -> tuple[np.ndarray, int]:
        delta = divide(g, denom, self.num.rounding) + divide(w, eta_inv, self.num.rounding)
        w_new, n = saturate_bits(w.astype(np.int64) - delta, self.num.k_w)
        return w_new.astype(np.int32), n

    def dropout(self, a: np.ndarray, keep: np.ndarray, multiplier: int) -> np.ndarray:
        return np.where(keep, divide(a.astype(np.int64) * multiplier, 1000, self.num.rounding), 0).astype(np.int16)


class FloatArith:
    """The same graph in float32: true division, no rounding, no wrap (the float mirror baseline)."""

    kind = "fp32"

    def __init__(self, num: NumericSpec, slope_inv: int, relu_mean: int) -> None:
        self.slope_inv, self.relu_mean = np.float32(slope_inv), np.float32(relu_mean)
        self.engine = Float32Gemm()
        self.act_dtype = np.float32

    def weights(self, w: np.ndarray) -> np.ndarray:
        return w.astype(np.float32)

    def scale(self, z: np.ndarray, sf: int) -> tuple[np.ndarray, int]:
        return np.clip(z / np.float32(sf), -ACT_LIMIT, ACT_LIMIT).astype(np.float32), 0

    def relu(self, s: np.ndarray) -> np.ndarray:
        return np.maximum(s, 0) + np.minimum(s, 0) / self.slope_inv - self.relu_mean

    def relu_backward(self, delta: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.where((s >= 0) & (s < ACT_LIMIT), delta, np.where(s < 0, delta / self.slope_inv, 0))

    def error(self, y_hat: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, int]:
        return (y_hat - target).astype(np.float32), 0

    def update(self, w: np.ndarray, g: np.ndarray, denom: int, eta_inv: int) -> tuple[np.ndarray, int]:
        return (w - (g / np.float32(denom) + w / np.float32(eta_inv))).astype(np.float32), 0

    def dropout(self, a: np.ndarray, keep: np.ndarray, multiplier: int) -> np.ndarray:
        return np.where(keep, a * np.float32(multiplier / 1000), 0).astype(np.float32)


def divide_per_channel(x: np.ndarray, divisors: np.ndarray, mode: str) -> np.ndarray:
    """x / d[c] for per-channel positive integer divisors (last axis), exactly rounded."""
    out = np.empty(x.shape, dtype=np.int64)
    for c, d in enumerate(np.asarray(divisors).ravel()):
        out[..., c] = divide(x[..., c], int(d), mode)
    return out
