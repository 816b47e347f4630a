"""The SimPy model: a training-step trace executed tile by tile on the accelerator.

Processes per GEMM/conv op (SimPy's producer/consumer style): a loader moves each tile's
operands over DRAM into double-buffered SRAM (a Store of two tiles), the PE array takes
tiles and computes them for the closed-form cycles of :mod:`.systolic`, and a writer
drains finished outputs back to DRAM. DRAM is a shared resource, so loads and
write-backs contend for its bandwidth. Element-wise ops (shifts, rounding, saturation,
constant division, ReLUs, stochastic rounding, pooling, updates) run on the shift/align
unit: ``pipeline depth + ⌈elements / lanes⌉`` cycles, longer if the random-bit source or
a divider's latency limits it. Ops run in trace order, one after the other.
One SimPy event stands for one tile transfer or tile computation, never for a cycle.
"""
from __future__ import annotations

import math
from collections import defaultdict

import simpy

from ..config.hardware import HardwareSpec
from ..trace import Op, Trace
from .actions import ActionCounts, OpTiming, Timing
from .mapper import MapError, Tile, tile_op
from .systolic import tile_cycles

STATIONARY = {"ws": "weight", "os": "output", "is": "input"}
UNIT_CAPABILITY = {"stochastic_round": "stochastic_round", "divide_clip": "divide", "divide_decay_subtract": "divide",
                   "nitro_relu": "relu", "nitro_relu_backward": "relu", "relu_shift_round_clip": "shift",
                   "shift_round_clip": "shift", "dropout": "divide", "max_abs": "compare", "max": "compare",
                   "route": "compare", "subtract_target": "saturate", "subtract_clip": "saturate"}


