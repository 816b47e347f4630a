"""An op's tiles as runs: nested repetitions of identical tile sequences, never one object per tile.

The tiles of an op come from three nested loops (over blocks, or over folds and stream chunks
under the fixed mapping). What a tile is and moves depends on where its loop indices stand —
first, last or in between — and on which loop advanced from the previous block and which
advances to the next one; nothing else. So every middle iteration of a loop is the same
sequence, and the whole op is a small tree (:class:`Run`): a body of tiles and sub-runs,
repeated ``count`` times. :func:`mapping_runs` and :func:`fixed_runs` build it with a few
dozen blocks' work, whatever the op's size; expanded, it is exactly the list that
:func:`.mapper.tile_mapping` and :func:`.mapper.tile_op` make (a property test checks this).

The simulator reads tiles by index (:meth:`Run.tile`) and asks which repetitions an index sits
in (:meth:`Run.spans`): within a span the sequence repeats with the span's period, which is what
lets it advance a settled pipeline by whole periods (:mod:`.pipeline`).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import Callable, Union

from ..config.hardware import HardwareSpec
from ..trace import Op
from .mapper import Tile, _Cumulative, _bytes, _grid, _operand_elements, _resident_operands, block_share
from .mapping import DIMS, OPERAND_DIMS, REDUCTION, STATIONARY, Mapping
from .systolic import map_tile, unmap_tile

Node = Union[Tile, "Run"]


@dataclass(frozen=True, eq=False)
class Run:
    """``body`` (tiles and runs, in order) repeated ``count`` times."""

    body: tuple[Node, ...]
    count: int

    def __post_init__(self) -> None:
        starts, period = [], 0
        for item in self.body:
            starts.append(period)
            period += item.length if isinstance(item, Run) else 1
        object.__setattr__(self, "starts", tuple(starts))
        object.__setattr__(self, "period", period)

    @property
    def length(self) -> int:
        """Tiles in the whole run."""
        return self.period * self.count

    def tile(self, index: int) -> Tile:
        """The tile at ``index`` (0-based) of the expanded sequence."""
        node: Node = self
        while isinstance(node, Run):
            index %= node.period
            j = bisect_right(node.starts, index) - 1
            index -= node.starts[j]
            node = node.body[j]
        return node

    def spans(self, index: int) -> list[tuple[int, int, int]]:
        """The repetitions ``index`` lies in, innermost first, as (start, period, end): tile ``x``
        equals tile ``x + period`` whenever both lie in ``[start, end)``."""
        out, node, base = [], self, 0
        while isinstance(node, Run):
            if node.count > 1:
                out.append((base, node.period, base + node.length))
            rep, index = divmod(index, node.period)
            base += rep * node.period
            j = bisect_right(node.starts, index) - 1
            index -= node.starts[j]
            base += node.starts[j]
            node = node.body[j]
        out.reverse()
        return out

    def expand(self) -> list[Tile]:
        """Every tile, in order (for tests and the per-tile reference)."""
        one: list[Tile] = []
        for item in self.body:
            one.extend(item.expand() if isinstance(item, Run) else [item])
        return one * self.count

    def nodes(self) -> int:
        """Distinct tiles and runs in the tree (its size, not the op's)."""
        seen: set[int] = set()

        def walk(node: Node) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            if isinstance(node, Run):
                for item in node.body:
                    walk(item)
        walk(self)
        return len(seen)


def sequence(items: list[Node]) -> Run:
    """``items`` in order as one run, with runs of one repetition inlined and neighbours that are
    the same object or equal tiles merged into a repetition."""
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Run) and item.count == 1:
            flat.extend(item.body)
        else:
            flat.append(item)
    merged: list[list] = []
    for item in flat:
        base, count = (item.body[0], item.count) if isinstance(item, Run) and len(item.body) == 1 else (item, 1)
        if merged and (merged[-1][0] is base or isinstance(base, Tile) and merged[-1][0] == base):
            merged[-1][1] += count
        else:
            merged.append([base, count])
    body = tuple(base if count == 1 else Run((base,), count) for base, count in merged)
    return Run(body, 1)


Make = Callable[[tuple[int, ...], "int | None", "int | None"], Run]


