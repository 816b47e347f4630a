"""A cycle-by-cycle functional model of a small systolic array, the check on the closed forms.

Values move one PE per cycle; every PE multiplies what it holds and adds. The model
computes a GEMM tile bit-exactly (int64) and reports the cycle in which the last result
is complete, so tests can require both the product and the cycle count of
:func:`archsim.hw.systolic.tile_cycles` (convention ``archsim``) to match. It is slow by
design (one numpy step per cycle) and meant for arrays up to about 16×16.
"""
from __future__ import annotations

import numpy as np

from .systolic import map_tile


def _output_stationary(a: np.ndarray, b: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int]:
    """A rows enter from the left, B columns from the top, both skewed; PE(i,j) accumulates C[i][j]."""
    m, k = a.shape
    n = b.shape[1]
    a_val = np.zeros((rows, cols), dtype=np.int64)
    a_k = np.full((rows, cols), -1)
    b_val = np.zeros((rows, cols), dtype=np.int64)
    b_k = np.full((rows, cols), -1)
    acc = np.zeros((rows, cols), dtype=np.int64)
    last = -1
    for cycle in range(k + rows + cols):
        a_val[:, 1:], a_k[:, 1:] = a_val[:, :-1].copy(), a_k[:, :-1].copy()
        b_val[1:, :], b_k[1:, :] = b_val[:-1, :].copy(), b_k[:-1, :].copy()
        for i in range(rows):
            kk = cycle - i
            ok = i < m and 0 <= kk < k
            a_val[i, 0], a_k[i, 0] = (a[i, kk], kk) if ok else (0, -1)
        for j in range(cols):
            kk = cycle - j
            ok = j < n and 0 <= kk < k
            b_val[0, j], b_k[0, j] = (b[kk, j], kk) if ok else (0, -1)
        meet = (a_k >= 0) & (a_k == b_k)
        if meet.any():
            acc += np.where(meet, a_val * b_val, 0)
            last = cycle
    return acc[:m, :n], last + 1


def _stationary(stationary: np.ndarray, streamed: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int]:
    """S (K×cols) preloaded top-down, X (T×K) streamed from the left; psums flow down.

    Returns out[t][j] = Σ_i X[t][i]·S[i][j] and the cycle count including the preload.
    """
    k, used_cols = stationary.shape
    t_len = streamed.shape[0]
    held = np.zeros((rows, cols), dtype=np.int64)
    for p in range(k):  # preload: one row enters at the top per cycle, everything shifts down
        held[1:, :] = held[:-1, :].copy()
        held[0, :] = 0
        held[0, :used_cols] = stationary[k - 1 - p]
    preload = k
    x_val = np.zeros((rows, cols), dtype=np.int64)
    x_t = np.full((rows, cols), -1)
    psum = np.zeros((rows, cols), dtype=np.int64)
    psum_t = np.full((rows, cols), -1)
    out = np.zeros((t_len, used_cols), dtype=np.int64)
    last = -1
    for cycle in range(t_len + k + cols + rows):
        x_val[:, 1:], x_t[:, 1:] = x_val[:, :-1].copy(), x_t[:, :-1].copy()
        for i in range(rows):
            tt = cycle - i
            ok = i < k and 0 <= tt < t_len
            x_val[i, 0], x_t[i, 0] = (streamed[tt, i], tt) if ok else (0, -1)
        prod = np.where(x_t >= 0, x_val * held, 0)
        new_psum = np.zeros_like(psum)
        new_t = np.full_like(psum_t, -1)
        new_psum[0] = prod[0]
        new_t[0] = x_t[0]
        new_psum[1:] = psum[:-1] + prod[1:]
        new_t[1:] = np.where(x_t[1:] >= 0, x_t[1:], psum_t[:-1])
        psum, psum_t = new_psum, new_t
        done = psum_t[k - 1, :used_cols]  # results leave the last used row
        for j in np.nonzero(done >= 0)[0]:
            out[done[j], j] = psum[k - 1, j]
            last = cycle
    return out, preload + last + 1


def simulate_tile(dataflow: str, a: np.ndarray, b: np.ndarray, array_rows: int, array_cols: int) -> tuple[np.ndarray, int]:
    """C = A·B on the array under ``dataflow``, cycle by cycle; returns (C as int64, cycles)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    m, k = a.shape
    n = b.shape[1]
    t = map_tile(dataflow, m, n, k)
    if t.rows > array_rows or t.cols > array_cols:
        raise ValueError(f"tile needs {t.rows}x{t.cols} PEs, array is {array_rows}x{array_cols}")
    if dataflow == "os":
        return _output_stationary(a, b, array_rows, array_cols)
    if dataflow == "ws":
        return _stationary(b, a, array_rows, array_cols)
    out, cycles = _stationary(a.T, b.T, array_rows, array_cols)
    return out.T, cycles
