"""Exact integer GEMM (archsim) vs numpy's integer matmul, measured in one run.

Prints, per shape, the milliseconds of numpy's int32 and int64 matmul and of archsim's
exact path, the path chosen, and the speed ratio; every archsim result is checked equal
to numpy's exact int64 product.
Run: python benchmarks/bench_gemm.py   (BLAS threads as the environment sets them)
"""
from __future__ import annotations

import time

import numpy as np

from archsim._runtime import tune_malloc
from archsim.numerics import matmul_exact, max_abs, plan_gemm

# (label, M, K, N, max|A|, max|B|): conv-shaped GEMMs of the shipped workloads (batch 128) and squares
SHAPES = [
    ("lenet conv2 fwd  int8 x ternary", 128 * 196, 800, 64, 127, 1),
    ("lenet conv2 dW   int8 x int8", 800, 128 * 196, 64, 127, 127),
    ("lenet fc3 fwd    int8 x ternary", 128, 3136, 512, 127, 1),
    ("vgg conv4 fwd    int8 x ternary", 128 * 196, 576, 64, 127, 1),
    ("square 512       int8 x int8", 512, 512, 512, 127, 127),
    ("square 1024      int8 x int8", 1024, 1024, 1024, 127, 127),
    ("square 512       int8 x int16", 512, 512, 512, 127, 32767),
]


def best_ms(fn, reps: int) -> float:
    """Best wall time of ``reps`` calls, in ms."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> None:
    tune_malloc()
    rng = np.random.default_rng(0)
    print(f"{'shape':34s} {'M×K×N':>20s} {'np int32':>10s} {'np int64':>10s} {'archsim':>9s} "
          f"{'path':>12s} {'vs int32':>9s} {'vs int64':>9s}")
    ratios = []
    for label, m, k, n, ma, mb in SHAPES:
        a = rng.integers(-ma, ma + 1, size=(m, k)).astype(np.int8 if ma < 128 else np.int16)
        b = rng.integers(-mb, mb + 1, size=(k, n)).astype(np.int8 if mb < 128 else np.int16)
        a32, b32, a64, b64 = a.astype(np.int32), b.astype(np.int32), a.astype(np.int64), b.astype(np.int64)
        reps_np = 1 if m * k * n > 2e8 else 3
        t32 = best_ms(lambda: a32 @ b32, reps_np)
        want = a64 @ b64
        t64 = best_ms(lambda: a64 @ b64, reps_np)
        got = matmul_exact(a, b)
        assert np.array_equal(got, want), label
        t_ours = best_ms(lambda: matmul_exact(a, b), 5)
        path = plan_gemm(k, max_abs(a), max_abs(b)).path
        ratios.append(t32 / t_ours)
        print(f"{label:34s} {f'{m}×{k}×{n}':>20s} {t32:10.1f} {t64:10.1f} {t_ours:9.2f} {path:>12s} "
              f"{t32 / t_ours:8.1f}x {t64 / t_ours:8.1f}x", flush=True)
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"speed-up over numpy int32 matmul: min {min(ratios):.1f}x, geometric mean {geo:.1f}x (all results exact)")


if __name__ == "__main__":
    main()
