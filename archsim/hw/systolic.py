"""Cycle counts of one tile (fold) on an R×C systolic array, in closed form, per dataflow.

A tile is a GEMM C[M×N] = A[M×K]·B[K×N] that fits the array in its two spatial
dimensions. The three dataflows map it as SCALE-Sim does:

* ``os`` (output stationary): rows = M, cols = N, streamed T = K; PE(i,j) keeps C[i][j].
* ``ws`` (weight stationary):  rows = K, cols = N, streamed T = M; PE(i,j) keeps B[i][j].
* ``is`` (input stationary):   rows = K, cols = M, streamed T = N; PE(i,j) keeps A[j][i].

Two counting conventions:

* ``archsim`` — what the cycle-level model in :mod:`archsim.hw.functional` does, counting
  only the rows/columns the tile uses: operands enter at the array edges skewed by one
  cycle per row/column and move one PE per cycle. OS: the last MAC happens at cycle
  (K-1)+(rows-1)+(cols-1), so K + rows + cols - 2 cycles. WS/IS: a preload of ``rows``
  cycles puts the stationary operand in place, then outputs leave the last used row of
  column c at cycle preload + t + (rows-1) + c: rows + T + rows + cols - 2 cycles.
* ``scalesim`` — SCALE-Sim 3.0's per-fold count, which charges the whole array (R, C)
  for fill and skew whatever the tile uses: OS R + C + T - 2, WS/IS 2R + C + T - 2.

Both agree on a tile that fills the array. The SimPy model (later) overlaps the next
tile's preload with the current tile's streaming where the stationary buffers are
double-buffered; this module only times one tile in isolation.
"""
from __future__ import annotations

from dataclasses import dataclass

DATAFLOWS = ("os", "ws", "is")
CONVENTIONS = ("archsim", "scalesim")


@dataclass(frozen=True)
class TileMapping:
    """A GEMM tile mapped on the array: rows and columns used, and the streamed length T."""

    dataflow: str
    rows: int
    cols: int
    stream: int


def map_tile(dataflow: str, m: int, n: int, k: int) -> TileMapping:
    """Spatial rows/cols and temporal length of an M×N×K tile under a dataflow."""
    if dataflow == "os":
        return TileMapping("os", m, n, k)
    if dataflow == "ws":
        return TileMapping("ws", k, n, m)
    if dataflow == "is":
        return TileMapping("is", k, m, n)
    raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {dataflow!r}")


def unmap_tile(dataflow: str, rows: int, cols: int, stream: int) -> tuple[int, int, int]:
    """(M, N, K) of a tile given its mapped rows, cols and streamed length (inverse of :func:`map_tile`)."""
    return {"os": (rows, cols, stream), "ws": (stream, cols, rows), "is": (cols, stream, rows)}[dataflow]


def tile_cycles(dataflow: str, m: int, n: int, k: int, array_rows: int, array_cols: int,
                convention: str = "archsim") -> int:
    """Cycles of one M×N×K tile on an array_rows×array_cols array (the tile must fit spatially)."""
    t = map_tile(dataflow, m, n, k)
    if not (1 <= t.rows <= array_rows and 1 <= t.cols <= array_cols and t.stream >= 1):
        raise ValueError(f"tile {m}x{n}x{k} ({dataflow}) needs {t.rows}x{t.cols} PEs; array is "
                         f"{array_rows}x{array_cols}")
    if convention == "scalesim":
        rows, cols = array_rows, array_cols
        return rows + cols + t.stream - 2 if dataflow == "os" else 2 * rows + cols + t.stream - 2
    if convention != "archsim":
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if dataflow == "os":
        return t.stream + t.rows + t.cols - 2
    return 2 * t.rows + t.cols + t.stream - 2


def folds(dataflow: str, m: int, n: int, k: int, array_rows: int, array_cols: int) -> int:
    """Number of tiles (folds) a whole GEMM needs: ⌈rows/R⌉·⌈cols/C⌉ of its mapping."""
    t = map_tile(dataflow, m, n, k)
    return -(-t.rows // array_rows) * -(-t.cols // array_cols)


def scalesim_gemm_cycles(dataflow: str, m: int, n: int, k: int, array_rows: int, array_cols: int) -> int:
    """SCALE-Sim 3.0's reported "Total Cycles" of a whole GEMM without stalls: folds·per-fold − 1."""
    t = map_tile(dataflow, m, n, k)
    fill = array_rows if dataflow == "os" else 2 * array_rows
    per_fold = fill + array_cols + t.stream - 2
    return folds(dataflow, m, n, k, array_rows, array_cols) * per_fold - 1
