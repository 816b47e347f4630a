"""Exact integer GEMM through float BLAS where a proven bound keeps it exact.

A float GEMM of integer operands is exact, in any summation order and with FMA, when
every partial sum stays within the float's integer range: Σ_k |a_ik|·|b_kj| ≤ 2^24
(float32) or ≤ 2^53 (float64). We check the sufficient bound K·max|A|·max|B| and pick:

* ``f32``          one float32 GEMM (bound ≤ 2^24);
* ``f32_chunked``  K split into chunks that each satisfy the f32 bound, chunk results
                   summed in float64 (exact because the whole sum is ≤ 2^53);
* ``f64``          one float64 GEMM (bound ≤ 2^53, chunks would be too thin);
* ``int64``        numpy's integer matmul (slow, exact while the bound is < 2^63).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import NumericsError

F32_EXACT_BOUND = 1 << 24
F64_EXACT_BOUND = 1 << 53
INT64_EXACT_BOUND = (1 << 63) - 1
MIN_F32_CHUNK_K = 64
"""Below this chunk length a single float64 GEMM is faster than many thin float32 ones."""


@dataclass(frozen=True)
class GemmPlan:
    """How an integer GEMM will be computed: the path and the K chunk length."""

    path: str
    chunk_k: int
    bound: int = INT64_EXACT_BOUND
    """K·max|A|·max|B|: no partial or final sum can be larger in magnitude."""


def plan_gemm(k: int, max_abs_a: int, max_abs_b: int) -> GemmPlan:
    """Choose the fastest exact path for a GEMM of inner size ``k`` and these operand magnitudes."""
    per_term = int(max_abs_a) * int(max_abs_b)
    bound = int(k) * per_term
    if bound <= F32_EXACT_BOUND:
        return GemmPlan("f32", max(int(k), 1), bound)
    if bound <= F64_EXACT_BOUND:
        chunk = F32_EXACT_BOUND // per_term
        if chunk >= MIN_F32_CHUNK_K:
            return GemmPlan("f32_chunked", chunk, bound)
        return GemmPlan("f64", int(k), bound)
    if bound <= INT64_EXACT_BOUND:
        return GemmPlan("int64", int(k), bound)
    raise NumericsError(
        f"integer GEMM with K={k}, max|A|={max_abs_a}, max|B|={max_abs_b} can exceed 64-bit "
        "partial sums; narrow the operands"
    )


def max_abs(x: np.ndarray) -> int:
    """max|x| as a Python int (0 for an empty array)."""
    if x.size == 0:
        return 0
    return int(max(abs(int(x.max())), abs(int(x.min()))))


def operand_dtype(plan: GemmPlan) -> type:
    """The dtype operands should be cast to (once, before im2col) for ``plan``."""
    return {"f32": np.float32, "f32_chunked": np.float32, "f64": np.float64}.get(plan.path, np.int64)


def _as_float(x: np.ndarray, dtype: type) -> np.ndarray:
    return x if x.dtype == dtype else x.astype(dtype)


INT32_MAX = (1 << 31) - 1


def matmul_exact(a: np.ndarray, b: np.ndarray, plan: GemmPlan | None = None) -> np.ndarray:
    """Exact product of integer-valued matrices a (M,K) and b (K,N), as int32 or int64.

    ``a`` and ``b`` may be integer arrays or floats that hold integers (e.g. pre-cast
    weights). ``plan`` overrides the automatic choice (tests use this to force paths).
    The result is int32 when the plan's bound proves every output fits (less memory
    traffic downstream), int64 otherwise.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise NumericsError(f"GEMM shapes do not chain: {a.shape} x {b.shape}")
    k = a.shape[1]
    if plan is None:
        plan = plan_gemm(k, max_abs(a), max_abs(b))
    out_dtype = np.int32 if plan.bound <= INT32_MAX else np.int64
    if plan.path == "f32":
        out = _as_float(a, np.float32) @ _as_float(b, np.float32)
        return out.astype(out_dtype)
    if plan.path == "f64":
        return (_as_float(a, np.float64) @ _as_float(b, np.float64)).astype(out_dtype)
    if plan.path == "f32_chunked":
        acc = np.zeros((a.shape[0], b.shape[1]), dtype=np.float64)
        a32 = _as_float(a, np.float32)
        b32 = _as_float(b, np.float32)
        part = np.empty_like(acc, dtype=np.float32)
        for k0 in range(0, k, plan.chunk_k):
            np.matmul(a32[:, k0:k0 + plan.chunk_k], b32[k0:k0 + plan.chunk_k], out=part)
            acc += part
        return acc.astype(out_dtype)
    if plan.path == "int64":
        return np.asarray(a, dtype=np.int64) @ np.asarray(b, dtype=np.int64)
    raise NumericsError(f"unknown GEMM path {plan.path!r}")
