"""Sweep specs: which workloads, which base hardware, which axes, how to sample, what to keep.

A sweep YAML names one or more workloads and a base hardware config (paths relative to the
spec file), axes over any hardware or numeric key by its path as written in the hardware
YAML (``pe_array.rows``, ``sram.banks[ifmap].kbytes`` or ``sram.banks[0].kbytes``,
``numerics[wage].k_g``, ``numerics.k_g`` for every datapath), each with a list of values, a
linear ``range: [start, stop, step]`` (stop included) or a ``log2: [lo, hi]`` range of powers
of two; coupled axes (``same_as: pe_array.rows``, optionally ``times: 2``); a sampling method
(``grid``, ``random``, ``latin_hypercube``); constraints applied after pricing; and the
objectives a report and a search use. Every error names the file, the key path and what was
expected, like every other config.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..config.reader import Section, load_yaml, show

SAMPLING = ("grid", "random", "latin_hypercube")
SEARCH = ("nsga2", "tpe")
DATASET_VARIANTS = ("mini", "full")
CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|<|>|==)\s*([-+0-9.eE]+)\s*$")
WORKLOAD_AXES = ("seed", "epochs")
"""Axes that set the workload's training instead of a hardware key (e.g. ``seed: [1, 2, 3]``)."""
MAX_POINTS = 1_000_000
"""A grid larger than this is refused before anything is built."""
RESULT_METRICS = ("final_test_accuracy", "best_test_accuracy", "cycles_per_step", "latency_s_per_step",
                  "latency_s_per_epoch", "training_latency_s", "energy_j_per_step", "energy_j_per_epoch",
                  "training_energy_j", "area_mm2", "avg_power_w", "tops_per_w", "training_memory_bytes")
"""Headline results a constraint or an objective may name."""


@dataclass(frozen=True)
class WorkloadEntry:
    """A workload file of the sweep, with its own epochs/seed if the spec gives them."""

    path: Path
    epochs: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Axis:
    """One swept key: its path in the hardware mapping and its values (or the axis it follows)."""

    path: str
    values: tuple[Any, ...] = ()
    same_as: str = ""
    times: float = 1


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``, e.g. ``area_mm2 <= 2``; a priced point that fails it is ``dropped``."""

    metric: str
    op: str
    bound: float
    text: str

    def holds(self, value: float) -> bool:
        return {"<=": value <= self.bound, ">=": value >= self.bound, "<": value < self.bound,
                ">": value > self.bound, "==": value == self.bound}[self.op]


@dataclass(frozen=True)
class Sampling:
    """How points are drawn from the axes: the whole grid, or ``samples`` seeded draws."""

    method: str = "grid"
    samples: int = 0
    seed: int = 0


@dataclass(frozen=True)
class Search:
    """A multi-objective search (Optuna) instead of enumerating: ``trials`` evaluations."""

    method: str
    trials: int
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep."""

    name: str
    source_file: str
    workloads: tuple["WorkloadEntry", ...]
    hardware: Path
    dataset: str
    epochs: int | None
    seed: int | None
    axes: tuple[Axis, ...]
    sampling: Sampling
    constraints: tuple[Constraint, ...]
    minimize: tuple[str, ...]
    maximize: tuple[str, ...]
    search: Search | None
    sram_backend: str = "table"
    hardware_files: tuple[Path, ...] = ()
    grids: tuple[tuple[Axis, ...], ...] = ()
    reference: dict = field(default_factory=dict)

    def free_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.same_as)

    def bases(self) -> tuple[Path, ...]:
        """The base hardware files: every axis applies to each of them."""
        return self.hardware_files or (self.hardware,)

    def axis_sets(self) -> tuple[tuple[Axis, ...], ...]:
        """The axes of each grid whose union is the sweep: ``axes`` crossed with every entry of
        ``grids`` (or ``axes`` alone)."""
        return tuple(self.axes + g for g in self.grids) if self.grids else (self.axes,)