class _Step:
    """State of one simulation: the environment, shared resources, counters."""

    def __init__(self, hw: HardwareSpec) -> None:
        self.hw = hw
        self.env = simpy.Environment()
        self.dram = simpy.Resource(self.env, capacity=1)
        self.ports = {b.name: simpy.Resource(self.env, capacity=b.ports) for b in hw.banks}
        self.word_bits = {b.name: b.word_bits for b in hw.banks}
        self.busy: dict[str, int] = defaultdict(int)
        self.actions = ActionCounts()
        self.events = 0

    def dram_transfer(self, nbytes: int, op_busy: dict):
        """Hold the DRAM channel for ⌈bytes / bandwidth⌉ cycles."""
        if nbytes <= 0:
            return
        with self.dram.request() as req:
            yield req
            cycles = math.ceil(nbytes / self.hw.dram.bytes_per_cycle)
            self.busy["dram"] += cycles
            op_busy["dram"] += cycles
            self.events += 2
            yield self.env.timeout(cycles)

    def sram_access(self, bank: str, bits: int, op_busy: dict):
        """Hold one port of ``bank`` for ⌈bits / word width⌉ cycles (ports are contended resources)."""
        if bits <= 0:
            return
        with self.ports[bank].request() as req:
            yield req
            cycles = math.ceil(bits / self.word_bits[bank])
            self.busy[f"sram:{bank}"] += cycles
            op_busy[f"sram:{bank}"] += cycles
            self.events += 2
            yield self.env.timeout(cycles)

    def gemm(self, op: Op, tiles: list[Tile], op_busy: dict):
        hw, env = self.hw, self.env
        stationary = STATIONARY[hw.array.dataflow]
        loaded = simpy.Store(env, capacity=2)
        done = simpy.Store(env, capacity=2)
        a_bits, b_bits = op.reads[0].bits, op.reads[1].bits
        banks = {o: hw.bank_for(o).name for o in ("input", "weight", "output")}

        def fetched_bits(t: Tile) -> dict[str, int]:
            """Bits per bank of the operands a tile brings in (the stationary one only when it changes)."""
            out: dict[str, int] = defaultdict(int)
            for operand, size in (("input", t.input_bytes), ("weight", t.weight_bytes)):
                if operand != stationary or t.new_stationary:
                    out[banks[operand]] += 8 * size
            return out

        def loader():
            yield env.timeout(hw.dram.latency_cycles)  # first access latency; later bursts are pipelined
            for t in tiles:
                writes = fetched_bits(t)
                nbytes = sum(writes.values()) // 8
                self.actions.dram_read_bytes += nbytes
                yield from self.dram_transfer(nbytes, op_busy)
                for bank, bits in writes.items():
                    self.actions.sram_write_bits[bank] += bits
                yield simpy.AllOf(env, [env.process(self.sram_access(b, bits, op_busy)) for b, bits in writes.items()])
                yield loaded.put(t)
                self.events += 1

        def pe_array():
            for _ in tiles:
                t = yield loaded.get()
                cycles = tile_cycles(hw.array.dataflow, t.m, t.n, t.k, hw.array.rows, hw.array.cols, hw.timing)
                self.busy["pe_array"] += cycles
                op_busy["pe_array"] += cycles
                macs = t.m * t.n * t.k
                self.actions.macs_by_width[f"{a_bits}x{b_bits}"] += macs
                self.actions.register_accesses += 3 * macs
                access = fetched_bits(t)
                for bank, bits in access.items():
                    self.actions.sram_read_bits[bank] += bits
                self.actions.sram_write_bits[banks["output"]] += 8 * t.output_bytes
                access[banks["output"]] += 8 * t.output_bytes
                if not t.first_partial:  # accumulate onto earlier partial sums
                    self.actions.sram_read_bits[banks["output"]] += 8 * t.output_bytes
                    access[banks["output"]] += 8 * t.output_bytes
                # the tile ends when both the array and the SRAM ports feeding it are done
                yield simpy.AllOf(env, [env.timeout(cycles)] + [env.process(self.sram_access(b, bits, op_busy))
                                                                for b, bits in access.items()])
                yield done.put(t)
                self.events += 2

        def writer():
            for _ in tiles:
                t = yield done.get()
                self.events += 1
                if t.last_partial:
                    self.actions.sram_read_bits[banks["output"]] += 8 * t.output_bytes
                    self.actions.dram_write_bytes += t.output_bytes
                    yield from self.sram_access(banks["output"], 8 * t.output_bytes, op_busy)
                    yield from self.dram_transfer(t.output_bytes, op_busy)

        yield simpy.AllOf(env, [env.process(loader()), env.process(pe_array()), env.process(writer())])

    def shift_align(self, op: Op, op_busy: dict):
        hw = self.hw
        kind = op.params.get("op", op.kind)
        need = UNIT_CAPABILITY.get(kind)
        if need and need not in hw.shift_align.ops:
            raise MapError(f"{op.name}: the shift/align unit of '{hw.name}' lacks '{need}' "
                           f"(it supports {', '.join(hw.shift_align.ops)})")
        elements = max([t.elements for t in op.reads + op.writes] or [0])
        depth = hw.shift_align.pipeline_depth + (hw.shift_align.divide_latency_cycles if need == "divide" else 0)
        cycles = depth + math.ceil(elements / hw.shift_align.lanes)
        random_bits = int(op.params.get("random_bits", 0)) * elements
        if random_bits:
            cycles = max(cycles, math.ceil(random_bits / hw.random_bits_per_cycle))
            self.actions.random_bits += random_bits
        self.actions.shift_align_ops[kind] += elements
        bank = hw.bank_for("weight" if op.kind == "update" else "output").name
        for t in op.reads:
            self.actions.sram_read_bits[bank] += t.size_bits
        for t in op.writes:
            self.actions.sram_write_bits[bank] += t.size_bits
        self.busy["shift_align"] += cycles
        op_busy["shift_align"] += cycles
        self.events += 1
        yield self.env.timeout(cycles)


def simulate(trace: Trace, hw: HardwareSpec) -> tuple[Timing, ActionCounts]:
    """Execute every op of ``trace`` on ``hw``; returns the timing and the action counts."""
    step = _Step(hw)
    timings: list[OpTiming] = []
    plans = [(op, tile_op(op, hw) if op.kind in ("gemm", "conv2d") else None) for op in trace.ops]

    def controller():
        for op, tiles in plans:
            start = step.env.now
            op_busy: dict[str, int] = defaultdict(int)
            if tiles is not None:
                yield from step.gemm(op, tiles, op_busy)
            else:
                yield from step.shift_align(op, op_busy)
            cycles = int(step.env.now - start)
            sram = max([v for k, v in op_busy.items() if k.startswith("sram:")] or [0])
            op_busy["sram_ports"] = sram
            bound = max(("pe_array", "dram", "shift_align", "sram_ports"), key=lambda c: op_busy.get(c, 0))
            timings.append(OpTiming(op.name, op.kind, op.phase, cycles, len(tiles or []), op_busy.get("pe_array", 0),
                                    op_busy.get("dram", 0), op_busy.get("shift_align", 0), bound, sram))

    step.env.process(controller())
    step.env.run()
    return Timing(int(step.env.now), timings, dict(step.busy), step.events), step.actions
