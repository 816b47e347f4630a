"""The SimPy model: a training-step trace executed tile by tile on the accelerator.

Processes per GEMM/conv op (SimPy's producer/consumer style): a loader moves each tile's
operands over DRAM into double-buffered SRAM (a Store of two tiles), the PE array takes
tiles and computes them, and a writer drains finished outputs back to DRAM. The DRAM
channel and each bank's ports are FIFO resources kept as booking calendars
(:class:`Calendar`): a process books a transfer when it issues it and sleeps until it
ends, which is what a SimPy FIFO ``Resource`` would do, at one event instead of four.

PE timing follows the hardware's convention. ``archsim``: a tile's preload, stream and
drain (:func:`.systolic.tile_phases`) overlap with its neighbours through double-buffered
stationary registers, as :func:`.systolic.pipelined_cycles` describes, and stall when the
loader is late. ``scalesim``: each fold takes its full SCALE-Sim count, one after another.

Element-wise ops (shifts, rounding, saturation, constant division, ReLUs, stochastic
rounding, pooling, updates) run on the shift/align unit: ``pipeline depth + ⌈elements /
lanes⌉`` cycles, longer if the random-bit source or a divider's latency limits it. Their
tensors stay on chip when they fit in the bank; larger ones stream through DRAM.
Ops run in trace order, one after the other. One SimPy event stands for one tile
transfer or tile computation, never for a cycle.
"""
from __future__ import annotations

import heapq
import math
from collections import defaultdict
from typing import Callable

import simpy

from ..config.hardware import HardwareSpec
from ..trace import Op, Trace
from .actions import ActionCounts, OpTiming, Timing
from .mapper import MapError, Tile, count_tiles, tile_op
from .systolic import tile_cycles, tile_phases

STATIONARY = {"ws": "weight", "os": "output", "is": "input"}
UNIT_CAPABILITY = {"stochastic_round": "stochastic_round", "divide_clip": "divide", "divide_decay_subtract": "divide",
                   "nitro_relu": "relu", "nitro_relu_backward": "relu", "relu_shift_round_clip": "shift",
                   "shift_round_clip": "shift", "dropout": "divide", "max_abs": "compare", "max": "compare",
                   "route": "compare", "subtract_target": "saturate", "subtract_clip": "saturate"}


class Calendar:
    """A FIFO resource with ``servers`` identical servers, booked at request time.

    Requests are issued at non-decreasing simulation times, so taking the server that
    frees first gives exactly the start times of a FIFO multi-server queue."""

    def __init__(self, servers: int) -> None:
        self.free_at = [0] * servers

    def book(self, now: int, cycles: int) -> int:
        """Occupy one server for ``cycles`` from the earliest moment ≥ ``now``; returns the end time."""
        end = max(now, self.free_at[0]) + cycles
        heapq.heapreplace(self.free_at, end)
        return end


