"""The SimPy model: a training-step trace executed on the accelerator's components.

Each GEMM/conv op runs the tiles of the mapping :func:`plan_step` chooses (the search of
:mod:`.mapping` under the hardware's ``mapping`` objective, or the fixed mapping of
:func:`.mapper.tile_op`) through the components of :mod:`.pipeline`: a loader moves each
block's operands over DRAM (or from the bank holding them) into double-buffered SRAM, up to
two blocks ahead of the PE array, which takes tiles and computes them, and a writer drains
finished outputs (and spilled partial sums) back to DRAM, or leaves a result on chip for a
later op (:mod:`.placement`). The DRAM channel and each bank's ports are FIFO resources kept
as booking calendars (:class:`.pipeline.Calendar`). By default (``model="runs"``) an op's
tiles are runs (:mod:`.runs`) and a settled pipeline is advanced by whole periods; with
``model="tiles"`` every tile is built and simulated, the reference the fast model equals.

PE timing follows the hardware's convention. ``archsim``: a tile's preload, stream and
drain (:func:`.systolic.tile_phases`) overlap with its neighbours through double-buffered
stationary registers, as :func:`.systolic.pipelined_cycles` describes, and stall when the
loader is late. ``scalesim``: each fold takes its full SCALE-Sim count, one after another.

Element-wise ops (shifts, rounding, saturation, constant division, ReLUs, stochastic
rounding, pooling, updates) run on the shift/align unit: ``pipeline depth + ⌈elements /
lanes⌉`` cycles, longer if the random-bit source or a divider's latency limits it. Under
the fixed mapping their tensors stay on chip when they fit in the bank and larger ones stream
through DRAM; under a searched mapping they read and write tensors where the placement has them.
Ops run in trace order, one after the other. One SimPy event stands for one tile
transfer or tile computation (or, in the fast model, a jump over many), never for a cycle.
"""
from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Callable

import simpy

from ..config.hardware import HardwareSpec
from ..trace import Op, Trace
from .actions import ActionCounts, OpTiming, Timing
from .mapper import (MapError, Tile, count_mapped_tiles, count_tiles, fixed_mapping, tile_mapping,
                     tile_op)
from .mapping import AccessEnergies, Estimate, Mapping, choose, footprint_bytes, problem_of
from .pipeline import Calendar, DramChannel, GemmJob, Loader, PEArray, PeriodJump, RandomSource, SramBank, \
    ShiftAlignUnit, Writer
from .placement import OpPlacement, Placement, tensor_links
from .runs import Run, fixed_runs, mapping_runs
from .systolic import unmap_tile

STATIONARY = {"ws": "weight", "os": "output", "is": "input"}
UNIT_CAPABILITY = {"stochastic_round": "stochastic_round", "divide_clip": "divide", "divide_decay_subtract": "divide",
                   "nitro_relu": "relu", "nitro_relu_backward": "relu", "relu_shift_round_clip": "shift",
                   "shift_round_clip": "shift", "dropout": "divide", "max_abs": "compare", "max": "compare",
                   "route": "compare", "subtract_target": "saturate", "subtract_clip": "saturate"}


