"""Tiling: split each GEMM/conv op of a trace into tiles that fit the array and the SRAM banks.

Spatially a tile covers at most R rows and C columns of the dataflow's mapping; along
the streamed dimension it is cut into chunks so that every bank holds two copies of its
operand's tile (double buffering). Loop order: spatial folds outer (the stationary
operand changes), stream chunks inner (the stationary tile is reused across them).
A tile fetches from DRAM only the distinct elements of its operands (convolutions are
expanded on chip), and nothing of an operand that stays resident in its bank and was
fetched by an earlier fold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.hardware import HardwareSpec
from ..trace import Op
from .systolic import map_tile, unmap_tile


class MapError(ValueError):
    """An op cannot be tiled onto this hardware (message is user-facing)."""


@dataclass(frozen=True)
class Tile:
    """One tile: extents in the dataflow's mapping and the bytes each operand moves."""

    rows: int
    cols: int
    stream: int
    m: int
    n: int
    k: int
    input_bytes: int
    weight_bytes: int
    output_bytes: int
    new_stationary: bool
    first_partial: bool
    last_partial: bool
    input_fetch_bytes: int   # what the tile brings over DRAM: its share of the distinct elements
    weight_fetch_bytes: int


def _bytes(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


def _operand_elements(dataflow: str, rows: int, cols: int, stream: int) -> dict[str, int]:
    """Elements of input (A), weight (B) and output (C) in a tile of the given mapped extents."""
    if dataflow == "os":  # rows = M, cols = N, stream = K
        return {"input": rows * stream, "weight": stream * cols, "output": rows * cols}
    if dataflow == "ws":  # rows = K, cols = N, stream = M
        return {"input": stream * rows, "weight": rows * cols, "output": stream * cols}
    return {"input": rows * cols, "weight": stream * rows, "output": stream * cols}  # is: rows = K, cols = M, stream = N


#: Which slice of (input, weight) a tile at fold (r0, c0) and stream offset s0 uses, per dataflow:
#: two tiles with the same key need the same operand elements.
SLICE_KEYS = {"os": lambda r0, c0, s0: ((r0, s0), (c0, s0)),
              "ws": lambda r0, c0, s0: ((r0, s0), (r0, c0)),
              "is": lambda r0, c0, s0: ((r0, c0), (r0, s0))}


def _resident_operands(op: Op, hw: HardwareSpec) -> dict[str, bool]:
    """Operands whose whole tensor fits in half its bank (with whatever shares the bank): they
    are fetched from DRAM once per op and reused from SRAM by later folds."""
    tensor_bytes = {"input": op.reads[0].size_bits // 8, "weight": op.reads[1].size_bits // 8}
    out = {}
    for operand in tensor_bytes:
        bank = hw.bank_for(operand).name
        together = sum(b for o, b in tensor_bytes.items() if hw.bank_for(o).name == bank)
        out[operand] = together <= hw.bank_for(operand).capacity_bytes // 2
    return out


def _grid(op: Op, hw: HardwareSpec):
    """The op's mapping on the array, the stream chunk that fits every bank, and operand bits."""
    p = op.params
    df = hw.array.dataflow
    bits = {"input": op.reads[0].bits, "weight": op.reads[1].bits, "output": p["acc_bits"]}
    t = map_tile(df, p["m"], p["n"], p["k"])
    r_t, c_t = min(t.rows, hw.array.rows), min(t.cols, hw.array.cols)
    per_unit = _operand_elements(df, r_t, c_t, 1)
    fixed = _operand_elements(df, r_t, c_t, 0)
    chunk = t.stream
    for operand in ("input", "weight", "output"):
        bank = hw.bank_for(operand)
        half = bank.capacity_bytes // 2
        need_fixed = _bytes(fixed[operand], bits[operand])
        grow = per_unit[operand] - fixed[operand]
        if need_fixed + (_bytes(grow, bits[operand]) if grow else 0) > half:
            raise MapError(f"{op.name}: bank '{bank.name}' ({bank.kbytes} KiB, double-buffered) cannot hold one "
                           f"minimal {operand} tile of {r_t}x{c_t}x1 at {bits[operand]} bits "
                           f"({2 * (need_fixed + _bytes(grow, bits[operand]))} bytes needed)")
        if grow:
            chunk = min(chunk, max(1, (half - need_fixed) * 8 // (grow * bits[operand])))
    return t, chunk, bits


def count_tiles(op: Op, hw: HardwareSpec) -> int:
    """How many tiles :func:`tile_op` makes of ``op``, without making them (a work estimate)."""
    t, chunk, _ = _grid(op, hw)
    return -(-t.rows // hw.array.rows) * -(-t.cols // hw.array.cols) * -(-t.stream // chunk)


def tile_op(op: Op, hw: HardwareSpec) -> list[Tile]:
    """The tiles of a gemm/conv2d op, in execution order."""
    p = op.params
    df = hw.array.dataflow
    t, chunk, bits = _grid(op, hw)
    # a convolution's operand is im2col-expanded for the array, but only its distinct elements
    # (the trace's tensor sizes) cross DRAM; an address generator expands them on the way in
    expand_in = max(1.0, p["m"] * p["k"] / max(op.reads[0].elements, 1))
    expand_w = max(1.0, p["k"] * p["n"] / max(op.reads[1].elements, 1))
    resident = _resident_operands(op, hw)
    slice_of = SLICE_KEYS[df]
    seen: dict[str, set] = {"input": set(), "weight": set()}
    tiles = []
    for r0 in range(0, t.rows, hw.array.rows):
        rows = min(hw.array.rows, t.rows - r0)
        for c0 in range(0, t.cols, hw.array.cols):
            cols = min(hw.array.cols, t.cols - c0)
            for s0 in range(0, t.stream, chunk):
                s = min(chunk, t.stream - s0)
                e = _operand_elements(df, rows, cols, s)
                m, n, k = unmap_tile(df, rows, cols, s)
                if df == "os":  # the reduction (K) is the stream
                    first, last = s0 == 0, s0 + s == t.stream
                else:  # the reduction (K) runs over the row folds
                    first, last = r0 == 0, r0 + rows == t.rows
                in_bytes, w_bytes = _bytes(e["input"], bits["input"]), _bytes(e["weight"], bits["weight"])
                fetch = {"input": math.ceil(in_bytes / expand_in), "weight": math.ceil(w_bytes / expand_w)}
                for operand, key in zip(("input", "weight"), slice_of(r0, c0, s0)):
                    if resident[operand] and key in seen[operand]:
                        fetch[operand] = 0  # already on chip from an earlier fold
                    seen[operand].add(key)
                tiles.append(Tile(rows, cols, s, m, n, k, in_bytes, w_bytes, _bytes(e["output"], bits["output"]),
                                  s0 == 0, first, last, fetch["input"], fetch["weight"]))
    return tiles
