"""The accelerator's components as SimPy classes, and the GEMM pipeline that runs tiles through them.

One class per component, each owning its resource for the whole step: :class:`DramChannel`
(one FIFO channel), :class:`SramBank` (its ports), :class:`ShiftAlignUnit` with its
:class:`RandomSource`, and the three processes of a GEMM/conv op — :class:`Loader` (the DMA
engine: DRAM → banks, up to two blocks ahead), :class:`PEArray` (preload, stream, drain under
the timing convention) and :class:`Writer` (results and spilled partial sums → DRAM or a bank).
The processes live for the whole step and take one :class:`GemmJob` after another; what is
stationary, what streams and how a tile's phases overlap comes from :class:`.systolic.Dataflow`.

Resources are booking calendars (:class:`Calendar`): a process books a transfer when it issues
it and sleeps until it ends, which is what a SimPy FIFO ``Resource`` would do, at one event
instead of four.

**Runs of tiles.** A job reads its tiles by index from a :class:`.runs.Run` (or a plain list, the
per-tile reference). Inside a repetition of the run the pipeline settles into a periodic
pattern: :class:`PeriodJump` records the pipeline's whole state, relative to the clock and to
the tile the PE array has just taken (pending events, store contents, calendars, each process's
position and times), and when the state one period earlier was the same, it advances every
process by as many whole periods as remain inside the repetition — clock, calendars, queued
events and every counter by that many periods' worth. The system is deterministic and its
input repeats, so this is exactly what simulating those periods would have given; a property
test compares it with the per-tile reference on every shipped workload and config.
"""
from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Sequence

import simpy

from ..trace import Op
from .actions import ActionCounts
from .mapper import Tile
from .runs import Run
from .systolic import tile_cycles, tile_phases


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

    def relative(self, now: int) -> tuple[int, ...]:
        """When each server frees, from ``now`` on (a server already free counts as free now)."""
        return tuple(sorted(max(t - now, 0) for t in self.free_at))

    def shift(self, cycles: int) -> None:
        self.free_at = [t + cycles for t in self.free_at]


class DramChannel:
    """The DRAM channel: one FIFO server moving ``bytes_per_cycle``; the first access of an op
    waits ``latency_cycles``, later bursts pipeline behind it."""

    def __init__(self, bytes_per_cycle: int, latency_cycles: int) -> None:
        self.bytes_per_cycle, self.latency_cycles = bytes_per_cycle, latency_cycles
        self.calendar = Calendar(1)

    def cycles(self, nbytes: int) -> int:
        return math.ceil(nbytes / self.bytes_per_cycle)


class SramBank:
    """One SRAM bank: ``ports`` FIFO ports, each moving one ``word_bits`` word per cycle."""

    def __init__(self, name: str, ports: int, word_bits: int, capacity_bytes: int) -> None:
        self.name, self.word_bits, self.capacity_bytes = name, word_bits, capacity_bytes
        self.calendar = Calendar(ports)

    def cycles(self, bits: int) -> int:
        return math.ceil(bits / self.word_bits)


class RandomSource:
    """The random-bit source stochastic rounding draws from: ``bits_per_cycle``."""

    def __init__(self, bits_per_cycle: int) -> None:
        self.bits_per_cycle = bits_per_cycle

    def cycles(self, bits: int) -> int:
        return math.ceil(bits / self.bits_per_cycle)


class ShiftAlignUnit:
    """The shift/align unit: ``lanes`` elements per cycle behind a pipeline of ``depth`` cycles (a
    divide adds its latency), paced by the random source when an op draws random bits; one
    calendar for the work it does on the write-back path."""

    def __init__(self, lanes: int, depth_cycles: int, divide_latency_cycles: int, random: RandomSource) -> None:
        self.lanes, self.depth_cycles, self.divide_latency_cycles = lanes, depth_cycles, divide_latency_cycles
        self.random = random
        self.calendar = Calendar(1)

    def cycles(self, elements: int, random_bits: int, divide: bool, streaming: bool) -> int:
        """Cycles of ``elements`` (a ``streaming`` batch follows others through a full pipeline and
        pays no fill)."""
        depth = 0 if streaming else self.depth_cycles + (self.divide_latency_cycles if divide else 0)
        cycles = depth + math.ceil(elements / self.lanes)
        return max(cycles, self.random.cycles(random_bits)) if random_bits else cycles