class _Step:
    """State of one simulation: the environment, the components, counters."""

    def __init__(self, hw: HardwareSpec, jumps: bool = True) -> None:
        self.hw = hw
        self.env = simpy.Environment()
        self.dram = DramChannel(hw.dram.bytes_per_cycle, hw.dram.latency_cycles)
        sa = hw.shift_align
        self.unit = ShiftAlignUnit(sa.lanes, sa.pipeline_depth, sa.divide_latency_cycles,
                                   RandomSource(hw.random_bits_per_cycle))  # on the write-back path
        self.banks = {b.name: SramBank(b.name, b.ports, b.word_bits, b.capacity_bytes) for b in hw.banks}
        self.busy: dict[str, int] = defaultdict(int)
        self.phase_actions: dict[str, ActionCounts] = {}
        self.actions = ActionCounts()  # the counts of the phase whose op runs now
        self.events = 0
        self.loader = Loader(self)
        self.pe = PEArray(self, hw.array.dataflow, hw.array.rows, hw.array.cols, hw.timing)
        self.writer = Writer(self)
        self.jump = PeriodJump(self, self.loader, self.pe, self.writer) if jumps else None
        self.pe.jump = self.jump

    def calendars(self) -> list[Calendar]:
        """Every resource's calendar (the state a periodic jump shifts)."""
        return [self.dram.calendar, self.unit.calendar] + [b.calendar for b in self.banks.values()]

    def enter_phase(self, phase: str) -> None:
        """Count the following actions under ``phase``."""
        self.actions = self.phase_actions.setdefault(phase, ActionCounts())

    def total_actions(self) -> ActionCounts:
        """All phases summed, with the per-phase counts attached."""
        total = ActionCounts(by_phase=dict(self.phase_actions))
        for counts in self.phase_actions.values():
            total.add(counts)
        return total

    def book_dram(self, nbytes: int, op_busy: dict) -> int:
        """Book the DRAM channel for ⌈bytes / bandwidth⌉ cycles from now; returns the end time."""
        cycles = self.dram.cycles(nbytes)
        self.busy["dram"] += cycles
        op_busy["dram"] += cycles
        return self.dram.calendar.book(self.env.now, cycles)

    def book_sram(self, accesses: dict[str, int], op_busy: dict) -> int:
        """Book one port of each bank for ⌈bits / word width⌉ cycles from now; returns when all are done."""
        end = self.env.now
        for bank, bits in accesses.items():
            if bits > 0:
                cycles = self.banks[bank].cycles(bits)
                self.busy[f"sram:{bank}"] += cycles
                op_busy[f"sram:{bank}"] += cycles
                end = max(end, self.banks[bank].calendar.book(self.env.now, cycles))
        return end

    def wait_until(self, time: int):
        """One event: sleep until ``time`` (no event when it is now)."""
        if time > self.env.now:
            self.events += 1
            yield self.env.timeout(time - self.env.now)

    def gemm(self, op: Op, tiles, op_busy: dict, fused: tuple[Op, ...] = (), tiles_per_block: int = 1,
             local: dict[str, str] | None = None, keep_result: bool = False):
        """Run ``op``'s tiles (a :class:`.runs.Run` or a list) through the loader → PE array →
        writer pipeline (:mod:`.pipeline`); the ``fused`` ops (a requantisation, pooling) are
        applied by the shift/align unit on the write-back path, so only their narrower result
        leaves. The loader runs up to two blocks (of ``tiles_per_block`` tiles) ahead of the array.
        Operands in ``local`` (operand → bank) are already on chip and are copied from that bank
        instead of DRAM; with ``keep_result`` the result stays in the output bank for a later op."""
        hw, env = self.hw, self.env
        df = hw.array.dataflow
        a_bits, b_bits = op.reads[0].bits, op.reads[1].bits
        mac_key = "fp32" if hw.array.datatype == "fp32" else f"{a_bits}x{b_bits}"
        nonzero = (1 - op.reads[0].zero_fraction) * (1 - op.reads[1].zero_fraction)
        self.actions.zero_operand_macs[mac_key] += round(op.macs * (1 - nonzero))
        job = GemmJob(op, tiles, op_busy, fused, tiles_per_block, local or {}, keep_result,
                      {o: hw.bank_for(o).name for o in ("input", "weight", "output")}, STATIONARY[df], mac_key,
                      # bits latched per MAC: operands that move through the PE and the partial sum
                      {"ws": a_bits, "is": b_bits, "os": a_bits + b_bits}[df] + op.params["acc_bits"],
                      simpy.Store(env, capacity=2 * tiles_per_block), simpy.Store(env, capacity=2), env.event())
        for component in (self.loader, self.pe, self.writer):
            component.jobs.put(job)
        self.events += 1
        yield job.all_done

    def stash(self, stash_bytes: dict[str, int], op_busy: dict):
        """Write kept tensors that must make room to DRAM (read from their bank), before an op."""
        total = sum(stash_bytes.values())
        if not total:
            return
        for bank, size in stash_bytes.items():
            self.actions.sram_read_bits[bank] += 8 * size
        end = self.book_sram({bank: 8 * size for bank, size in stash_bytes.items()}, op_busy)
        self.actions.dram_write_bytes += total
        op_busy["dram_write_bytes"] += total
        yield from self.wait_until(max(end, self.book_dram(total, op_busy)))

    def unit_needs(self, op: Op) -> str | None:
        """The shift/align capability ``op`` needs (a clear error when the unit lacks it)."""
        need = UNIT_CAPABILITY.get(op.params.get("op", op.kind))
        if need and need not in self.hw.shift_align.ops:
            raise MapError(f"{op.name}: the shift/align unit of '{self.hw.name}' lacks '{need}' "
                           f"(it supports {', '.join(self.hw.shift_align.ops)})")
        return need

    def count_unit_op(self, op: Op, elements: int, streaming: bool = False) -> int:
        """Count ``elements`` of a shift/align op (and its random bits); returns its cycles. A
        ``streaming`` batch follows others through a full pipeline and pays no fill latency."""
        need = self.unit_needs(op)
        random_bits = int(op.params.get("random_bits", 0)) * elements
        cycles = self.unit.cycles(elements, random_bits, need == "divide", streaming)
        self.actions.random_bits += random_bits
        self.actions.shift_align_ops[f"{op.params.get('op', op.kind)}:{max(t.bits for t in op.reads + op.writes)}"] \
            += elements
        return cycles

    def shift_align(self, op: Op, op_busy: dict, placed: OpPlacement | None = None,
                    links: tuple[list[str], list[str]] | None = None):
        """An element-wise op on the shift/align unit, staged through its bank. Without a
        placement (the fixed mapping) a tensor larger than the bank streams through DRAM; with
        one, a tensor streams through DRAM unless the placement has it on chip."""
        hw = self.hw
        elements = max([t.elements for t in op.reads + op.writes] or [0])
        cycles = self.count_unit_op(op, elements)
        bank = hw.bank_for("weight" if op.kind == "update" else "output")
        spilled = {"read": 0, "write": 0}
        for direction, tensors, counter, ids in (
                ("read", op.reads, self.actions.sram_read_bits, links[0] if links else None),
                ("write", op.writes, self.actions.sram_write_bits, links[1] if links else None)):
            for j, t in enumerate(tensors):
                counter[bank.name] += t.size_bits
                if placed is None:
                    off_chip = t.size_bits > 8 * bank.capacity_bytes
                else:
                    on_chip = placed.reads_on_chip if direction == "read" else placed.writes_on_chip
                    off_chip = ids[j] not in on_chip
                if off_chip:
                    spilled[direction] += -(-t.size_bits // 8)
        self.busy["shift_align"] += cycles
        op_busy["shift_align"] += cycles
        end = self.env.now + cycles
        if spilled["read"] or spilled["write"]:  # a tensor larger than its bank streams through DRAM
            self.actions.dram_read_bytes += spilled["read"]
            self.actions.dram_write_bytes += spilled["write"]
            op_busy["dram_read_bytes"] += spilled["read"]
            op_busy["dram_write_bytes"] += spilled["write"]
            end = max(end, self.book_dram(spilled["read"] + spilled["write"], op_busy))
        yield from self.wait_until(end)


def _fusions(ops: list[Op], hw: HardwareSpec) -> dict[int, tuple[Op, ...]]:
    """GEMM index → the element-wise op right after it that consumes its whole result (the same
    number of elements), when the shift/align unit sits on the write-back path. Reductions
    (WAGE's max|x|) need the whole tensor first and are never fused; pooling is fused only by a
    searched mapping whose blocks hold whole pooling windows (:func:`_pool_chain`)."""
    if not hw.shift_align.on_writeback:
        return {}
    return {i: (nxt,) for i, (op, nxt) in enumerate(zip(ops, ops[1:]))
            if op.kind in ("gemm", "conv2d") and nxt.kind == "eltwise" and nxt.reads
            and nxt.reads[0].elements == op.writes[0].elements}


def _pool_chain(ops: list[Op], i: int, hw: HardwareSpec) -> tuple[tuple[Op, ...], int]:
    """The pooling (and the element-wise ops on its result) that a convolution's write-back can
    apply, and the M rows a block must hold whole for it (``size`` image rows); ((), 1) if none.
    The convolution's M runs over (image, row, column), so a block of whole multiples of
    ``size · out_w`` rows holds whole pooling windows."""
    op = ops[i]
    p = op.params
    if (not hw.shift_align.on_writeback or op.kind != "conv2d" or i + 1 >= len(ops)
            or p.get("m") != p.get("batch", 0) * p.get("out_h", 0) * p.get("out_w", 0)):
        return (), 1
    pool = ops[i + 1]
    size = int(pool.params.get("size", 0) or 0)
    if (pool.kind != "pool" or pool.params.get("op") not in ("max", "avg") or size < 1 or not pool.reads
            or pool.reads[0].elements != op.writes[0].elements or p["out_h"] % size or p["out_w"] % size
            or "compare" not in hw.shift_align.ops):
        return (), 1
    chain = [pool]
    for nxt in ops[i + 2:]:
        if nxt.kind != "eltwise" or not nxt.reads or nxt.reads[0].elements != chain[-1].writes[0].elements:
            break
        chain.append(nxt)
        break  # one element-wise op after the pooling, as after a GEMM
    return tuple(chain), size * p["out_w"]


MODELS = ("runs", "tiles")
"""Simulation models: tiles as runs with periodic jumps (fast), every tile (the reference)."""

DEFAULT_MAX_TILES = 200_000_000
"""Above this many tiles per step a simulation is refused up front. The fast model's work grows with
the run boundaries a step crosses, not with its tiles (VGG8B on edge_8x8, 3.2 M tiles, in 0.12 s);
only the tile count itself (planning, the runs' sizes) grows with them."""
REFERENCE_MAX_TILES = 5_000_000
"""The default limit of the per-tile reference model (``model="tiles"``): a few minutes and over a GB."""
SECONDS_PER_TILE = 4e-5
"""Wall time per tile of the per-tile model (LeNet-5 on edge_8x8: 239,520 tiles in 7.6 s), for the
estimate in its refusal message."""


class WorkLimitError(MapError):
    """A step too large to simulate within the tile limit (message is user-facing)."""


def result_bytes(op: Op, fused: tuple[Op, ...] = ()) -> int:
    """The DRAM bytes of a GEMM/conv op's result as it leaves: after the ops fused on its write-back."""
    last = fused[-1].writes[0] if fused else op.writes[0]
    return -(-last.size_bits // 8)


def compulsory_dram_bytes(op: Op, fused: tuple[Op, ...] = (), on_chip: tuple[str, ...] = (),
                          keep_result: bool = False) -> int:
    """The DRAM traffic a GEMM/conv op cannot avoid: each operand read once (un-expanded), the
    result written once, as it leaves (after the ops fused on its write-back, if any); operands
    already ``on_chip`` (``input``, ``weight``) and a result that stays cost nothing."""
    reads = sum(-(-t.size_bits // 8) for operand, t in zip(("input", "weight"), op.reads[:2])
                if operand not in on_chip)
    return reads + (0 if keep_result else result_bytes(op, fused))


@dataclass(frozen=True)
class GemmPlan:
    """How one GEMM/conv op is mapped: the mapping, whether the search chose it (else it is the
    fixed one, executed by :func:`.mapper.tile_op`), and its tile count."""

    mapping: Mapping
    searched: bool
    tiles: int
    tiles_per_block: int
    estimate: Estimate | None = None
    fused: tuple[Op, ...] = ()
    """The ops applied on the write-back path (a requantisation; with a searched mapping also pooling)."""

    def loop_order(self, dataflow: str) -> str:
        """Block loops outer → inner over the GEMM's dimensions, e.g. ``n>m>k``."""
        return ">".join(GEMM_DIM[dataflow][d] for d in self.mapping.order)

    def block(self, dataflow: str) -> dict[str, int]:
        """Block extents in M, N, K (the fixed mapping: one fold and the greedy stream chunk)."""
        return dict(zip("mnk", unmap_tile(dataflow, *self.mapping.tile)))


#: The GEMM dimension behind each mapped dimension, per dataflow (see :func:`.systolic.map_tile`).
GEMM_DIM = {"os": {"rows": "m", "cols": "n", "stream": "k"}, "ws": {"rows": "k", "cols": "n", "stream": "m"},
            "is": {"rows": "k", "cols": "m", "stream": "n"}}


def default_energies(hw: HardwareSpec) -> AccessEnergies:
    """The cost model's prices of ``hw``, which the mapping search weighs."""
    from ..cost.model import CostModel  # the prices come from the cost room; imported late to keep hw light
    return CostModel(hw).access_energies()


def plan_step(trace: Trace, hw: HardwareSpec, energies: AccessEnergies | None = None) -> dict[int, GemmPlan]:
    """The mapping of every GEMM/conv op of ``trace`` (by index) on ``hw``: the search's choice under
    ``hw.mapping`` (the fixed mapping when it is ``fixed`` or when the search finds nothing better),
    and the ops its write-back applies; a :class:`MapError` when an op does not fit the banks.
    A searched convolution followed by pooling pools on the way out when blocks of whole pooling
    windows fit; otherwise it maps as if the pooling were not there."""
    links = tensor_links(trace.ops)
    last_read: dict[str, int] = {}
    for j, (reads, _) in enumerate(links):
        for r in reads:
            last_read[r] = j

    def unseen(i: int, chain: tuple[Op, ...]) -> tuple[Op, ...]:
        """The longest prefix of ``chain`` (the ops after GEMM ``i``) whose intermediate results no
        later op reads: what is applied on the write-back is never written anywhere."""
        for length in range(len(chain), 0, -1):
            inner = [w for j in range(i, i + length) for w in links[j][1]]
            if all(last_read.get(w, -1) <= i + length for w in inner):
                return chain[:length]
        return ()

    fused = {i: c for i, c in ((i, unseen(i, c)) for i, c in _fusions(trace.ops, hw).items()) if c}
    plans = {}
    for i, op in enumerate(trace.ops):
        if op.kind not in ("gemm", "conv2d"):
            continue
        if hw.mapping == "fixed":
            plans[i] = GemmPlan(fixed_mapping(op, hw), False, count_tiles(op, hw), 1, fused=fused.get(i, ()))
            continue
        try:
            fixed = fixed_mapping(op, hw)
        except MapError:  # the fixed mapping cannot hold its tiles; the search may still map the op
            fixed = None
        if energies is None:
            energies = default_energies(hw)
        chain, multiple = _pool_chain(trace.ops, i, hw)
        if unseen(i, chain) != chain:
            chain = ()  # an intermediate of the pooling chain is read later: pool as a pass of its own
        choice = None
        if chain:
            pr = problem_of(op, hw, chain[-1].writes[0].bits, result_bytes(op, chain), multiple)
            choice = choose(pr, energies, hw.mapping, None)
        if choice is None or choice.mapping is None:
            chain = fused.get(i, ())
            pr = problem_of(op, hw, chain[-1].writes[0].bits if chain else op.writes[0].bits, result_bytes(op, chain))
            choice = choose(pr, energies, hw.mapping, fixed)
        if choice.mapping is None:
            if fixed is None:
                fixed_mapping(op, hw)  # nothing fits: raises the MapError naming the op, the bank and the bytes
            plans[i] = GemmPlan(fixed, False, count_tiles(op, hw), 1, choice.estimate, chain)
            continue
        per_block = (-(-choice.mapping.tile[0] // hw.array.rows)) * (-(-choice.mapping.tile[1] // hw.array.cols))
        plans[i] = GemmPlan(choice.mapping, True, count_mapped_tiles(op, hw, choice.mapping), per_block,
                            choice.estimate, chain)
    return plans


def plan_runs(op: Op, hw: HardwareSpec, plan: GemmPlan) -> Run:
    """The tiles the simulator executes for a GEMM/conv op under its plan, as runs (:mod:`.runs`)."""
    if not plan.searched:
        return fixed_runs(op, hw)
    return mapping_runs(op, hw, plan.mapping, result_bytes(op, plan.fused),
                        tuple(f.reads[0].elements for f in plan.fused))


def plan_tiles(op: Op, hw: HardwareSpec, plan: GemmPlan) -> list[Tile]:
    """The tiles the simulator executes for a GEMM/conv op under its plan, one object each (the
    per-tile reference)."""
    if not plan.searched:
        return tile_op(op, hw)
    return tile_mapping(op, hw, plan.mapping, result_bytes(op, plan.fused),
                        tuple(f.reads[0].elements for f in plan.fused))


def _write_back_chains(plans: dict[int, GemmPlan]) -> tuple[dict[int, tuple[Op, ...]], set[int]]:
    """GEMM index → the ops its write-back applies, and the indices of those ops (no pass of their own)."""
    fused = {i: plan.fused for i, plan in plans.items() if plan.fused}
    return fused, {j for i, chain in fused.items() for j in range(i + 1, i + 1 + len(chain))}


def place_step(trace: Trace, hw: HardwareSpec, plans: dict[int, GemmPlan]
               ) -> tuple[Placement, dict[int, OpPlacement], list[dict[str, int]]]:
    """Where every tensor of the step lives between ops under ``plans`` (:mod:`.placement`): the
    settled placement, each op's placement (ops done on a write-back have none) and each op's
    working set per bank (its mapping's footprint)."""
    names = [b.name for b in hw.banks]
    homes = [hw.bank_for("weight" if op.kind == "update" else "output").name for op in trace.ops]
    working = [dict(zip(names, footprint_bytes(problem_of(op, hw, op.writes[0].bits), plans[i].mapping)))
               if i in plans else {} for i, op in enumerate(trace.ops)]
    fused, skip = _write_back_chains(plans)
    placement = Placement(trace.ops, {b.name: b.capacity_bytes for b in hw.banks})
    return placement, placement.settle(homes, working, fused, skip), working


def check_step(trace: Trace, hw: HardwareSpec, max_tiles: int | None = DEFAULT_MAX_TILES,
               energies: AccessEnergies | None = None) -> int:
    """The number of tiles one step of ``trace`` makes on ``hw``, without building any; a
    :class:`MapError` when an op does not fit the banks, a :class:`WorkLimitError` above ``max_tiles``."""
    if hw.array.datatype == "fp32":
        trace = trace.at_width(32)
    return _check_total(trace, hw, plan_step(trace, hw, energies), max_tiles)


def _check_total(trace: Trace, hw: HardwareSpec, plans: dict[int, GemmPlan], max_tiles: int | None,
                 per_tile: bool = False) -> int:
    total = sum(p.tiles for p in plans.values())
    if max_tiles is not None and total > max_tiles:
        estimate = f" (about {total * SECONDS_PER_TILE / 60:,.0f} min of simulation)" if per_tile else ""
        raise WorkLimitError(f"{trace.workload} on {hw.name or hw.source_file}: one training step is "
                             f"{total:,} tiles{estimate}, more than the limit of "
                             f"{max_tiles:,}; use a larger array or larger SRAM banks, a smaller batch, "
                             "or raise the limit with --max-tiles")
    return total


def _trace_digest(trace: Trace) -> str:
    """A content digest of a trace, computed once per trace object."""
    cached = getattr(trace, "_content_digest", None)
    if cached is None:
        cached = hashlib.sha256(json.dumps(trace.to_json(), sort_keys=True).encode()).hexdigest()
        trace._content_digest = cached  # a plain dataclass: the digest rides along with it
    return cached


def timing_key(trace: Trace, hw: HardwareSpec, plans: dict[int, GemmPlan]) -> tuple:
    """Everything a simulation's numbers depend on: the trace, the hardware fields the model reads
    (not the clock, node, DRAM type, zero gating or numerics, which only price or train) and each
    op's plan (which the prices choose)."""
    a, d = hw.array, hw.dram
    return (_trace_digest(trace), a.rows, a.cols, a.dataflow, a.datatype, hw.banks, d.bytes_per_cycle,
            d.latency_cycles, hw.shift_align, hw.random_bits_per_cycle, hw.timing, hw.mapping,
            tuple((i, p.mapping, p.searched, p.tiles_per_block, tuple(f.name for f in p.fused))
                  for i, p in sorted(plans.items())))


class _SimulationMemo:
    """The last simulations of this process by :func:`timing_key`: sweep points that differ only in
    what prices a step (clock, node, DRAM type, zero gating) share one simulation."""

    def __init__(self, size: int = 64) -> None:
        self.size, self.entries, self.hits, self.misses = size, OrderedDict(), 0, 0

    def get(self, key: tuple):
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return copy.deepcopy(found)

    def put(self, key: tuple, value) -> None:
        self.entries[key] = copy.deepcopy(value)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


SIMULATIONS = _SimulationMemo()


def simulate(trace: Trace, hw: HardwareSpec, progress: Callable[[dict], None] | None = None,
             max_tiles: int | None = DEFAULT_MAX_TILES,
             energies: AccessEnergies | None = None, memo: bool = True,
             model: str = "runs") -> tuple[Timing, ActionCounts]:
    """Execute every op of ``trace`` on ``hw``; returns the timing and the action counts.

    A float32 datapath (``pe_array.datatype: fp32``) runs the same ops with every tensor
    32 bits wide. Each GEMM/conv op runs the mapping :func:`plan_step` chooses (priced with
    ``energies``, by default the cost model's). A step of more than ``max_tiles`` tiles is
    refused before any work; ``progress`` receives ``map`` and ``simulate`` events. A step
    simulated before in this process with the same :func:`timing_key` is returned from
    :data:`SIMULATIONS` (``memo=False`` always simulates).

    ``model``: ``runs`` (the default) executes each op's tiles as runs and advances settled
    pipelines by whole periods (:mod:`.pipeline`); ``tiles`` builds and simulates every tile, the
    reference the fast model must equal exactly (in every number but the event count)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    if hw.array.datatype == "fp32":
        trace = trace.at_width(32)
    gemm_plans = plan_step(trace, hw, energies)
    if model == "tiles" and max_tiles == DEFAULT_MAX_TILES:
        max_tiles = REFERENCE_MAX_TILES
    total_tiles = _check_total(trace, hw, gemm_plans, max_tiles, per_tile=model == "tiles")
    key = timing_key(trace, hw, gemm_plans) + (model,) if memo else None
    if key is not None:
        found = SIMULATIONS.get(key)
        if found is not None:
            return found
    result = _simulate(trace, hw, gemm_plans, progress, total_tiles, model)
    if key is not None:
        SIMULATIONS.put(key, result)
    return result


def _simulate(trace: Trace, hw: HardwareSpec, gemm_plans: dict[int, GemmPlan],
              progress: Callable[[dict], None] | None, total_tiles: int,
              model: str = "runs") -> tuple[Timing, ActionCounts]:
    """The SimPy run of one step under its plans (see :func:`simulate`)."""
    fused, on_write_back = _write_back_chains(gemm_plans)
    step = _Step(hw, jumps=model == "runs")
    make_tiles = plan_runs if model == "runs" else plan_tiles
    timings: list[OpTiming] = []
    plans = []
    tiles_done = 0
    for i, op in enumerate(trace.ops):
        tiles = None
        if i in gemm_plans:
            tiles = make_tiles(op, hw, gemm_plans[i])
        plans.append((op, tiles))
        if progress and tiles is not None:
            tiles_done += gemm_plans[i].tiles
            progress({"event": "map", "done": tiles_done, "total": total_tiles})

    placement = placed_ops = None
    if hw.mapping != "fixed":
        placement, placed_ops, _ = place_step(trace, hw, gemm_plans)

    def controller():
        tiles_run = 0
        for i, (op, tiles) in enumerate(plans):
            if progress:
                progress({"event": "simulate", "op": i, "ops": len(plans), "done": tiles_run, "total": total_tiles})
            tiles_run += gemm_plans[i].tiles if i in gemm_plans else 0
            start = step.env.now
            op_busy: dict[str, int] = defaultdict(int)
            step.enter_phase(op.phase)
            if i in on_write_back:  # done on the previous GEMM's write-back
                step.unit_needs(op)
                timings.append(OpTiming(op.name, op.kind, op.phase, 0, 0, 0, 0, 0, "fused", 0))
                continue
            placed = placed_ops[i] if placed_ops is not None else None
            if placed is not None:
                yield from step.stash(placed.stash_bytes, op_busy)
            local, keep = {}, False
            if tiles is not None:
                if placed is not None:
                    reads, writes = placement.links[i]
                    local = {operand: placed.reads_on_chip[identity]
                             for operand, identity in zip(("input", "weight"), reads)
                             if identity in placed.reads_on_chip}
                    result = placement.links[i + len(fused[i])][1] if i in fused else writes
                    keep = bool(result) and all(r in placed.writes_on_chip for r in result)
                yield from step.gemm(op, tiles, op_busy, fused.get(i, ()), gemm_plans[i].tiles_per_block, local, keep)
            else:
                yield from step.shift_align(op, op_busy, placed, placement.links[i] if placement else None)
            cycles = int(step.env.now - start)
            sram = max([v for k, v in op_busy.items() if k.startswith("sram:")] or [0])
            op_busy["sram_ports"] = sram
            bound = max(("pe_array", "dram", "shift_align", "sram_ports"), key=lambda c: op_busy.get(c, 0))
            plan = gemm_plans.get(i)
            timings.append(OpTiming(op.name, op.kind, op.phase, cycles, plan.tiles if plan else 0,
                                    op_busy.get("pe_array", 0),
                                    op_busy.get("dram", 0), op_busy.get("shift_align", 0), bound, sram,
                                    op_busy.get("dram_read_bytes", 0), op_busy.get("dram_write_bytes", 0),
                                    compulsory_dram_bytes(op, fused.get(i, ()), tuple(local), keep)
                                    if tiles is not None else 0,
                                    mapping=("searched" if plan.searched else "fixed") if plan else "",
                                    loop_order=plan.loop_order(hw.array.dataflow) if plan else "",
                                    block=plan.block(hw.array.dataflow) if plan else {},
                                    resident=list(plan.mapping.resident) if plan else []))

    step.env.process(controller())
    step.env.run()
    return Timing(int(step.env.now), timings, dict(step.busy), step.events), step.total_actions()