class _Step:
    """State of one simulation: the environment, shared resources, counters."""

    def __init__(self, hw: HardwareSpec) -> None:
        self.hw = hw
        self.env = simpy.Environment()
        self.dram = Calendar(1)
        self.unit = Calendar(1)  # the shift/align unit when it works on the write-back path
        self.ports = {b.name: Calendar(b.ports) for b in hw.banks}
        self.word_bits = {b.name: b.word_bits for b in hw.banks}
        self.busy: dict[str, int] = defaultdict(int)
        self.phase_actions: dict[str, ActionCounts] = {}
        self.actions = ActionCounts()  # the counts of the phase whose op runs now
        self.events = 0

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
        cycles = math.ceil(nbytes / self.hw.dram.bytes_per_cycle)
        self.busy["dram"] += cycles
        op_busy["dram"] += cycles
        return self.dram.book(self.env.now, cycles)

    def book_sram(self, accesses: dict[str, int], op_busy: dict) -> int:
        """Book one port of each bank for ⌈bits / word width⌉ cycles from now; returns when all are done."""
        end = self.env.now
        for bank, bits in accesses.items():
            if bits > 0:
                cycles = math.ceil(bits / self.word_bits[bank])
                self.busy[f"sram:{bank}"] += cycles
                op_busy[f"sram:{bank}"] += cycles
                end = max(end, self.ports[bank].book(self.env.now, cycles))
        return end

    def wait_until(self, time: int):
        """One event: sleep until ``time`` (no event when it is now)."""
        if time > self.env.now:
            self.events += 1
            yield self.env.timeout(time - self.env.now)

    def gemm(self, op: Op, tiles: list[Tile], op_busy: dict, fused: Op | None = None):
        """Load, compute and write back the tiles of ``op``; a ``fused`` element-wise op is applied
        by the shift/align unit on the write-back path, so only its narrower result leaves."""
        hw, env = self.hw, self.env
        df = hw.array.dataflow
        stationary = STATIONARY[df]
        loaded = simpy.Store(env, capacity=2)
        done = simpy.Store(env, capacity=2)
        a_bits, b_bits = op.reads[0].bits, op.reads[1].bits
        mac_key = "fp32" if hw.array.datatype == "fp32" else f"{a_bits}x{b_bits}"
        # bits latched per MAC: operands that move through the PE and the partial sum
        register_bits = {"ws": a_bits, "is": b_bits, "os": a_bits + b_bits}[df] + op.params["acc_bits"]
        nonzero = (1 - op.reads[0].zero_fraction) * (1 - op.reads[1].zero_fraction)
        self.actions.zero_operand_macs[mac_key] += round(op.macs * (1 - nonzero))
        banks = {o: hw.bank_for(o).name for o in ("input", "weight", "output")}
        out_bank = banks["output"]

        def fetched_bits(t: Tile, from_dram: bool) -> dict[str, int]:
            """Bits per bank of the operands a tile brings in (the stationary one only when it changes):
            as they arrive from DRAM, or as the array consumes them (im2col-expanded)."""
            out: dict[str, int] = defaultdict(int)
            sizes = ((t.input_fetch_bytes, t.weight_fetch_bytes) if from_dram else (t.input_bytes, t.weight_bytes))
            for operand, size in zip(("input", "weight"), sizes):
                if operand != stationary or t.new_stationary:
                    out[banks[operand]] += 8 * size
            return out

        def loader():
            yield from self.wait_until(env.now + hw.dram.latency_cycles)  # first access; later bursts pipeline
            for t in tiles:
                writes = fetched_bits(t, from_dram=True)
                nbytes = sum(writes.values()) // 8
                self.actions.dram_read_bytes += nbytes
                op_busy["dram_read_bytes"] += nbytes
                if nbytes:
                    yield from self.wait_until(self.book_dram(nbytes, op_busy))
                for bank, bits in writes.items():
                    self.actions.sram_write_bits[bank] += bits
                yield from self.wait_until(self.book_sram(writes, op_busy))
                yield loaded.put((t, env.now))
                self.events += 1

        def pe_array():
            stream_start = stream_end = 0
            for i, _ in enumerate(tiles):
                t, loaded_at = yield loaded.get()
                self.events += 1
                if hw.timing == "scalesim":
                    cycles = tile_cycles(df, t.m, t.n, t.k, hw.array.rows, hw.array.cols, "scalesim")
                    stream_start, stream_end, drain = env.now, env.now + cycles, 0
                else:  # preload into shadow registers once the data is here and the previous tile streams
                    preload, stream, drain = tile_phases(df, t.m, t.n, t.k, t.new_stationary)
                    preload_done = max(loaded_at, stream_start if i else loaded_at) + preload
                    stream_start = max(env.now, preload_done)
                    stream_end = stream_start + stream
                compute = stream_end - env.now
                self.busy["pe_array"] += compute
                op_busy["pe_array"] += compute
                macs = t.m * t.n * t.k
                self.actions.macs_by_width[mac_key] += macs
                self.actions.register_bits += register_bits * macs
                access = fetched_bits(t, from_dram=False)
                for bank, bits in access.items():
                    self.actions.sram_read_bits[bank] += bits
                self.actions.sram_write_bits[out_bank] += 8 * t.output_bytes
                access[out_bank] += 8 * t.output_bytes
                if not t.first_partial:  # accumulate onto earlier partial sums
                    self.actions.sram_read_bits[out_bank] += 8 * t.output_bytes
                    access[out_bank] += 8 * t.output_bytes
                # the stream ends when both the array and the SRAM ports feeding it are done
                stream_end = max(stream_end, self.book_sram(access, op_busy))
                yield from self.wait_until(stream_end)
                yield done.put((t, stream_end + drain))
                self.events += 1
            if drain:  # the last tile's drain is exposed; earlier ones hid under the next stream
                self.busy["pe_array"] += drain
                op_busy["pe_array"] += drain

        def writer():
            for _ in tiles:
                t, ready = yield done.get()
                self.events += 1
                yield from self.wait_until(ready)
                if t.last_partial:
                    self.actions.sram_read_bits[out_bank] += 8 * t.output_bytes
                    yield from self.wait_until(self.book_sram({out_bank: 8 * t.output_bytes}, op_busy))
                    out_bytes = t.output_bytes
                    if fused is not None:
                        cycles = self.count_unit_op(fused, t.m * t.n, streaming=True)
                        self.busy["shift_align"] += cycles
                        op_busy["shift_align"] += cycles
                        yield from self.wait_until(self.unit.book(env.now, cycles))
                        out_bytes = -(-t.m * t.n * fused.writes[0].bits // 8)
                    self.actions.dram_write_bytes += out_bytes
                    op_busy["dram_write_bytes"] += out_bytes
                    yield from self.wait_until(self.book_dram(out_bytes, op_busy))

        yield simpy.AllOf(env, [env.process(loader()), env.process(pe_array()), env.process(writer())])

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
        hw = self.hw
        need = self.unit_needs(op)
        depth = 0 if streaming else (hw.shift_align.pipeline_depth
                                     + (hw.shift_align.divide_latency_cycles if need == "divide" else 0))
        cycles = depth + math.ceil(elements / hw.shift_align.lanes)
        random_bits = int(op.params.get("random_bits", 0)) * elements
        if random_bits:
            cycles = max(cycles, math.ceil(random_bits / hw.random_bits_per_cycle))
            self.actions.random_bits += random_bits
        self.actions.shift_align_ops[f"{op.params.get('op', op.kind)}:{max(t.bits for t in op.reads + op.writes)}"] \
            += elements
        return cycles

    def shift_align(self, op: Op, op_busy: dict):
        hw = self.hw
        elements = max([t.elements for t in op.reads + op.writes] or [0])
        cycles = self.count_unit_op(op, elements)
        bank = hw.bank_for("weight" if op.kind == "update" else "output")
        spilled = {"read": 0, "write": 0}
        for direction, tensors, counter in (("read", op.reads, self.actions.sram_read_bits),
                                            ("write", op.writes, self.actions.sram_write_bits)):
            for t in tensors:
                counter[bank.name] += t.size_bits
                if t.size_bits > 8 * bank.capacity_bytes:
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


def _fusions(ops: list[Op], hw: HardwareSpec) -> dict[int, Op]:
    """GEMM index → the element-wise op right after it that consumes its whole result (the same
    number of elements), when the shift/align unit sits on the write-back path. Reductions
    (WAGE's max|x|) and pooling need the whole tensor first and are never fused."""
    if not hw.shift_align.on_writeback:
        return {}
    return {i: nxt for i, (op, nxt) in enumerate(zip(ops, ops[1:]))
            if op.kind in ("gemm", "conv2d") and nxt.kind == "eltwise" and nxt.reads
            and nxt.reads[0].elements == op.writes[0].elements}


DEFAULT_MAX_TILES = 5_000_000
"""Above this many tiles per step a simulation is refused up front (a few minutes and over a GB)."""
SECONDS_PER_TILE = 4e-5
"""Wall time per tile of mapping plus simulation (LeNet-5 on edge_8x8: 239,520 tiles in 7.6 s), for
the estimate in the refusal message."""


class WorkLimitError(MapError):
    """A step too large to simulate within the tile limit (message is user-facing)."""


def compulsory_dram_bytes(op: Op, fused: Op | None = None) -> int:
    """The DRAM traffic a GEMM/conv op cannot avoid: each operand read once (un-expanded), the
    result written once, at the width it leaves with (the fused element-wise op's, if any)."""
    out_bits = fused.writes[0].bits if fused is not None else op.writes[0].bits
    return sum(-(-t.size_bits // 8) for t in op.reads[:2]) + -(-op.writes[0].elements * out_bits // 8)


def check_step(trace: Trace, hw: HardwareSpec, max_tiles: int | None = DEFAULT_MAX_TILES) -> int:
    """The number of tiles one step of ``trace`` makes on ``hw``, without building any; a
    :class:`MapError` when an op does not fit the banks, a :class:`WorkLimitError` above ``max_tiles``."""
    if hw.array.datatype == "fp32":
        trace = trace.at_width(32)
    total = sum(count_tiles(op, hw) for op in trace.ops if op.kind in ("gemm", "conv2d"))
    if max_tiles is not None and total > max_tiles:
        minutes = total * SECONDS_PER_TILE / 60
        raise WorkLimitError(f"{trace.workload} on {hw.name or hw.source_file}: one training step is "
                             f"{total:,} tiles (about {minutes:,.0f} min of simulation), more than the limit of "
                             f"{max_tiles:,}; use a larger array or larger SRAM banks, a smaller batch, "
                             "or raise the limit with --max-tiles")
    return total


def simulate(trace: Trace, hw: HardwareSpec, progress: Callable[[dict], None] | None = None,
             max_tiles: int | None = DEFAULT_MAX_TILES) -> tuple[Timing, ActionCounts]:
    """Execute every op of ``trace`` on ``hw``; returns the timing and the action counts.

    A float32 datapath (``pe_array.datatype: fp32``) runs the same ops with every tensor
    32 bits wide. A step of more than ``max_tiles`` tiles is refused before any work
    (:func:`check_step`); ``progress`` receives ``map`` and ``simulate`` events."""
    total_tiles = check_step(trace, hw, max_tiles)
    if hw.array.datatype == "fp32":
        trace = trace.at_width(32)
    step = _Step(hw)
    timings: list[OpTiming] = []
    plans = []
    tiles_done = 0
    for i, op in enumerate(trace.ops):
        tiles = tile_op(op, hw) if op.kind in ("gemm", "conv2d") else None
        plans.append((op, tiles))
        if progress and tiles:
            tiles_done += len(tiles)
            progress({"event": "map", "done": tiles_done, "total": total_tiles})
    fused = _fusions(trace.ops, hw)

    def controller():
        tiles_run = 0
        for i, (op, tiles) in enumerate(plans):
            if progress:
                progress({"event": "simulate", "op": i, "ops": len(plans), "done": tiles_run, "total": total_tiles})
            tiles_run += len(tiles or [])
            start = step.env.now
            op_busy: dict[str, int] = defaultdict(int)
            step.enter_phase(op.phase)
            if i - 1 in fused:  # done on the previous GEMM's write-back
                step.unit_needs(op)
                timings.append(OpTiming(op.name, op.kind, op.phase, 0, 0, 0, 0, 0, "fused", 0))
                continue
            if tiles is not None:
                yield from step.gemm(op, tiles, op_busy, fused.get(i))
            else:
                yield from step.shift_align(op, op_busy)
            cycles = int(step.env.now - start)
            sram = max([v for k, v in op_busy.items() if k.startswith("sram:")] or [0])
            op_busy["sram_ports"] = sram
            bound = max(("pe_array", "dram", "shift_align", "sram_ports"), key=lambda c: op_busy.get(c, 0))
            timings.append(OpTiming(op.name, op.kind, op.phase, cycles, len(tiles or []), op_busy.get("pe_array", 0),
                                    op_busy.get("dram", 0), op_busy.get("shift_align", 0), bound, sram,
                                    op_busy.get("dram_read_bytes", 0), op_busy.get("dram_write_bytes", 0),
                                    compulsory_dram_bytes(op, fused.get(i)) if tiles is not None else 0))

    step.env.process(controller())
    step.env.run()
    return Timing(int(step.env.now), timings, dict(step.busy), step.events), step.total_actions()
