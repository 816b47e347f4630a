"""From a sweep spec to design points: axis values set by key path, sampled, validated, identified.

A point is one workload on one fully resolved hardware spec. Its hardware is built from the
base config's mapping with the axis values written in (``sram.banks[ifmap].kbytes`` selects a
bank by name or index, ``numerics[wage].k_g`` a datapath by algorithm, ``numerics.k_g`` every
datapath) and then validated by exactly the rules of a hardware file; an invalid point is an
error naming the sweep file, the axis and the value. Its identity is a hash of the resolved
configuration (hardware, numerics, training key, epochs, seed, data), canonical JSON, so it
does not depend on dict order or on how a number was written.
"""
from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError, WorkloadSpec, load_workload
from ..config.hardware import HardwareSpec, hardware_from_mapping
from ..config.reader import load_yaml, show
from ..outputs import digest
from .spec import WORKLOAD_AXES, Axis, SweepSpec

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]+)\])?$")
POINT_DIGEST_CHARS = 16


@dataclass(frozen=True)
class Point:
    """One design point: a workload on a resolved hardware spec, with the axis values that made it."""

    workload: WorkloadSpec
    workload_file: str
    hardware: HardwareSpec
    values: tuple[tuple[str, Any], ...]     # (axis path, value) in spec order
    point_hash: str


def _select(items: list, selector: str, key: str, where: str) -> list:
    """Items of a list selected by index or by their ``name`` / ``algorithm``."""
    if selector.lstrip("-").isdigit():
        i = int(selector)
        if not -len(items) <= i < len(items):
            raise KeyError(f"{where}: index {i} out of range (the list has {len(items)} entries)")
        return [items[i]]
    chosen = [it for it in items if isinstance(it, dict) and it.get(key) == selector]
    if not chosen:
        known = ", ".join(str(it.get(key)) for it in items if isinstance(it, dict))
        raise KeyError(f"{where}: no entry named {selector!r} (known: {known})")
    return chosen


def set_path(data: dict, path: str, value: Any) -> list[str]:
    """Write ``value`` at a key path of a hardware mapping; returns the key paths it wrote, with
    selectors resolved to indices as validation names them (``sram.banks[2].kbytes``). Raises
    KeyError with the reason when the path selects nothing."""
    parts = path.split(".")
    targets: list[tuple[Any, str]] = [(data, "")]
    written: list[str] = []
    for depth, part in enumerate(parts):
        m = _SEGMENT.match(part)
        if not m:
            raise KeyError(f"{part!r} is not a key (expected name or name[selector])")
        name, selector = m.group(1), m.group(2)
        last = depth == len(parts) - 1 and selector is None
        nxt: list[tuple[Any, str]] = []
        for t, where in targets:
            here = f"{where}.{name}" if where else name
            if not isinstance(t, dict):
                raise KeyError(f"{'.'.join(parts[:depth])} is not a mapping")
            if last:
                t[name] = copy.deepcopy(value)
                written.append(here)
                continue
            if name not in t:
                raise KeyError(f"no key {name!r} under {'.'.join(parts[:depth]) or 'the top level'}")
            child = t[name]
            if selector is not None:
                if not isinstance(child, list):
                    raise KeyError(f"{name} is not a list, so [{selector}] selects nothing")
                chosen = _select(child, selector, "algorithm" if name == "numerics" else "name", name)
                if depth == len(parts) - 1:
                    raise KeyError(f"{part} selects an entry; name one of its keys, e.g. {part}.kbytes")
                nxt.extend((c, f"{here}[{next(i for i, x in enumerate(child) if x is c)}]") for c in chosen)
            elif isinstance(child, list) and name == "numerics":
                nxt.extend((c, f"{here}[{i}]") for i, c in enumerate(child))   # numerics.k_g: every datapath
            else:
                nxt.append((child, here))
        targets = nxt
    return written


def _draws(spec: SweepSpec, axes: tuple[Axis, ...] | None = None) -> list[dict[str, Any]]:
    """Value of every free axis per point: the grid, or seeded random / Latin-hypercube samples."""
    free = spec.free_axes() if axes is None else tuple(a for a in axes if not a.same_as)
    if not free:
        return [{}]
    s = spec.sampling
    if s.method == "grid":
        return [dict(zip((a.path for a in free), combo)) for combo in itertools.product(*(a.values for a in free))]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([s.seed, 0x5EE9])))
    if s.method == "random":
        idx = [rng.integers(0, len(a.values), s.samples) for a in free]
    else:  # latin_hypercube: one sample per stratum of [0, 1) on every axis, strata shuffled per axis
        idx = [np.minimum(((rng.permutation(s.samples) + rng.random(s.samples)) / s.samples * len(a.values))
                          .astype(int), len(a.values) - 1) for a in free]
    return [{a.path: a.values[int(i[j])] for a, i in zip(free, idx)} for j in range(s.samples)]


