"""The mapping search: per GEMM/conv op, the loop order and block sizes at the SRAM↔DRAM level.

The array's dataflow fixes the spatial mapping (:func:`.systolic.map_tile`: which of M, N, K
run along the array's rows and columns and which one streams). Above it, an op is cut into
*blocks* of ``rows × cols × stream`` mapped elements (rows and cols in multiples of the array,
the stream in any length) that are walked by three nested loops; each operand's block lives
in its SRAM bank, double-buffered, and is fetched from DRAM when the walk moves to a block it
has not got. Which operand is reused is decided by the loop order: an operand is re-fetched
once per iteration of every loop it does not depend on that runs outside its innermost
changing loop. An operand can also be kept *resident* (its whole tensor on chip, fetched once)
and outputs whose reduction is cut by an outer loop spill their partial sums to DRAM at the
accumulator width and read them back.

The search minimises an analytical cost of every candidate: DRAM bytes (exact, the simulator
moves the same bytes; each block's share of an operand rounded up), SRAM bits per bank, a cycle estimate and an energy estimate from the
cost model's per-access prices (:class:`AccessEnergies`). The objective is ``energy``,
``latency`` (the cycle estimate) or ``edp`` (their product); among candidates within
:data:`SLACK` of the best the one with the fewest tiles wins. Candidates are the smallest block
of every distinct block count per dimension: every cost term depends on a block's length only
through the number of blocks, grows with it (capacity, the first load), or is a convex sum over
the blocks that the most even split minimises, so nothing better is left out — a test checks
this against a brute-force enumeration of every length. Results are memoised by the op's
shape, the memory geometry and the prices.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..config.hardware import HardwareSpec
from ..trace import Op
from .systolic import map_tile

OBJECTIVES = ("energy", "latency", "edp")
DIMS = ("rows", "cols", "stream")
#: The mapped dimensions each operand depends on, per dataflow (see :mod:`.systolic`).
OPERAND_DIMS = {
    "os": {"input": ("rows", "stream"), "weight": ("stream", "cols"), "output": ("rows", "cols")},
    "ws": {"input": ("stream", "rows"), "weight": ("rows", "cols"), "output": ("stream", "cols")},
    "is": {"input": ("cols", "rows"), "weight": ("rows", "stream"), "output": ("stream", "cols")},
}
REDUCTION = {"os": "stream", "ws": "rows", "is": "rows"}
STATIONARY = {"ws": "weight", "os": "output", "is": "input"}
ORDERS = tuple(itertools.permutations(DIMS))
M_DIM = {"os": "rows", "ws": "stream", "is": "cols"}
"""The mapped dimension that carries the GEMM's M (output rows: pixels of a convolution)."""


@dataclass(frozen=True)
class AccessEnergies:
    """The prices the search weighs: per DRAM byte, per SRAM bit read/written (bank order of
    the hardware spec), and the whole chip's leakage per cycle."""

    dram_pj_per_byte: float
    sram_read_pj_per_bit: tuple[float, ...]
    sram_write_pj_per_bit: tuple[float, ...]
    leakage_pj_per_cycle: float


@dataclass(frozen=True)
class Mapping:
    """A loop nest over blocks: ``order`` outer → inner over ``DIMS``, block extents in mapped
    elements (``tile`` in ``DIMS`` order), and the operands kept whole on chip."""

    order: tuple[str, str, str]
    tile: tuple[int, int, int]
    resident: tuple[str, ...] = ()

    def describe(self) -> str:
        """``rows>cols>stream 16x32x400`` (+ ``resident input``)."""
        text = ">".join(self.order) + " " + "x".join(map(str, self.tile))
        return text + (" resident " + "+".join(self.resident) if self.resident else "")