@dataclass
class GemmJob:
    """One GEMM/conv op for the pipeline: its tiles, where its operands live, and its counters."""

    op: Op
    tiles: Run | Sequence[Tile]
    op_busy: dict
    fused: tuple[Op, ...]
    tiles_per_block: int
    local: dict[str, str]          # operand → bank holding it already
    keep_result: bool
    banks: dict[str, str]          # operand → bank name
    stationary: str
    mac_key: str
    register_bits: int
    loaded: simpy.Store = field(repr=False)
    done: simpy.Store = field(repr=False)
    all_done: simpy.Event = field(repr=False)
    finished: list = field(default_factory=list, repr=False)

    @property
    def count(self) -> int:
        return self.tiles.length if isinstance(self.tiles, Run) else len(self.tiles)

    def tile(self, index: int) -> Tile:
        return self.tiles.tile(index) if isinstance(self.tiles, Run) else self.tiles[index]

    def fetched_bits(self, t: Tile) -> dict[str, int]:
        """Bits per bank a tile brings in (its operands' share, partial sums read back)."""
        out: dict[str, int] = defaultdict(int)
        for operand, size in (("input", t.input_fetch_bytes), ("weight", t.weight_fetch_bytes)):
            if operand != self.stationary or t.new_stationary or size:
                out[self.banks[operand]] += 8 * size
        if t.output_fetch_bytes:
            out[self.banks["output"]] += 8 * t.output_fetch_bytes
        return out

    def consumed_bits(self, t: Tile) -> dict[str, int]:
        """Bits per bank the array reads for a tile (im2col-expanded; the stationary operand only
        when it changes)."""
        out: dict[str, int] = defaultdict(int)
        for operand, size in (("input", t.input_bytes), ("weight", t.weight_bytes)):
            if operand != self.stationary or t.new_stationary:
                out[self.banks[operand]] += 8 * size
        return out


class _Process:
    """A component process that lives for the whole step and takes jobs from its queue."""

    def __init__(self, step) -> None:
        self.step = step
        self.jobs = simpy.Store(step.env)
        self.cursor = 0          # the next tile this process takes
        self.stage = "idle"      # where it waits (part of the pipeline's state)
        self.process = step.env.process(self.run())

    def run(self):
        while True:
            self.stage = "idle"
            job = yield self.jobs.get()
            self.cursor = 0
            yield from self.work(job)
            job.finished.append(self)
            if len(job.finished) == 3:
                job.all_done.succeed()

    def work(self, job: GemmJob):  # pragma: no cover - every component defines its own
        raise NotImplementedError(f"{type(self).__name__} must define work()")


class Loader(_Process):
    """The DMA engine: each tile's operands from DRAM (or the bank that holds them) into their
    double-buffered banks, then handed to the array through a store of two blocks."""

    def work(self, job: GemmJob):
        step = self.step
        env, actions, op_busy = step.env, step.actions, job.op_busy
        self.stage = "latency"
        yield from step.wait_until(env.now + step.dram.latency_cycles)  # first access; later bursts pipeline
        while self.cursor < job.count:
            t = job.tile(self.cursor)
            self.cursor += 1
            writes = job.fetched_bits(t)
            copies: dict[str, int] = defaultdict(int)
            for operand, size in (("input", t.input_fetch_bytes), ("weight", t.weight_fetch_bytes)):
                if operand in job.local and size:
                    copies[job.local[operand]] += 8 * size
            nbytes = (sum(writes.values()) - sum(copies.values())) // 8
            actions.dram_read_bytes += nbytes
            op_busy["dram_read_bytes"] += nbytes
            if nbytes:
                self.stage = "dram"
                yield from step.wait_until(step.book_dram(nbytes, op_busy))
            if copies:  # on-chip operands are read from the bank that holds them
                for bank, bits in copies.items():
                    actions.sram_read_bits[bank] += bits
                self.stage = "copy"
                yield from step.wait_until(step.book_sram(copies, op_busy))
            for bank, bits in writes.items():
                actions.sram_write_bits[bank] += bits
            self.stage = "fill"
            yield from step.wait_until(step.book_sram(writes, op_busy))
            self.stage = "hand"
            yield job.loaded.put([self.cursor - 1, env.now])
            step.events += 1


