"""Accumulators of a declared width: wrap-around (order-free) or saturating (ordered).

A wrap-around accumulator computes the exact sum modulo 2^bits, so the result does
not depend on summation order and one exact GEMM gives it. Its overflow count is the
number of outputs whose exact sum lies outside the range (their register wrapped).

A saturating accumulator clips after every addition, so its result depends on the
order. archsim fixes the order to ascending k (the order a weight- or output-stationary
PE adds partial products). When no partial sum can leave the range
(max over outputs of Σ_k |a_ik||b_kj| ≤ 2^(bits-1)-1) the exact GEMM is the answer;
otherwise a slow exact K-loop runs. Its overflow count is the number of additions that
saturated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import NumericsError
from .gemm import matmul_exact, max_abs, plan_gemm
from .intops import check_bits, int_range, wrap_bits

OVERFLOW_MODES = ("wrap", "saturate")


@dataclass(frozen=True)
class Accumulator:
    """Width and overflow behaviour of the MAC accumulators."""

    bits: int = 32
    overflow: str = "wrap"

    def __post_init__(self) -> None:
        check_bits(self.bits, "accumulator width")
        if self.overflow not in OVERFLOW_MODES:
            raise NumericsError(f"accumulator overflow must be one of {OVERFLOW_MODES}, got {self.overflow!r}")


def saturating_matmul_reference_order(a: np.ndarray, b: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Exact saturating accumulation, k ascending; returns result and saturated-addition count."""
    lo, hi = int_range(bits)
    a64 = np.asarray(a, dtype=np.int64)
    b64 = np.asarray(b, dtype=np.int64)
    acc = np.zeros((a64.shape[0], b64.shape[1]), dtype=np.int64)
    n_saturated = 0
    for k in range(a64.shape[1]):
        acc += np.outer(a64[:, k], b64[k])
        over = (acc > hi) | (acc < lo)
        n = int(np.count_nonzero(over))
        if n:
            n_saturated += n
            np.clip(acc, lo, hi, out=acc)
    return acc, n_saturated


def accumulate_matmul(a: np.ndarray, b: np.ndarray, acc: Accumulator,
                      bounds: tuple[int, int] | None = None) -> tuple[np.ndarray, int]:
    """A (M,K) @ B (K,N) through ``acc``; returns (int64 result, overflow events).

    ``bounds`` = (max|A|, max|B|) when the caller already knows them (saves two passes).
    """
    max_a, max_b = bounds if bounds is not None else (max_abs(a), max_abs(b))
    k = a.shape[1]
    plan = plan_gemm(k, max_a, max_b)
    if acc.overflow == "wrap":
        return wrap_bits(matmul_exact(a, b, plan), acc.bits)
    lo, hi = int_range(acc.bits)
    if k * max_a * max_b <= hi:
        return matmul_exact(a, b, plan), 0
    worst = matmul_exact(np.abs(np.asarray(a, dtype=np.int64)), np.abs(np.asarray(b, dtype=np.int64)))
    if worst.size == 0 or int(worst.max()) <= hi:
        return matmul_exact(a, b), 0
    return saturating_matmul_reference_order(a, b, acc.bits)
