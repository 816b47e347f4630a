"""GEMM engines that layer code calls: exact integers through an accumulator, or plain float32.

Both offer the same four calls so convolutions and layers are written once:
``prepare`` casts operands once (before im2col copies them), ``__call__`` is a whole
GEMM with accumulator semantics, and ``product`` + ``finish`` let a caller split K into
pieces (e.g. batch chunks of a weight gradient), add the exact partial products and
apply the accumulator once — valid whenever ``splittable`` says the order cannot matter.
"""
from __future__ import annotations

import numpy as np

from .accumulator import Accumulator, accumulate_matmul
from .gemm import matmul_exact, max_abs, operand_dtype, plan_gemm
from .intops import int_range, wrap_bits


class ExactGemm:
    """Integer GEMM engine: exact products through an :class:`Accumulator`."""

    def __init__(self, acc: Accumulator) -> None:
        self.acc = acc

    def prepare(self, x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Cast both tensors to the dtype the exact plan for inner size ``k`` needs; returns bounds too."""
        bounds = (max_abs(x), max_abs(y))
        dtype = operand_dtype(plan_gemm(k, *bounds))
        return x.astype(dtype, copy=False), y.astype(dtype, copy=False), bounds

    def __call__(self, a: np.ndarray, b: np.ndarray, bounds: tuple[int, int]) -> tuple[np.ndarray, int]:
        return accumulate_matmul(a, b, self.acc, bounds)

    def splittable(self, k: int, bounds: tuple[int, int]) -> bool:
        """Whether K may be split and the partial sums added: always for wrap, for saturate only if nothing can saturate."""
        return self.acc.overflow == "wrap" or k * bounds[0] * bounds[1] <= int_range(self.acc.bits)[1]

    def product(self, a: np.ndarray, b: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
        """The exact product as int64, no accumulator semantics yet."""
        return matmul_exact(a, b, plan_gemm(a.shape[1], *bounds)).astype(np.int64, copy=False)

    def finish(self, exact_sum: np.ndarray) -> tuple[np.ndarray, int]:
        """Apply the accumulator to an exact sum (only valid when :meth:`splittable`)."""
        if self.acc.overflow == "wrap":
            return wrap_bits(exact_sum, self.acc.bits)
        return exact_sum, 0


class Float32Gemm:
    """Plain float32 GEMM engine, for the float reference training mode (no exactness claim)."""

    def prepare(self, x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, None]:
        """Cast both tensors to float32."""
        return x.astype(np.float32, copy=False), y.astype(np.float32, copy=False), None

    def __call__(self, a: np.ndarray, b: np.ndarray, bounds: None) -> tuple[np.ndarray, int]:
        return a @ b, 0

    def splittable(self, k: int, bounds: None) -> bool:
        """Float sums may always be split."""
        return True

    def product(self, a: np.ndarray, b: np.ndarray, bounds: None) -> np.ndarray:
        """The float32 product."""
        return a @ b

    def finish(self, total: np.ndarray) -> tuple[np.ndarray, int]:
        """Nothing to apply."""
        return total, 0


GemmEngine = ExactGemm | Float32Gemm


def as_engine(acc: Accumulator | GemmEngine) -> GemmEngine:
    """An engine for an accumulator (exact integers) or the engine itself."""
    return ExactGemm(acc) if isinstance(acc, Accumulator) else acc