class PEArray(_Process):
    """The PE array: takes loaded tiles and computes them. Under the ``archsim`` timing a tile's
    preload overlaps the previous tile's stream (double-buffered stationary registers) and its
    drain the next one's; under ``scalesim`` each tile takes its full count, one after another."""

    def __init__(self, step, dataflow: str, rows: int, cols: int, timing: str) -> None:
        self.dataflow, self.rows, self.cols, self.timing = dataflow, rows, cols, timing
        self.index = self.loaded_at = self.stream_start = self.stream_end = self.drain = 0
        self.jump: PeriodJump | None = None
        super().__init__(step)

    def work(self, job: GemmJob):
        step = self.step
        env, actions, op_busy = step.env, step.actions, job.op_busy
        self.stream_start = self.stream_end = self.drain = 0
        while self.cursor < job.count:
            self.stage = "take"
            self.index, self.loaded_at = yield job.loaded.get()
            step.events += 1
            self.cursor = self.index + 1
            if self.jump is not None:
                self.jump.at_tile(job, self)
            t = job.tile(self.index)
            if self.timing == "scalesim":
                cycles = tile_cycles(self.dataflow, t.m, t.n, t.k, self.rows, self.cols, "scalesim")
                self.stream_start, self.stream_end, self.drain = env.now, env.now + cycles, 0
            else:  # preload into shadow registers once the data is here and the previous tile streams
                preload, stream, self.drain = tile_phases(self.dataflow, t.m, t.n, t.k, t.new_stationary)
                preload_done = max(self.loaded_at, self.stream_start if self.index else self.loaded_at) + preload
                self.stream_start = max(env.now, preload_done)
                self.stream_end = self.stream_start + stream
            compute = self.stream_end - env.now
            step.busy["pe_array"] += compute
            op_busy["pe_array"] += compute
            macs = t.m * t.n * t.k
            actions.macs_by_width[job.mac_key] += macs
            actions.register_bits += job.register_bits * macs
            access = job.consumed_bits(t)
            out_bank = job.banks["output"]
            for bank, bits in access.items():
                actions.sram_read_bits[bank] += bits
            actions.sram_write_bits[out_bank] += 8 * t.output_bytes
            access[out_bank] += 8 * t.output_bytes
            if not t.first_partial:  # accumulate onto earlier partial sums
                actions.sram_read_bits[out_bank] += 8 * t.output_bytes
                access[out_bank] += 8 * t.output_bytes
            # the stream ends when both the array and the SRAM ports feeding it are done
            self.stream_end = max(self.stream_end, step.book_sram(access, op_busy))
            self.stage = "stream"
            yield from step.wait_until(self.stream_end)
            self.stage = "hand"
            yield job.done.put([self.index, self.stream_end + self.drain])
            step.events += 1
        if self.drain:  # the last tile's drain is exposed; earlier ones hid under the next stream
            step.busy["pe_array"] += self.drain
            op_busy["pe_array"] += self.drain