def _values(sec: Section, key: str) -> tuple[tuple[Any, ...], str, float]:
    """An axis's values: a list, ``{range: [a, b, step]}``, ``{log2: [lo, hi]}`` or ``{same_as, times}``."""
    raw = sec.raw(key)
    if isinstance(raw, list):
        if not raw:
            raise sec.error(key, "expected a non-empty list of values")
        if any(isinstance(v, (list, dict)) for v in raw):
            raise sec.error(key, f"expected plain values (numbers, strings, booleans), got {show(raw)}")
        return tuple(raw), "", 1
    spec = sec.section(key)
    if spec.has("same_as"):
        target = spec.string("same_as")
        times = spec.number("times", 1, positive=True, hi=1e6)
        spec.done()
        return (), target, times
    if spec.has("range"):
        r = spec.raw("range")
        ok = isinstance(r, list) and len(r) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in r) and r[2] > 0 and r[1] >= r[0]
        if not ok:
            raise spec.error("range", f"expected [start, stop, step] with step > 0 and stop >= start, got {show(r)}")
        n = int(math.floor((r[1] - r[0]) / r[2] + 1e-9)) + 1
        if n > MAX_POINTS:
            raise spec.error("range", f"expected at most {MAX_POINTS:,} values, got {n:,}")
        values = tuple(r[0] + i * r[2] for i in range(n))
        if all(isinstance(v, int) for v in r):
            values = tuple(int(v) for v in values)
        spec.done()
        return values, "", 1
    if spec.has("log2"):
        r = spec.raw("log2")
        ok = (isinstance(r, list) and len(r) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                                          and v & (v - 1) == 0 for v in r) and r[1] >= r[0])
        if not ok:
            raise spec.error("log2", f"expected [lo, hi], two powers of two with hi >= lo, got {show(r)}")
        spec.done()
        return tuple(1 << e for e in range(r[0].bit_length() - 1, r[1].bit_length())), "", 1
    raise sec.error(key, "expected a list of values, or a mapping with range, log2 or same_as")


def _axes(ax: Section, file: str, where: str, outer: tuple[Axis, ...] = ()) -> tuple[Axis, ...]:
    """One mapping of axes (key path → values), coupled axes checked against it and ``outer``."""
    axes = []
    for key in list(ax._value):  # noqa: SLF001  (the axes mapping's own keys are the paths)
        if not isinstance(key, str) or not key:
            raise ax.error(str(key), "expected a key path such as pe_array.rows")
        values, same_as, times = _values(ax, key)
        if key in WORKLOAD_AXES and (same_as or not all(isinstance(v, int) and not isinstance(v, bool)
                                                        and v >= 0 for v in values)):
            raise ax.error(key, f"expected a list of non-negative integers ({key} sets the workload's training)")
        axes.append(Axis(key, values, same_as, times))
    ax.done()
    known = {a.path: a for a in (*outer, *axes)}
    for a in axes:
        if a.same_as and (a.same_as not in known or a.same_as == a.path):
            raise ConfigError(file, f"{where}.{a.path}.same_as", f"expected another axis of this sweep, got {a.same_as!r}")
        target = known.get(a.same_as)
        if target is not None and target.same_as:
            raise ConfigError(file, f"{where}.{a.path}.same_as", f"{a.same_as} follows another axis itself; "
                                                                 "couple to a free axis")
    return tuple(axes)


def _constraint(sec: Section, index: int, text: Any) -> Constraint:
    where = f"constraints[{index}]"
    if not isinstance(text, str) or not (m := CONSTRAINT_RE.match(text)):
        raise ConfigError(sec.file, where, f"expected 'metric <= number' (or >=, <, >, ==), got {show(text)}")
    metric, op, bound = m.group(1), m.group(2), float(m.group(3))
    if metric not in RESULT_METRICS:
        raise ConfigError(sec.file, where, f"unknown metric {metric!r}; known: {', '.join(RESULT_METRICS)}")
    return Constraint(metric, op, bound, text.strip())


def _metrics(sec: Section, key: str) -> tuple[str, ...]:
    raw = sec.raw(key, [])
    if not isinstance(raw, list) or any(m not in RESULT_METRICS for m in raw):
        raise sec.error(key, f"expected a list drawn from {', '.join(RESULT_METRICS)}, got {show(raw)}")
    return tuple(raw)