@dataclass(frozen=True)
class Problem:
    """Everything the best mapping of one op depends on (the memo key)."""

    dataflow: str
    array_rows: int
    array_cols: int
    timing: str
    extent: tuple[int, int, int]          # rows, cols, stream of the whole op
    bits: tuple[int, int, int, int]       # input, weight, accumulator, result as it leaves
    compulsory: tuple[int, int, int]      # DRAM bytes of input, weight (un-expanded) and the result
    expand: tuple[float, float]           # im2col expansion of input and weight (1 for a GEMM)
    banks: tuple[int, int, int]           # bank index of input, weight, output
    capacity_bytes: tuple[int, ...]       # per bank
    word_bits: tuple[int, ...]
    ports: tuple[int, ...]
    dram_bytes_per_cycle: int
    dram_latency_cycles: int
    m_multiple: int = 1                   # blocks along M must hold whole multiples of this (pooling windows)


@dataclass(frozen=True)
class Estimate:
    """The analytical cost of one mapping."""

    dram_read_bytes: int
    dram_write_bytes: int
    cycles: float
    energy_pj: float
    objective: float


def _bytes(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


def problem_of(op: Op, hw: HardwareSpec, out_bits: int, result_bytes: int | None = None,
               m_multiple: int = 1) -> Problem:
    """The search problem of a GEMM/conv op on ``hw``: ``out_bits``, the width its result leaves with;
    ``result_bytes``, what leaves (default: every result at ``out_bits``; less when pooling is
    applied on the way out, which needs blocks of whole ``m_multiple`` rows of M)."""
    p = op.params
    t = map_tile(hw.array.dataflow, p["m"], p["n"], p["k"])
    names = [b.name for b in hw.banks]
    a, w = op.reads[0], op.reads[1]
    return Problem(
        dataflow=hw.array.dataflow, array_rows=hw.array.rows, array_cols=hw.array.cols, timing=hw.timing,
        extent=(t.rows, t.cols, t.stream), bits=(a.bits, w.bits, p["acc_bits"], out_bits),
        compulsory=(_bytes(a.elements, a.bits), _bytes(w.elements, w.bits),
                    _bytes(p["m"] * p["n"], out_bits) if result_bytes is None else result_bytes),
        expand=(max(1.0, p["m"] * p["k"] / max(a.elements, 1)), max(1.0, p["k"] * p["n"] / max(w.elements, 1))),
        banks=tuple(names.index(hw.bank_for(o).name) for o in ("input", "weight", "output")),
        capacity_bytes=tuple(b.capacity_bytes for b in hw.banks), word_bits=tuple(b.word_bits for b in hw.banks),
        ports=tuple(b.ports for b in hw.banks), dram_bytes_per_cycle=hw.dram.bytes_per_cycle,
        dram_latency_cycles=hw.dram.latency_cycles, m_multiple=m_multiple)


def _units(pr: Problem) -> tuple[int, int, int]:
    """The step of block lengths per mapped dim: the array's rows and columns (and for the dim that
    carries M, a multiple of ``m_multiple``)."""
    units = [pr.array_rows, pr.array_cols, 1]
    if pr.m_multiple > 1:
        i = DIMS.index(M_DIM[pr.dataflow])
        units[i] = math.lcm(units[i], pr.m_multiple)
    return tuple(units)


def block_lengths(extent: int, unit: int, every: bool = False) -> list[int]:
    """Candidate block lengths of one dimension: multiples of ``unit`` up to the extent (capped at
    it); by default only the smallest length of every distinct block count."""
    lengths = np.unique(np.minimum(extent, unit * np.arange(1, -(-extent // unit) + 1, dtype=np.int64)))
    if every:
        return lengths.tolist()
    counts = -(-extent // lengths)                       # non-increasing as the length grows
    first = np.flatnonzero(np.r_[True, counts[1:] != counts[:-1]])
    return lengths[first].tolist()


def _trips(extent: int, tile: np.ndarray) -> np.ndarray:
    return -(-extent // tile)


def _refetch(order: tuple[str, ...], dims: tuple[str, ...], trips: dict[str, np.ndarray]) -> np.ndarray:
    """How many times an operand is fetched: the product of the trips of loops it does not depend
    on that run outside its innermost loop with more than one trip."""
    factor = np.ones_like(trips["rows"])
    changing = np.zeros(factor.shape, dtype=bool)
    for d in reversed(order):
        if d in dims:
            changing |= trips[d] > 1
        else:
            factor = np.where(changing, factor * trips[d], factor)
    return factor


def _block_elements(dims: tuple[str, ...], tile: dict[str, np.ndarray]) -> np.ndarray:
    out = np.ones_like(tile["rows"])
    for d in dims:
        out = out * tile[d]
    return out


def _block_sum(dims: tuple[str, ...], tile: dict[str, np.ndarray], trips: dict[str, np.ndarray],
               ext: dict[str, int], total_bytes: int, total_elements: int) -> np.ndarray:
    """Bytes of one pass over every block of an operand when each block moves its share rounded up
    (:func:`.mapper.block_share`): a sum over the full and the edge block of each dimension."""
    total = np.zeros(tile["rows"].shape, dtype=np.int64)
    shapes = [((tile[d], trips[d] - 1), (ext[d] - (trips[d] - 1) * tile[d], np.ones_like(trips[d]))) for d in dims]
    for combo in itertools.product(*shapes):
        elements = np.ones_like(total)
        count = np.ones_like(total)
        for length, n in combo:
            elements = elements * length
            count = count * n
        total = total + count * (-(-elements * total_bytes // max(total_elements, 1)))
    return total


def _footprint(pr: Problem, resident: tuple[str, ...], tile: dict[str, np.ndarray],
               trips: dict[str, np.ndarray]) -> list[np.ndarray]:
    """On-chip bytes per bank: a block double-buffered, a single block once, a resident tensor whole."""
    dims = OPERAND_DIMS[pr.dataflow]
    ext = dict(zip(DIMS, pr.extent))
    footprint = [np.zeros(tile["rows"].shape, dtype=np.int64) for _ in pr.capacity_bytes]
    for operand, bits, bank in (("input", pr.bits[0], pr.banks[0]), ("weight", pr.bits[1], pr.banks[1]),
                                ("output", pr.bits[2], pr.banks[2])):
        if operand in resident:  # the whole tensor as it came from DRAM; expanded on its way to the array
            footprint[bank] = footprint[bank] + pr.compulsory[("input", "weight").index(operand)]
            continue
        block = -(-_block_elements(dims[operand], tile) * bits // 8)
        single = np.ones(block.shape, dtype=bool)
        for d in dims[operand]:
            single &= trips[d] == 1
        footprint[bank] = footprint[bank] + np.where(single, block, 2 * block)
    return footprint


def footprint_bytes(pr: Problem, mapping: Mapping) -> tuple[int, ...]:
    """The bytes ``mapping`` occupies in each bank while its op runs."""
    tile = {d: np.array([t], dtype=np.int64) for d, t in zip(DIMS, mapping.tile)}
    trips = {d: _trips(e, tile[d]) for d, e in zip(DIMS, pr.extent)}
    return tuple(int(f[0]) for f in _footprint(pr, mapping.resident, tile, trips))


def evaluate(pr: Problem, energies: AccessEnergies, objective: str, order: tuple[str, ...],
             resident: tuple[str, ...], tiles: dict[str, np.ndarray], fixed: bool = False):
    """Estimates of the candidates ``tiles`` (arrays of block lengths per dim, broadcast together)
    under one loop order and residency: (feasible, dram read, dram write, cycles, energy, objective)."""
    feasible, read, write, cycles, bits = features(pr, order, resident, tiles, fixed)
    energy = _energy(read + write, cycles, bits, energies)
    return feasible, read, write, cycles, energy, _value(objective, energy, cycles)


def _energy(dram: np.ndarray, cycles: np.ndarray, bits: np.ndarray, energies: AccessEnergies) -> np.ndarray:
    """DRAM bytes, leakage over the cycles and SRAM bits (rows: reads then writes per bank) priced."""
    weights = np.array(energies.sram_read_pj_per_bit + energies.sram_write_pj_per_bit)
    return dram * energies.dram_pj_per_byte + cycles * energies.leakage_pj_per_cycle + weights @ bits


def _value(objective: str, energy: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    return {"energy": energy, "latency": cycles, "edp": energy * cycles}[objective]


def features(pr: Problem, order: tuple[str, ...], resident: tuple[str, ...], tiles: dict[str, np.ndarray],
             fixed: bool = False):
    """What the estimate of each candidate is made of, before any price: (feasible, DRAM bytes read,
    written, cycles, SRAM bits as rows of reads then writes per bank).

    ``fixed`` evaluates the fixed mapping of :func:`.mapper.tile_op` instead, which works tile by
    tile: every tile fetches its moving operands anew (the stationary one only when it changes),
    partial sums never leave the output bank, and no capacity is checked."""
    df = pr.dataflow
    ext = dict(zip(DIMS, pr.extent))
    unit = {"rows": pr.array_rows, "cols": pr.array_cols, "stream": 1}
    tile = {d: np.broadcast_to(np.asarray(tiles[d], dtype=np.int64), np.broadcast_shapes(
        *(np.shape(tiles[x]) for x in DIMS))) for d in DIMS}
    trips = {d: _trips(ext[d], tile[d]) for d in DIMS}
    folds = {d: np.full(tile[d].shape, -(-ext[d] // unit[d]), dtype=np.int64) if d != "stream" else trips[d]
             for d in DIMS}  # array tiles along each dim over the whole op
    a_bits, w_bits, acc_bits, out_bits = pr.bits
    comp_in, comp_w, comp_out = pr.compulsory
    dims = OPERAND_DIMS[df]
    red = REDUCTION[df]
    stationary = STATIONARY[df]
    refetch = {}
    for operand in ("input", "weight"):
        if operand in resident or (fixed and operand == stationary):
            refetch[operand] = np.ones_like(trips["rows"])
        elif fixed:
            refetch[operand] = math.prod(trips[d] for d in DIMS if d not in dims[operand])
        else:
            refetch[operand] = _refetch(order, dims[operand], trips)
    f_in, f_w = refetch["input"], refetch["weight"]
    visits = np.ones_like(trips["rows"]) if fixed else _refetch(order, dims["output"], trips)
    out_elements = math.prod(ext[d] for d in dims["output"])
    spills = visits - 1
    whole = {"input": math.prod(ext[d] for d in dims["input"]), "weight": math.prod(ext[d] for d in dims["weight"])}
    if fixed:
        pass_in, pass_w, pass_out = comp_in, comp_w, comp_out
        partial_bytes = -(-(spills * out_elements * acc_bits) // 8)
    else:  # every block rounds its share up (:func:`.mapper.block_share`)
        pass_in = _block_sum(dims["input"], tile, trips, ext, comp_in, whole["input"])
        pass_w = _block_sum(dims["weight"], tile, trips, ext, comp_w, whole["weight"])
        pass_out = _block_sum(dims["output"], tile, trips, ext, comp_out, out_elements)
        partial_bytes = spills * _block_sum(dims["output"], tile, trips, ext, acc_bits, 8)
    # spilled partial sums leave and come back at the accumulator width
    dram_read = f_in * pass_in + f_w * pass_w + partial_bytes
    dram_write = partial_bytes + pass_out

    footprint = _footprint(pr, resident, tile, trips)
    n_banks = len(pr.capacity_bytes)
    feasible = np.ones(tile["rows"].shape, dtype=bool)
    if not fixed:
        for bank in range(n_banks):
            feasible &= footprint[bank] <= pr.capacity_bytes[bank]

    # SRAM bits per bank: DRAM fills, the array's reads, partial sums
    read_bits = [np.zeros(tile["rows"].shape, dtype=np.float64) for _ in range(n_banks)]
    write_bits = [np.zeros(tile["rows"].shape, dtype=np.float64) for _ in range(n_banks)]
    write_bits[pr.banks[0]] = write_bits[pr.banks[0]] + 8.0 * f_in * pass_in
    write_bits[pr.banks[1]] = write_bits[pr.banks[1]] + 8.0 * f_w * pass_w
    write_bits[pr.banks[2]] = write_bits[pr.banks[2]] + 8.0 * partial_bytes
    read_bits[pr.banks[2]] = read_bits[pr.banks[2]] + 8.0 * partial_bytes
    # the stationary tile stays in the PEs across stream blocks when a block holds one fold of it
    # and the stream loop is the innermost that changes
    one_fold = (tile["rows"] <= unit["rows"]) & (tile["cols"] <= unit["cols"])
    reuse = one_fold
    for d in order[order.index("stream") + 1:]:
        reuse = reuse & (trips[d] == 1)
    for operand, bits, bank in (("input", a_bits, pr.banks[0]), ("weight", w_bits, pr.banks[1])):
        expanded = whole[operand] * bits
        if operand == stationary:
            read_bits[bank] = read_bits[bank] + np.where(reuse, expanded, expanded * trips["stream"])
        else:
            other = next(d for d in DIMS if d not in dims[operand])
            read_bits[bank] = read_bits[bank] + expanded * folds[other]
    per_element = folds[red] if red != "stream" else trips["stream"]
    out_bank = pr.banks[2]
    write_bits[out_bank] = write_bits[out_bank] + out_elements * acc_bits * per_element
    read_bits[out_bank] = read_bits[out_bank] + out_elements * acc_bits * per_element  # partials and write-back

    # cycles: every (row fold, col fold) streams each stream block once. A tile of stream s takes
    # the longest of its stream (with the fill under the SCALE-Sim count, or a preload that the
    # previous stream does not hide), and its accesses to each bank through one port
    n_pairs = folds["rows"] * folds["cols"]
    last_stream = ext["stream"] - (trips["stream"] - 1) * tile["stream"]
    full = {"rows": min(pr.array_rows, ext["rows"]), "cols": min(pr.array_cols, ext["cols"])}
    new_stationary = np.where(reuse, 1.0 / trips["stream"], 1.0)
    accumulate = 2.0 - 1.0 / per_element  # partial sums read and written, but the first only written
    if pr.timing == "scalesim":
        fill = pr.array_rows + pr.array_cols - 2 + (pr.array_rows if df != "os" else 0)
    else:
        fill = 0

    def tile_cycles_of(stream: np.ndarray) -> np.ndarray:
        length = stream + fill
        if pr.timing != "scalesim" and df != "os":
            length = np.maximum(length, full["rows"] * new_stationary)
        per_bank = [np.zeros(stream.shape, dtype=np.float64) for _ in range(n_banks)]
        for operand, bits, bank in (("input", a_bits, pr.banks[0]), ("weight", w_bits, pr.banks[1]),
                                    ("output", acc_bits, pr.banks[2])):
            extent_of = {"rows": full["rows"], "cols": full["cols"], "stream": stream}
            elements = math.prod(extent_of[d] for d in dims[operand]) if operand != "output" else None
            if operand == "output":
                elements = extent_of[dims["output"][0]] * extent_of[dims["output"][1]]
                per_bank[bank] = per_bank[bank] + elements * bits * accumulate
            elif operand == stationary:
                per_bank[bank] = per_bank[bank] + elements * bits * new_stationary
            else:
                per_bank[bank] = per_bank[bank] + elements * bits
        for bank in range(n_banks):  # a tile books whole words of a port
            length = np.maximum(length, np.ceil(per_bank[bank] / pr.word_bits[bank]))
        return length

    compute = (n_pairs * ((trips["stream"] - 1) * tile_cycles_of(tile["stream"]) + tile_cycles_of(last_stream))
               + (pr.array_rows + pr.array_cols - 2 if pr.timing != "scalesim" else 0))
    dram_cycles = np.ceil((dram_read + dram_write) / pr.dram_bytes_per_cycle)
    port_cycles = np.zeros(tile["rows"].shape, dtype=np.float64)
    for bank in range(n_banks):
        port_cycles = np.maximum(port_cycles, (read_bits[bank] + write_bits[bank]) / pr.word_bits[bank]
                                 / pr.ports[bank])
    first_load = (_block_elements(dims["input"], tile) * a_bits / 8 / pr.expand[0]
                  + _block_elements(dims["weight"], tile) * w_bits / 8 / pr.expand[1])
    cycles = (pr.dram_latency_cycles + first_load / pr.dram_bytes_per_cycle
              + np.maximum(np.maximum(compute, dram_cycles), port_cycles))
    bits = np.stack([np.broadcast_to(b, cycles.shape) for b in read_bits + write_bits]).astype(np.float64)
    return feasible, dram_read, dram_write, cycles, bits


@dataclass(frozen=True)
class Choice:
    """The search's answer for one op: the mapping (None: the fixed mapping was no worse, or nothing
    fits when there was no fixed candidate) and its estimate."""

    mapping: Mapping | None
    estimate: Estimate | None
    fixed_estimate: Estimate | None
    candidates: int


def _residencies(pr: Problem) -> list[tuple[str, ...]]:
    """Residency choices worth trying: an operand whose whole tensor (un-expanded, as DRAM holds it)
    fits its bank."""
    fits = []
    for j, operand in enumerate(("input", "weight")):
        if pr.compulsory[j] <= pr.capacity_bytes[pr.banks[j]]:
            fits.append(operand)
    return [r for n in range(len(fits) + 1) for r in itertools.combinations(fits, n)]


def search_space(pr: Problem, every: bool = False) -> dict[str, list[int]]:
    """Candidate block lengths per dim (``every``: all multiples of the unit, for brute force)."""
    return {d: block_lengths(e, u, every) for d, e, u in zip(DIMS, pr.extent, _units(pr))}


SLACK = 0.005
"""Under ``energy`` and ``edp``, mappings within 0.5 % of the least estimate (and no worse than the
fixed mapping) count as equal and the one with the fewest tiles wins: the estimate is not closer
to the simulation than that, and fewer, larger tiles cost less control (and simulation) work."""
LATENCY_SLACK = 0.01
"""Under ``latency``, mappings within 1 % of the least estimated cycles count as equally fast (the
estimate leaves out stalls) and the least energy among them wins (within :data:`SLACK`)."""


@dataclass(frozen=True)
class _Candidates:
    """Every feasible candidate of one problem with its price-free features (row 0: the fixed
    mapping, or an unbeatable placeholder when there is none)."""

    read: np.ndarray
    write: np.ndarray
    cycles: np.ndarray
    bits: np.ndarray          # SRAM bits, reads then writes per bank × candidates
    blocks: np.ndarray        # stream blocks (tiles per fold pair)
    combo: np.ndarray         # index into ``combos`` (-1: row 0)
    index: np.ndarray         # index into ``tiles``
    combos: tuple
    tiles: dict
    count: int
    has_fixed: bool


def _candidates(pr: Problem, fixed: Mapping | None, every: bool) -> _Candidates:
    lengths = search_space(pr, every)
    grid = np.meshgrid(*(np.array(lengths[d], dtype=np.int64) for d in DIMS), indexing="ij")
    tiles = {d: g.ravel() for d, g in zip(DIMS, grid)}
    n_bits = 2 * len(pr.capacity_bytes)
    if fixed is None:
        first = (np.array([np.inf]), np.array([np.inf]), np.array([np.inf]), np.full((n_bits, 1), np.inf))
        blocks = [np.array([1 << 62])]
    else:
        _, read, write, cycles, bits = features(pr, fixed.order, fixed.resident,
                                                {d: np.array([t]) for d, t in zip(DIMS, fixed.tile)}, fixed=True)
        first = (read.astype(np.float64), write.astype(np.float64), cycles, bits)
        blocks = [np.array([-(-pr.extent[2] // fixed.tile[2])])]
    reads, writes, cycles_list, bits_list = ([x] for x in first)
    combo, index, combos, count = [np.array([-1])], [np.array([-1])], [], 0
    for resident in _residencies(pr):
        for order in ORDERS:
            feasible, read, write, cycles, bits = features(pr, order, resident, tiles)
            keep = np.flatnonzero(feasible)
            count += int(feasible.size)
            reads.append(read[keep].astype(np.float64))
            writes.append(write[keep].astype(np.float64))
            cycles_list.append(cycles[keep])
            bits_list.append(bits[:, keep])
            blocks.append(-(-pr.extent[2] // tiles["stream"][keep]))
            combo.append(np.full(keep.size, len(combos)))
            index.append(keep)
            combos.append((order, resident))
    return _Candidates(np.concatenate(reads), np.concatenate(writes), np.concatenate(cycles_list),
                       np.concatenate(bits_list, axis=1), np.concatenate(blocks), np.concatenate(combo),
                       np.concatenate(index), tuple(combos), tiles, count, fixed is not None)


@lru_cache(maxsize=48)
def _candidates_memo(pr: Problem, fixed: Mapping | None) -> _Candidates:
    """:func:`_candidates`, memoised by problem (prices are applied afterwards: a sweep over clocks,
    nodes or DRAM types re-weighs the same table)."""
    return _candidates(pr, fixed, False)


def best_mapping(pr: Problem, energies: AccessEnergies, objective: str, fixed: Mapping | None,
                 every: bool = False) -> Choice:
    """The candidate of least ``objective`` — for ``latency``, the least energy among those within
    :data:`LATENCY_SLACK` of the fewest cycles and no slower than the fixed mapping — taking, among
    those within :data:`SLACK` of it (and no worse than the fixed mapping), the fewest tiles, then
    the least, fewer DRAM bytes and the earlier candidate. ``fixed`` (today's mapping in this form)
    comes first. ``every`` enumerates every block length (the brute force of the tests)."""
    c = _candidates(pr, fixed, True) if every else _candidates_memo(pr, fixed)
    dram = c.read + c.write
    with np.errstate(invalid="ignore"):  # row 0 is all infinite without a fixed mapping
        energy = _energy(dram, c.cycles, c.bits, energies)
        if not c.has_fixed:
            energy[0] = np.inf
        value = _value(objective, energy, c.cycles)
    fixed_est = (Estimate(int(c.read[0]), int(c.write[0]), float(c.cycles[0]), float(energy[0]), float(value[0]))
                 if c.has_fixed else None)
    if not c.has_fixed and dram.size == 1:
        return Choice(None, None, None, c.count)
    if objective == "latency":  # as fast as the fastest (within the slack) and the fixed mapping, then energy
        fast = c.cycles <= min(c.cycles.min() * (1 + LATENCY_SLACK), c.cycles[0])
        primary = np.where(fast, energy, np.inf)
        near = primary <= primary.min() * (1 + SLACK)
    else:
        primary = value
        near = primary <= min(primary.min() * (1 + SLACK), primary[0])
    # within the slack, the fewest tiles; then the least, fewer DRAM bytes, the earlier candidate
    pick = int(np.lexsort((np.arange(primary.size), dram, primary, c.blocks, ~near))[0])
    if pick == 0:
        return Choice(None, fixed_est, fixed_est, c.count)  # None, None when nothing fits and there is no fixed
    order, resident = c.combos[int(c.combo[pick])]
    i = int(c.index[pick])
    mapping = Mapping(order, tuple(int(c.tiles[d][i]) for d in DIMS), resident)
    est = Estimate(int(c.read[pick]), int(c.write[pick]), float(c.cycles[pick]), float(energy[pick]),
                   float(value[pick]))
    return Choice(mapping, est, fixed_est, c.count)


@lru_cache(maxsize=65536)
def choose(pr: Problem, energies: AccessEnergies, objective: str, fixed: Mapping | None) -> Choice:
    """:func:`best_mapping`, memoised per process (sweeps repeat shapes and memory geometries)."""
    return best_mapping(pr, energies, objective, fixed)