class Writer(_Process):
    """The write-back: finished outputs through the shift/align unit's fused ops (when any) to
    DRAM or, for a result a later op reads on chip, into the output bank; partial sums of a block
    left before its reduction ends go to DRAM."""

    def work(self, job: GemmJob):
        step = self.step
        env, actions, op_busy, fused = step.env, step.actions, job.op_busy, job.fused
        out_bank = job.banks["output"]
        while self.cursor < job.count:
            self.stage = "take"
            index, ready = yield job.done.get()
            step.events += 1
            self.cursor = index + 1
            t = job.tile(index)
            self.stage = "drain"
            yield from step.wait_until(ready)
            if t.last_partial:
                actions.sram_read_bits[out_bank] += 8 * t.output_bytes
                self.stage = "read"
                yield from step.wait_until(step.book_sram({out_bank: 8 * t.output_bytes}, op_busy))
                out_bytes = t.output_bytes
                if fused:
                    cycles = 0
                    elements = t.unit_elements or (t.m * t.n,) * len(fused)  # pooling shrinks them
                    for f, count in zip(fused, elements):  # a pipeline: the slowest stage sets the pace
                        cycles = max(cycles, step.count_unit_op(f, count, streaming=True))
                    step.busy["shift_align"] += cycles
                    op_busy["shift_align"] += cycles
                    self.stage = "unit"
                    yield from step.wait_until(step.unit.calendar.book(env.now, cycles))
                    out_bytes = -(-t.m * t.n * fused[-1].writes[0].bits // 8)  # fixed tiles: one same-size op
                if t.result_bytes is not None:
                    out_bytes = t.result_bytes
                if job.keep_result:  # the result stays in the output bank for its consumer
                    if fused:
                        actions.sram_write_bits[out_bank] += 8 * out_bytes
                        self.stage = "keep"
                        yield from step.wait_until(step.book_sram({out_bank: 8 * out_bytes}, op_busy))
                    continue
                actions.dram_write_bytes += out_bytes
                op_busy["dram_write_bytes"] += out_bytes
                self.stage = "result"
                yield from step.wait_until(step.book_dram(out_bytes, op_busy))
            elif t.spill_bytes:  # the block's partial sums leave before its reduction ends
                actions.sram_read_bits[out_bank] += 8 * t.spill_bytes
                self.stage = "spill-read"
                yield from step.wait_until(step.book_sram({out_bank: 8 * t.spill_bytes}, op_busy))
                actions.dram_write_bytes += t.spill_bytes
                op_busy["dram_write_bytes"] += t.spill_bytes
                self.stage = "spill"
                yield from step.wait_until(step.book_dram(t.spill_bytes, op_busy))


def _counters(step, job: GemmJob) -> dict[tuple, int]:
    """Every counter the pipeline adds to, flat: busy cycles, the op's own, the phase's actions."""
    out = {("busy", k): v for k, v in step.busy.items()}
    out.update({("op", k): v for k, v in job.op_busy.items()})
    for f in fields(ActionCounts):
        if f.name == "by_phase":
            continue
        value = getattr(step.actions, f.name)
        if isinstance(value, dict):
            out.update({(f.name, k): v for k, v in value.items()})
        else:
            out[(f.name,)] = value
    return out


def _add_counters(step, job: GemmJob, delta: dict[tuple, int], times: int) -> None:
    for key, value in delta.items():
        if not value:
            continue
        if key[0] == "busy":
            step.busy[key[1]] += times * value
        elif key[0] == "op":
            job.op_busy[key[1]] += times * value
        elif len(key) == 1:
            setattr(step.actions, key[0], getattr(step.actions, key[0]) + times * value)
        else:
            getattr(step.actions, key[0])[key[1]] += times * value


@dataclass
class _Snapshot:
    state: tuple
    now: int
    counters: dict


class PeriodJump:
    """Advances a settled GEMM pipeline by whole periods of its run (see the module docstring)."""

    def __init__(self, step, loader: Loader, pe: PEArray, writer: Writer) -> None:
        self.step, self.loader, self.pe, self.writer = step, loader, pe, writer
        self.job: GemmJob | None = None
        self.snapshots: dict[int, _Snapshot] = {}
        self.jumps = self.skipped_tiles = 0

    def _names(self, job: GemmJob) -> dict[int, str]:
        return {id(self.loader.process): "loader", id(self.pe.process): "pe", id(self.writer.process): "writer",
                id(job.loaded): "loaded", id(job.done): "done"}

    def _state(self, job: GemmJob, at: int) -> tuple | None:
        """The pipeline's state relative to now and to tile ``at``; None when something foreign is
        queued. Times that can no longer matter are clamped: a loaded tile's time below the PE's
        last stream start (the next preload starts after both), a finished tile's time or a free
        server before now."""
        env = self.step.env
        now = env.now
        names = self._names(job)
        pe = self.pe
        floor = pe.stream_start if pe.timing != "scalesim" else None  # scalesim never waits for a preload

        def loaded(value):
            return (value[0] - at, 0 if floor is None else max(value[1], floor) - now)

        def finished(value):
            return value[0] - at, max(value[1] - now, 0)

        queue = []
        for time, priority, _, event in sorted(env._queue, key=lambda e: e[:3]):
            owners = []
            for callback in event.callbacks:
                name = names.get(id(getattr(callback, "__self__", None)))
                if name is None:
                    return None
                owners.append((name, callback.__name__))
            value = event._value
            if isinstance(value, list):
                value = finished(value) if getattr(event, "resource", None) is job.done else loaded(value)
            elif value is not None:
                return None
            queue.append((time - now, priority, type(event).__name__, tuple(owners), value))
        stores = []
        for store, relative in ((job.loaded, loaded), (job.done, finished)):
            items = store.items  # consecutive tiles, loaded in time order: only a suffix is above the floor
            late = len(items) if store is job.loaded else 0
            if store is job.loaded and floor is not None:
                while late and items[late - 1][1] > floor:
                    late -= 1
            stores.append(((items[0][0] - at, len(items)) if items else None,
                           tuple(relative(v) for v in items[late:]),
                           tuple((names.get(id(e.proc), "?"), relative(e.item)) for e in store.put_queue),
                           tuple(names.get(id(e.proc), "?") for e in store.get_queue)))
        if floor is None:  # what the tile just taken sees of its load time (see PEArray.work)
            taken = 0
        else:
            taken = (max(pe.loaded_at, floor) if pe.index else pe.loaded_at) - now
        processes = ((self.loader.stage, self.loader.cursor - at), (self.writer.stage, self.writer.cursor - at),
                     (taken, pe.stream_start - now, pe.stream_end - now, pe.drain))
        calendars = tuple(c.relative(now) for c in self.step.calendars())
        return tuple(queue), tuple(stores), processes, calendars

    def _shift(self, job: GemmJob, cycles: int, tiles: int) -> None:
        """Move the whole pipeline ``cycles`` later and ``tiles`` further along its run."""
        env = self.step.env
        env._now += cycles
        env._queue = [(time + cycles, priority, eid, event) for time, priority, eid, event in env._queue]
        moved: set[int] = set()

        def move(value) -> None:
            if isinstance(value, list) and id(value) not in moved:
                moved.add(id(value))
                value[0] += tiles
                value[1] += cycles
        for _, _, _, event in env._queue:
            move(event._value)
        for store in (job.loaded, job.done):
            for value in store.items:
                move(value)
            for event in store.put_queue:
                move(event.item)
        for calendar in self.step.calendars():
            calendar.shift(cycles)
        self.loader.cursor += tiles
        self.writer.cursor += tiles
        pe = self.pe
        pe.index += tiles
        pe.cursor += tiles
        pe.loaded_at += cycles
        pe.stream_start += cycles
        pe.stream_end += cycles

    @staticmethod
    def _periods_left(spans: list[tuple[int, int, int]], cursor: int, period: int) -> tuple[int, bool]:
        """For a process at ``cursor`` (working on tile ``cursor − 1``, which lies in ``spans``): how
        many more whole periods its input repeats for, and whether it also repeated over the
        last one (the widest repetition whose period divides ``period``; they nest)."""
        for start, span_period, end in reversed(spans):
            if period % span_period == 0:
                return (end - cursor) // period, cursor - 1 - period >= start
        return 0, False

    def at_tile(self, job: GemmJob, pe: PEArray) -> None:
        """Called when the PE array has taken tile ``pe.index``: record the state when each process's
        input repeats for another period, and jump when the state repeats the one a period back
        (each process stays inside input that repeats with that period: they may sit in different
        repetitions of the run)."""
        if job is not self.job:
            self.job, self.snapshots = job, {}
        runs = job.tiles
        if not isinstance(runs, Run):
            return
        at = pe.index
        own = runs.spans(at)
        if not own:
            return
        cursors = (self.loader.cursor, pe.cursor, self.writer.cursor)
        spans = [runs.spans(max(c - 1, 0)) for c in cursors]
        state = None
        for _, period, _ in own:
            left, back = [], True
            for cursor, where in zip(cursors, spans):
                n, repeated = self._periods_left(where, cursor, period)
                left.append(n)
                back = back and repeated
            periods = min(left)
            if periods < 1:
                continue
            if state is None:
                state = self._state(job, at)
                if state is None:
                    return
            before = self.snapshots.pop((period, at - period), None)
            if back and before is not None and before.state == state:
                now = self.step.env.now
                counters = _counters(self.step, job)
                delta = {k: v - before.counters.get(k, 0) for k, v in counters.items()}
                _add_counters(self.step, job, delta, periods)
                self._shift(job, periods * (now - before.now), periods * period)
                self.jumps += 1
                self.skipped_tiles += periods * period
                return
            self.snapshots[(period, at)] = _Snapshot(state, self.step.env.now, _counters(self.step, job))
