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

Both agree on a tile that fills the array.

A tile's ``archsim`` count splits into three phases (:func:`tile_phases`): preload of
the stationary operand (WS/IS: ``rows``; OS: 0), streaming (T) and fill/drain skew
(``rows + cols - 2``). With double-buffered stationary registers, which archsim assumes
by default, consecutive tiles overlap: the next tile's preload runs in the shadow
registers while the current tile streams, and the current tile's drain overlaps the next
tile's stream. :func:`pipelined_cycles` gives the resulting count for back-to-back tiles;
SCALE-Sim runs folds strictly one after the other.
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


def tile_phases(dataflow: str, m: int, n: int, k: int, new_stationary: bool = True) -> tuple[int, int, int]:
    """(preload, stream, drain) cycles of a tile under the ``archsim`` count; their sum is
    :func:`tile_cycles` when the stationary operand is loaded (``new_stationary``)."""
    t = map_tile(dataflow, m, n, k)
    preload = t.rows if dataflow != "os" and new_stationary else 0
    return preload, t.stream, t.rows + t.cols - 2


def pipelined_cycles(dataflow: str, tiles: list[tuple[int, int, int, bool]]) -> int:
    """Cycles of back-to-back tiles ``(m, n, k, new_stationary)`` on double-buffered stationary
    registers with no data stalls: tile i+1's preload starts when tile i starts streaming, its
    stream starts when both that preload and tile i's stream are done; the last drain is exposed."""
    stream_start = stream_end = 0
    drain = 0
    for i, (m, n, k, new) in enumerate(tiles):
        preload, stream, drain = tile_phases(dataflow, m, n, k, new)
        stream_start = max(stream_end, (stream_start if i else 0) + preload)
        stream_end = stream_start + stream
    return stream_end + drain


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