def nested_runs(counts: tuple[int, ...], make: Make) -> Run:
    """The sequence of ``make(index, advanced_from, advances_to)`` over the index tuples of nested
    loops with trip ``counts`` (outer first), as a tree. ``advanced_from`` is the loop level that
    stepped from the previous index (None for the first), ``advances_to`` the one that steps to
    the next; ``make`` must depend on an index only through whether each entry is 0, the last or
    in between, and is called with 1 for in between."""
    memo: dict[tuple, Run] = {}

    def build(level: int, index: tuple[int, ...], came: int | None, goes: int | None) -> Run:
        key = (level, index, came, goes)
        if key in memo:
            return memo[key]
        if level == len(counts):
            out = make(index, came, goes)
        else:
            n = counts[level]
            if n == 1:
                out = build(level + 1, index + (0,), came, goes)
            else:
                items: list[Node] = [build(level + 1, index + (0,), came, level)]
                if n > 2:
                    items.append(Run((build(level + 1, index + (1,), level, level),), n - 2))
                items.append(build(level + 1, index + (n - 1,), level, goes))
                out = sequence(items)
        memo[key] = out
        return out

    return build(0, (), None, None)


def _neighbour(index: tuple[int, ...], level: int | None, step: int, counts: tuple[int, ...]) -> tuple[int, ...] | None:
    """The index tuple before (``step`` −1) or after (+1) ``index`` when loop ``level`` steps."""
    if level is None:
        return None
    out = list(index)
    out[level] += step
    for j in range(level + 1, len(out)):
        out[j] = counts[j] - 1 if step < 0 else 0
    return tuple(out)


