"""Tiling: split each GEMM/conv op of a trace into tiles that fit the array and the SRAM banks.

Two tilings. :func:`tile_mapping` makes the tiles of a mapping the search chose
(:mod:`.mapping`): blocks walked in its loop order, each cut into array-sized folds.
:func:`tile_op` is the fixed mapping (the baseline, ``mapping: fixed``): spatially a tile
covers at most R rows and C columns of the dataflow's mapping; along the streamed dimension
it is cut into chunks so that every bank holds two copies of its operand's tile (double
buffering). Loop order: spatial folds outer (the stationary operand changes), stream chunks
inner (the stationary tile is reused across them). Either way a tile fetches from DRAM only
the distinct elements of its operands (convolutions are expanded on chip), and nothing of an
operand that stays resident in its bank and was fetched before.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import itertools

from ..config.hardware import HardwareSpec
from ..trace import Op
from .mapping import DIMS, OPERAND_DIMS, REDUCTION, STATIONARY, Mapping
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
    output_fetch_bytes: int = 0      # partial sums read back from DRAM before the tile accumulates onto them
    spill_bytes: int = 0             # partial sums of the block written to DRAM after the tile (reduction unfinished)
    result_bytes: int | None = None  # DRAM bytes of the result the tile completes (None: m·n at its width)
    unit_elements: tuple[int, ...] | None = None  # elements of each write-back op for the tile (None: m·n each)


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
                    elif operand == STATIONARY[df] and s0:
                        fetch[operand] = 0  # still in the PEs from the previous stream chunk
                    seen[operand].add(key)
                tiles.append(Tile(rows, cols, s, m, n, k, in_bytes, w_bytes, _bytes(e["output"], bits["output"]),
                                  s0 == 0, first, last, fetch["input"], fetch["weight"]))
    return tiles


def fixed_mapping(op: Op, hw: HardwareSpec) -> Mapping:
    """The fixed mapping of :func:`tile_op` in the search's terms (loop order rows > cols > stream,
    one fold per block, the greedy stream chunk, whole tensors resident when they fit half a bank)."""
    t, chunk, _ = _grid(op, hw)
    resident = tuple(o for o, yes in _resident_operands(op, hw).items() if yes)
    return Mapping(DIMS, (min(t.rows, hw.array.rows), min(t.cols, hw.array.cols), chunk), resident)


def count_mapped_tiles(op: Op, hw: HardwareSpec, mapping: Mapping) -> int:
    """How many tiles :func:`tile_mapping` makes (every fold pair once per stream block)."""
    t = map_tile(hw.array.dataflow, op.params["m"], op.params["n"], op.params["k"])
    return -(-t.rows // hw.array.rows) * -(-t.cols // hw.array.cols) * -(-t.stream // mapping.tile[2])


class _Cumulative:
    """Bytes of a stream of element counts whose total is exact: the i-th piece gets
    ⌈x_i·B/E⌉ − ⌈x_{i−1}·B/E⌉ for the running element count x (B bytes per E elements)."""

    def __init__(self, total_bytes: int, total_elements: int) -> None:
        self.b, self.e, self.x = total_bytes, max(total_elements, 1), 0

    def take(self, elements: int) -> int:
        before = -(-self.x * self.b // self.e)
        self.x += elements
        return -(-self.x * self.b // self.e) - before


def block_share(elements: int, total_bytes: int, total_elements: int) -> int:
    """Bytes of a block of ``elements`` out of a tensor of ``total_bytes`` spread over
    ``total_elements`` (im2col-expanded) elements, rounded up per block: identical blocks move
    identical bytes, so the tile sequence repeats with the blocks."""
    return -(-elements * total_bytes // max(total_elements, 1))


def tile_mapping(op: Op, hw: HardwareSpec, mapping: Mapping, result_bytes: int,
                 fused_elements: tuple[int, ...] = ()) -> list[Tile]:
    """The tiles of a gemm/conv2d op under a searched ``mapping``, in execution order: the block
    loops of ``mapping.order``, and inside a block its row folds, then its column folds, each
    streaming the block's whole stream. A block's operands are fetched with its first tile when
    the walk arrives at a block of them it has not got (a resident operand: the first time only);
    an output block left before its reduction ends spills its partial sums and reads them back
    on the next visit. Each block moves its share of an operand's bytes rounded up
    (:func:`block_share`), which :func:`.mapping.features` counts in closed form.
    ``result_bytes``: what leaves for the whole result (at the width it leaves with, after any
    pooling on the way out) and ``fused_elements``: the elements each op on the write-back
    handles, both shared out per output block (rounded up) and within it over its tiles."""
    p = op.params
    df = hw.array.dataflow
    t = map_tile(df, p["m"], p["n"], p["k"])
    ext = {"rows": t.rows, "cols": t.cols, "stream": t.stream}
    tile = dict(zip(DIMS, mapping.tile))
    unit = {"rows": hw.array.rows, "cols": hw.array.cols}
    a, w = op.reads[0], op.reads[1]
    bits = {"input": a.bits, "weight": w.bits, "output": p["acc_bits"]}
    dims, red, stationary = OPERAND_DIMS[df], REDUCTION[df], STATIONARY[df]
    whole = {o: math.prod(ext[d] for d in dims[o]) for o in ("input", "weight", "output")}
    total = {"input": _bytes(a.elements, a.bits), "weight": _bytes(w.elements, w.bits)}
    results = p["m"] * p["n"]
    blocks = {d: -(-ext[d] // tile[d]) for d in DIMS}
    row_folds = -(-ext["rows"] // unit["rows"])
    loaded: dict[str, tuple | None] = {"input": None, "weight": None}
    seen: dict[str, set] = {"input": set(), "weight": set()}
    out_key: tuple | None = None
    started: set = set()        # output blocks with partial sums in DRAM
    finished = False            # the current output block's reduction is done
    previous_fold = None
    tiles: list[Tile] = []
    for index in itertools.product(*(range(blocks[d]) for d in mapping.order)):
        b = dict(zip(mapping.order, index))
        lo = {d: b[d] * tile[d] for d in DIMS}
        length = {d: min(tile[d], ext[d] - lo[d]) for d in DIMS}
        fetch = {}
        for operand in ("input", "weight"):
            key = tuple(b[d] for d in dims[operand])
            need = key not in seen[operand] if operand in mapping.resident else key != loaded[operand]
            elements = math.prod(length[d] for d in dims[operand])
            fetch[operand] = block_share(elements, total[operand], whole[operand]) if need else 0
            loaded[operand] = key
            seen[operand].add(key)
        key = tuple(b[d] for d in dims["output"])
        out_elements = math.prod(length[d] for d in dims["output"])
        refetch = 0
        if key != out_key:
            if out_key is not None and not finished:  # leave the block: its partial sums go to DRAM
                tiles[-1] = replace(tiles[-1], spill_bytes=_bytes(previous_out_elements, bits["output"]))
                started.add(out_key)
            if key in started:
                refetch = _bytes(out_elements, bits["output"])
            out_key, previous_out_elements = key, out_elements
        finished = b[red] == blocks[red] - 1
        if finished:  # the result of this block leaves with its last partial sums
            result_share = _Cumulative(block_share(out_elements, result_bytes, results), out_elements)
            unit_shares = [_Cumulative(block_share(out_elements, e, results), out_elements) for e in fused_elements]
        first_tile = True
        for r0 in range(lo["rows"], lo["rows"] + length["rows"], unit["rows"]):
            rows = min(unit["rows"], lo["rows"] + length["rows"] - r0)
            for c0 in range(lo["cols"], lo["cols"] + length["cols"], unit["cols"]):
                cols = min(unit["cols"], lo["cols"] + length["cols"] - c0)
                s = length["stream"]
                e = _operand_elements(df, rows, cols, s)
                m, n, k = unmap_tile(df, rows, cols, s)
                fold = (r0, c0)
                if red == "stream":
                    first, last = b["stream"] == 0, b["stream"] == blocks["stream"] - 1
                else:
                    first, last = r0 == 0, r0 // unit["rows"] == row_folds - 1
                tiles.append(Tile(rows, cols, s, m, n, k, _bytes(e["input"], bits["input"]),
                                  _bytes(e["weight"], bits["weight"]), _bytes(e["output"], bits["output"]),
                                  fold != previous_fold or stationary == "output" and first, first, last,
                                  fetch["input"] if first_tile else 0, fetch["weight"] if first_tile else 0,
                                  output_fetch_bytes=refetch if first_tile else 0,
                                  result_bytes=result_share.take(m * n) if last else None,
                                  unit_elements=tuple(u.take(m * n) for u in unit_shares) if last else None))
                previous_fold = fold
                first_tile = False
    return tiles