def _coupled(value: Any, times: float) -> Any:
    if times == 1 or isinstance(value, (str, bool)):
        return value
    out = value * times
    return int(out) if isinstance(value, int) and float(out).is_integer() else out


def axis_values(spec: SweepSpec, draw: dict[str, Any], axes: tuple[Axis, ...] | None = None) -> list[tuple[str, Any]]:
    """Every axis's value for one draw, coupled axes included, in spec order."""
    return [(a.path, _coupled(draw[a.same_as], a.times) if a.same_as else draw[a.path])
            for a in (spec.axes if axes is None else axes)]


def resolve_hardware(spec: SweepSpec, base: dict, values: list[tuple[str, Any]], index: int) -> HardwareSpec:
    """The base mapping with the axis values written in, validated as a file would be."""
    data = copy.deepcopy(base)
    wrote: dict[str, list[str]] = {}
    for path, value in values:
        if path in WORKLOAD_AXES:
            continue  # sets the workload's training, not the hardware
        try:
            wrote[path] = set_path(data, path, value)
        except KeyError as exc:
            raise ConfigError(spec.source_file, f"axes.{path}", f"cannot set {show(value)} in "
                                                                f"{base.get('name', 'the base hardware')}: "
                                                                f"{exc.args[0]}") from None
    try:
        return hardware_from_mapping(data, f"{spec.source_file} (point {index})", str(base.get("name", "hw")))
    except ConfigError as exc:
        bad = exc.key_path

        def touches(resolved: str) -> bool:
            return resolved == bad or bad.startswith(resolved + ".") or resolved.startswith(bad + ".")
        named = next((p for p, paths in reversed(list(wrote.items())) if any(touches(r) for r in paths)), None)
        shown = ", ".join(f"{p}={show(v)}" for p, v in values)
        where = f"axes.{named}" if named else "axes"
        raise ConfigError(spec.source_file, where, f"the point {shown} is not a valid hardware config: "
                                                   f"{exc.key_path}: {exc.expected}") from None


def point_identity(workload: WorkloadSpec, hardware: HardwareSpec, dataset: str, sram_backend: str) -> dict:
    """What determines a point's numbers (the hardware's name excluded: it is derived from this)."""
    from ..outputs import plain
    hw = hardware.to_dict()
    hw.pop("name")
    return {"workload": plain(workload), "hardware": hw, "dataset": dataset, "sram_backend": sram_backend}


def base_mapping(spec: SweepSpec, file: Path | None = None) -> dict:
    """A base hardware (default the first) as a mapping every point starts from (validated;
    numerics as a list)."""
    file = file or spec.hardware
    base = load_yaml(file)
    hardware_from_mapping(base, str(file), file.stem)  # the base itself must be valid
    if isinstance(base, dict) and isinstance(base.get("numerics"), dict):
        base = {**base, "numerics": [base["numerics"]]}
    base = copy.deepcopy(base)
    base.setdefault("name", file.stem)
    return base


def sweep_workloads(spec: SweepSpec) -> list[tuple[str, WorkloadSpec]]:
    """(file, workload with the spec's epochs/seed) of every workload of the sweep."""
    return [(str(e.path), load_workload(e.path).with_overrides(epochs=e.epochs, seed=e.seed))
            for e in spec.workloads]


def training_overrides(values: list[tuple[str, Any]]) -> dict[str, int]:
    """The workload-training axes (``seed``, ``epochs``) of a point's values."""
    return {path: value for path, value in values if path in WORKLOAD_AXES}


def expand(spec: SweepSpec) -> list[Point]:
    """Every distinct point of the sweep (identical points once), each validated: every base
    hardware × every grid of ``spec.axis_sets()`` × every workload."""
    workloads = sweep_workloads(spec)
    points: dict[str, Point] = {}
    n = 0
    for file in spec.bases():
        base = base_mapping(spec, file)
        for axes in spec.axis_sets():
            for draw in _draws(spec, axes):
                values = axis_values(spec, draw, axes)
                hw = resolve_hardware(spec, base, values, n)
                n += 1
                for wfile, w in workloads:
                    p = make_point(spec, w.with_overrides(**training_overrides(values)), wfile, hw, values)
                    points.setdefault(p.point_hash, p)
    return list(points.values())


def make_point(spec: SweepSpec, workload: WorkloadSpec, file: str, hw: HardwareSpec,
               values: list[tuple[str, Any]]) -> Point:
    """The point of ``workload`` on the validated ``hw``: identified by its hash, named after it."""
    hw.numerics_for(workload.algorithm)  # a clear error when the hardware has no datapath for it
    h = digest(point_identity(workload, hw, spec.dataset, spec.sram_backend), POINT_DIGEST_CHARS)
    return Point(workload, file, replace(hw, name=f"{hw.name}-{h[:8]}"), tuple(values), h)  # only the name changes


__all__ = ["Point", "training_overrides", "axis_values", "base_mapping", "expand", "make_point", "sweep_workloads", "point_identity", "resolve_hardware", "set_path"]