def mapping_runs(op: Op, hw: HardwareSpec, mapping: Mapping, result_bytes: int,
                 fused_elements: tuple[int, ...] = ()) -> Run:
    """The tiles of :func:`.mapper.tile_mapping` (same arguments) as runs."""
    p = op.params
    df = hw.array.dataflow
    t = map_tile(df, p["m"], p["n"], p["k"])
    ext = {"rows": t.rows, "cols": t.cols, "stream": t.stream}
    size = dict(zip(DIMS, mapping.tile))
    unit = {"rows": hw.array.rows, "cols": hw.array.cols}
    a, w = op.reads[0], op.reads[1]
    bits = {"input": a.bits, "weight": w.bits, "output": p["acc_bits"]}
    dims, red, stationary = OPERAND_DIMS[df], REDUCTION[df], STATIONARY[df]
    whole = {o: math.prod(ext[d] for d in dims[o]) for o in ("input", "weight", "output")}
    total = {"input": _bytes(a.elements, a.bits), "weight": _bytes(w.elements, w.bits)}
    results = p["m"] * p["n"]
    order = mapping.order
    blocks = {d: -(-ext[d] // size[d]) for d in DIMS}
    counts = tuple(blocks[d] for d in order)
    row_folds = -(-ext["rows"] // unit["rows"])

    def extents(b: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
        lo = {d: b[d] * size[d] for d in DIMS}
        return lo, {d: min(size[d], ext[d] - lo[d]) for d in DIMS}

    def last_fold(b: dict[str, int]) -> tuple[int, int]:
        lo, length = extents(b)
        return (lo["rows"] + (-(-length["rows"] // unit["rows"]) - 1) * unit["rows"],
                lo["cols"] + (-(-length["cols"] // unit["cols"]) - 1) * unit["cols"])

    def make(index: tuple[int, ...], came: int | None, goes: int | None) -> Run:
        b = dict(zip(order, index))
        before = _neighbour(index, came, -1, counts)
        after = _neighbour(index, goes, +1, counts)
        prev = dict(zip(order, before)) if before else None
        nxt = dict(zip(order, after)) if after else None
        lo, length = extents(b)
        fetch = {}
        for operand in ("input", "weight"):
            if operand in mapping.resident:  # the first visit of a key: every other loop at 0
                need = all(b[d] == 0 for d in DIMS if d not in dims[operand])
            else:
                need = prev is None or any(prev[d] != b[d] for d in dims[operand])
            elements = math.prod(length[d] for d in dims[operand])
            fetch[operand] = block_share(elements, total[operand], whole[operand]) if need else 0
        out_elements = math.prod(length[d] for d in dims["output"])
        entered = prev is None or any(prev[d] != b[d] for d in dims["output"])
        refetch = _bytes(out_elements, bits["output"]) if entered and b[red] > 0 else 0
        finished = b[red] == blocks[red] - 1
        leaves = nxt is not None and any(nxt[d] != b[d] for d in dims["output"])
        spill = _bytes(out_elements, bits["output"]) if leaves and not finished else 0
        if finished:
            result_share = _Cumulative(block_share(out_elements, result_bytes, results), out_elements)
            unit_shares = [_Cumulative(block_share(out_elements, e, results), out_elements) for e in fused_elements]
        previous_fold = last_fold(prev) if prev else None
        tiles: list[Tile] = []
        for r0 in range(lo["rows"], lo["rows"] + length["rows"], unit["rows"]):
            rows = min(unit["rows"], lo["rows"] + length["rows"] - r0)
            for c0 in range(lo["cols"], lo["cols"] + length["cols"], unit["cols"]):
                cols = min(unit["cols"], lo["cols"] + length["cols"] - c0)
                s = length["stream"]
                e = _operand_elements(df, rows, cols, s)
                m, n, k = unmap_tile(df, rows, cols, s)
                if red == "stream":
                    first, last = b["stream"] == 0, finished
                else:
                    first, last = r0 == 0, r0 // unit["rows"] == row_folds - 1
                head = not tiles
                tiles.append(Tile(rows, cols, s, m, n, k, _bytes(e["input"], bits["input"]),
                                  _bytes(e["weight"], bits["weight"]), _bytes(e["output"], bits["output"]),
                                  (r0, c0) != previous_fold or stationary == "output" and first, first, last,
                                  fetch["input"] if head else 0, fetch["weight"] if head else 0,
                                  output_fetch_bytes=refetch if head else 0,
                                  result_bytes=result_share.take(m * n) if last else None,
                                  unit_elements=tuple(u.take(m * n) for u in unit_shares) if last else None))
                previous_fold = (r0, c0)
        if spill:
            tiles[-1] = replace(tiles[-1], spill_bytes=spill)
        return sequence(tiles)

    return nested_runs(counts, make)


def fixed_runs(op: Op, hw: HardwareSpec) -> Run:
    """The tiles of :func:`.mapper.tile_op` (the fixed mapping) as runs."""
    p = op.params
    df = hw.array.dataflow
    t, chunk, bits = _grid(op, hw)
    expand_in = max(1.0, p["m"] * p["k"] / max(op.reads[0].elements, 1))
    expand_w = max(1.0, p["k"] * p["n"] / max(op.reads[1].elements, 1))
    resident = _resident_operands(op, hw)
    dims, stationary = OPERAND_DIMS[df], STATIONARY[df]
    step = {"rows": hw.array.rows, "cols": hw.array.cols, "stream": chunk}
    ext = {"rows": t.rows, "cols": t.cols, "stream": t.stream}
    counts = tuple(-(-ext[d] // step[d]) for d in DIMS)

    def make(index: tuple[int, ...], came: int | None, goes: int | None) -> Run:
        at = dict(zip(DIMS, index))
        length = {d: min(step[d], ext[d] - at[d] * step[d]) for d in DIMS}
        rows, cols, s = length["rows"], length["cols"], length["stream"]
        e = _operand_elements(df, rows, cols, s)
        m, n, k = unmap_tile(df, rows, cols, s)
        if df == "os":
            first, last = at["stream"] == 0, at["stream"] == counts[2] - 1
        else:
            first, last = at["rows"] == 0, at["rows"] == counts[0] - 1
        in_bytes, w_bytes = _bytes(e["input"], bits["input"]), _bytes(e["weight"], bits["weight"])
        fetch = {"input": math.ceil(in_bytes / expand_in), "weight": math.ceil(w_bytes / expand_w)}
        for operand in ("input", "weight"):
            if resident[operand] and any(at[d] for d in DIMS if d not in dims[operand]):
                fetch[operand] = 0  # already on chip from an earlier fold
            elif operand == stationary and at["stream"]:
                fetch[operand] = 0  # still in the PEs from the previous stream chunk
        return Run((Tile(rows, cols, s, m, n, k, in_bytes, w_bytes, _bytes(e["output"], bits["output"]),
                         at["stream"] == 0, first, last, fetch["input"], fetch["weight"]),), 1)

    return nested_runs(counts, make)