def _path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (base / p)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file."""
    file = str(path)
    base = Path(path).resolve().parent
    top = Section(file, "", load_yaml(path))
    name = top.string("name", Path(path).stem)
    raw_wl = top.raw("workloads")
    if isinstance(raw_wl, (str, dict)):
        raw_wl = [raw_wl]
    if not isinstance(raw_wl, list) or not raw_wl:
        raise top.error("workloads", f"expected a workload file or a non-empty list of them, got {show(raw_wl)}")
    tr = top.section("training", {})
    epochs = tr.integer("epochs", None, lo=0, hi=10000) if tr.has("epochs") else None
    seed = tr.integer("seed", None, lo=0, hi=2**63 - 1) if tr.has("seed") else None
    tr.done()
    workloads = []
    for i, w in enumerate(raw_wl):
        if isinstance(w, str):
            entry = WorkloadEntry(_path(base, w), epochs, seed)
        else:
            ws = Section(file, f"workloads[{i}]", w)
            entry = WorkloadEntry(_path(base, ws.string("file")),
                                  ws.integer("epochs", lo=0, hi=10000) if ws.has("epochs") else epochs,
                                  ws.integer("seed", lo=0, hi=2**63 - 1) if ws.has("seed") else seed)
            ws.done()
        if not entry.path.is_file():
            raise ConfigError(file, f"workloads[{i}]", f"file not found: {entry.path}")
        workloads.append(entry)
    raw_hw = top.raw("hardware")
    if isinstance(raw_hw, list):
        if not raw_hw or not all(isinstance(h, str) and h for h in raw_hw):
            raise top.error("hardware", f"expected a hardware file or a non-empty list of them, got {show(raw_hw)}")
        files = tuple(_path(base, h) for h in raw_hw)
        where = [f"hardware[{i}]" for i in range(len(files))]
    else:
        files, where = (_path(base, top.string("hardware")),), ["hardware"]
    for f, w in zip(files, where):
        if not f.is_file():
            raise ConfigError(file, w, f"file not found: {f}")
    if len(set(files)) != len(files):
        raise top.error("hardware", "expected distinct hardware files")
    hardware = files[0]
    dataset = top.string("dataset", "mini", DATASET_VARIANTS)
    axes = _axes(top.section("axes", {}), file, "axes")
    grids: list[tuple[Axis, ...]] = []
    if top.has("grids"):
        raw_g = top.raw("grids")
        if not isinstance(raw_g, list) or not raw_g or not all(isinstance(g, dict) and g for g in raw_g):
            raise top.error("grids", f"expected a non-empty list of axis mappings (each a grid of its own), "
                                     f"got {show(raw_g)}")
        for i, g in enumerate(raw_g):
            grid = _axes(Section(file, f"grids[{i}]", g), file, f"grids[{i}]", axes)
            both = sorted({a.path for a in grid} & {a.path for a in axes})
            if both:
                raise ConfigError(file, f"grids[{i}].{both[0]}", "already an axis of every grid (under axes)")
            grids.append(grid)
    smp = top.section("sampling", {})
    method = smp.string("method", "grid", SAMPLING)
    samples = 0 if method == "grid" else smp.integer("samples", lo=1, hi=MAX_POINTS)
    sampling = Sampling(method, samples, smp.integer("seed", 0, lo=0, hi=2**32 - 1))
    smp.done()
    raw_c = top.raw("constraints", [])
    if not isinstance(raw_c, list):
        raise top.error("constraints", f"expected a list such as ['area_mm2 <= 2'], got {show(raw_c)}")
    constraints = tuple(_constraint(top, i, c) for i, c in enumerate(raw_c))
    obj = top.section("objectives", {})
    maximize = _metrics(obj, "maximize") if obj.has("maximize") else ("final_test_accuracy",)
    minimize = _metrics(obj, "minimize") if obj.has("minimize") else ("training_energy_j",)
    obj.done()
    if not maximize and not minimize:
        raise ConfigError(file, "objectives", "expected at least one metric to maximize or minimize")
    both = sorted(set(maximize) & set(minimize))
    if both:
        raise ConfigError(file, "objectives", f"{', '.join(both)} cannot be both maximized and minimized")
    search = None
    if top.has("search"):
        se = top.section("search")
        search = Search(se.string("method", "nsga2", SEARCH), se.integer("trials", lo=1, hi=MAX_POINTS),
                        se.integer("seed", 0, lo=0, hi=2**32 - 1))
        se.done()
    backend = top.string("sram_backend", "table", ("table", "hwcomponents"))
    reference = top.raw("reference", {})
    if not isinstance(reference, dict):
        raise top.error("reference", f"expected a mapping (published values a report sets beside the results), "
                                     f"got {show(reference)}")
    top.done()
    if search is not None and any(a.path in WORKLOAD_AXES for a in axes):
        raise ConfigError(file, f"axes.{next(a.path for a in axes if a.path in WORKLOAD_AXES)}",
                          "a search varies hardware keys only; give seeds and epochs per workload")
    if search is not None and (grids or len(files) > 1):
        raise ConfigError(file, "grids" if grids else "hardware", "a search explores one base hardware over "
                                                                  "one set of axes; use a grid for several")
    grid = sum(math.prod(len(a.values) for a in (*axes, *g) if not a.same_as) for g in (grids or [()])) \
        * len(files)
    if method == "grid" and search is None and grid * len(workloads) > MAX_POINTS:
        raise top.error("axes", f"the grid has {grid * len(workloads):,} points, more than {MAX_POINTS:,}; "
                                "use sampling: random or latin_hypercube, or a search")
    return SweepSpec(name, file, tuple(workloads), hardware, dataset, epochs, seed, tuple(axes), sampling, constraints,
                     minimize, maximize, search, backend, files if len(files) > 1 else (), tuple(grids), reference)


__all__ = ["WORKLOAD_AXES", "WorkloadEntry", "Axis", "Constraint", "RESULT_METRICS", "Sampling", "Search", "SweepSpec", "load_sweep"]
