"""The sweep stage: points → planner → executor → store.

The planner groups points by training key (what determines the trained weights): each group
trains once (through the locked training cache) and records the trained network's step once;
every point of the group is then simulated and priced from that trace. Before any training
every point is checked to map onto its banks, to price and to fit the simulation limit, so a
bad point is known in seconds (stored as ``infeasible``). Executors: serial in-process, a
Dask ``LocalCluster`` of single-threaded worker processes, or an existing Dask scheduler.
Workers compute; only this process writes the store, one committed row per finished point.
"""
from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..config import ConfigError, WorkloadSpec
from ..config.hardware import HardwareSpec
from ..cost.model import CostModel
from ..cost.table import CostError
from ..data import Dataset, load_dataset
from ..fileio import LockBusy, locked
from ..hw.mapper import MapError
from ..hw.sim import DEFAULT_MAX_TILES, check_step
from ..outputs import digest, plain
from ..run import RunResult, parameter_columns, price_step, trained_step, training_numerics
from ..trace import Trace
from ..train import TrainResult, record_trace, run_key
from .points import Point, expand
from .spec import SweepSpec
from .store import STORE_NAME, Store, StoreError

ProgressFn = Callable[[dict], None]


@dataclass(frozen=True)
class Group:
    """Points that share one training: the key's digest, the workload and a hardware of the group."""

    key: str
    workload: WorkloadSpec
    hardware: HardwareSpec
    dataset: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Trained:
    """What a group's task returns: the training result and the trained network's step."""

    training: TrainResult
    reused: bool
    trace: Trace
    train_images: int


@functools.lru_cache(maxsize=2)
def _data(variant: str) -> Dataset:
    return load_dataset("fashion_mnist", variant)


def _worker_setup() -> None:
    """Once per process: one BLAS thread, the malloc tuning (a Dask worker starts without them)."""
    from .._runtime import set_blas_threads, tune_malloc
    tune_malloc()
    if os.environ.get("ARCHSIM_BLAS_THREADS") is None:
        set_blas_threads(1)


PROGRESS_TOPIC = "archsim-training"
"""Dask event topic on which worker trainings publish their epochs to the sweep's process."""


def _publish(group_key: str, workload: str) -> ProgressFn:
    """A training progress function that, inside a Dask worker, forwards each epoch to the client."""
    from distributed import get_worker

    worker = get_worker()

    def send(ev: dict) -> None:
        if ev["event"] in ("epoch", "warning"):
            worker.log_event(PROGRESS_TOPIC, {**{k: v for k, v in ev.items() if k != "schedule"},
                                              "group": group_key, "workload": workload})
    return send


def train_group(group: Group, progress: ProgressFn | None = None, in_dask: bool = False) -> Trained:
    """Train the group's key (or reuse the cache) and record the trained step (a task)."""
    _worker_setup()
    if in_dask:
        progress = _publish(group.key, group.workload.name)
    data = _data(group.dataset)
    # a 0-epoch group prices the untrained step the planner recorded (in this process; a worker records it)
    training, reused, trace = trained_step(group.workload, data, group.hardware, progress, _UNTRAINED.get(group.key))
    return Trained(training, reused, trace, len(data.train_labels))


def _row(point: Point, group_key: str, status: str, error: str = "", wall_s: float = 0.0) -> dict[str, Any]:
    return {"point_hash": point.point_hash, "status": status, "error": error[:2000], "wall_s": wall_s,
            "workload_file": point.workload_file, "group_key": group_key,
            "config_json": json.dumps({"axes": dict(point.values), "hardware": point.hardware.to_dict(),
                                       "workload": plain(point.workload)}, sort_keys=True),
            "workload": point.workload.name, **parameter_columns(point.hardware, point.workload.algorithm),
            **{f"axis:{path}": value if not isinstance(value, bool) else int(value) for path, value in point.values}}


def _breakdowns(result: RunResult) -> list[tuple[str, str, float | str]]:
    """The numeric breakdowns and the per-op labels (strings; the store keeps them apart)."""
    return [(group, key, value) for groups in (result.breakdowns(), result.labels())
            for group, values in groups.items() for key, value in values.items()]


def evaluate_point(point: Point, trained: Trained, spec: SweepSpec, group_key: str) -> tuple[dict, list]:
    """Simulate and price one point from its group's trace (a task); never raises: a failure is a row."""
    _worker_setup()
    start = time.perf_counter()
    try:
        result = price_step(point.workload, point.hardware, trained.trace, trained.training, trained.reused,
                            trained.train_images, sram_backend=spec.sram_backend)
    except (MapError, CostError, ConfigError) as exc:
        return _row(point, group_key, "infeasible", str(exc), time.perf_counter() - start), []
    except Exception as exc:  # noqa: BLE001  (a point's bug must not stop the sweep; recorded)
        return _row(point, group_key, "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}",
                    time.perf_counter() - start), []
    summary = result.summary()
    failed = [c.text for c in spec.constraints if not c.holds(summary[c.metric])]
    row = {**_row(point, group_key, "dropped" if failed else "done",
                  f"dropped by {'; '.join(failed)}" if failed else "", time.perf_counter() - start),
           **{k: v for k, v in summary.items() if k not in ("workload", "hardware")},
           "training_reused": int(trained.reused), "simulate_s": result.simulate_s, "price_s": result.price_s}
    return row, _breakdowns(result)


_UNTRAINED: dict[str, Trace] = {}
"""Untrained step per training key: a search plans a batch at a time and would record it again."""


def _untrained_step(key: str, point: Point, data: Dataset) -> Trace:
    if key not in _UNTRAINED:
        w = point.workload
        _UNTRAINED[key] = record_trace(w, data, point.hardware.numerics_for(w.algorithm), w.training.batch_size)
    return _UNTRAINED[key]


def plan(spec: SweepSpec, points: list[Point]) -> tuple[list[Group], list[tuple[dict, list]]]:
    """Group the points by training key and check every point before any training: returns the
    groups of feasible points and the rows of the infeasible ones."""
    data = _data(spec.dataset)
    by_key: dict[str, list[Point]] = {}
    workloads: dict[str, WorkloadSpec] = {}
    for p in points:
        numerics, numeric_spec = training_numerics(p.hardware, p.workload.algorithm)
        key = digest(run_key(p.workload, data, numerics, numeric_spec), 16)
        by_key.setdefault(key, []).append(p)
        workloads[key] = p.workload
    groups, infeasible = [], []
    for key, members in by_key.items():
        first = members[0]
        untrained = _untrained_step(key, first, data)
        ok = []
        for p in members:
            try:
                CostModel(p.hardware, sram_backend=spec.sram_backend)
                check_step(untrained, p.hardware, DEFAULT_MAX_TILES)
                ok.append(p)
            except (MapError, CostError, ConfigError) as exc:
                infeasible.append((_row(p, key, "infeasible", str(exc)), []))
        if ok:
            groups.append(Group(key, workloads[key], ok[0].hardware, spec.dataset, tuple(ok)))
    return groups, infeasible


# --- executors ----------------------------------------------------------------------------------
def run_serial(spec: SweepSpec, groups: list[Group], progress: ProgressFn) -> Iterator[tuple[dict, list]]:
    """Everything in this process, group by group."""
    for g in groups:
        progress({"event": "group_start", "key": g.key, "workload": g.workload.name,
                  "epochs": g.workload.training.epochs})
        try:
            trained = train_group(g, lambda ev, g=g: progress({**ev, "group": g.key, "workload": g.workload.name}))
        except Exception as exc:  # noqa: BLE001
            for p in g.points:
                yield _row(p, g.key, "failed", f"training failed: {type(exc).__name__}: {exc}"), []
            continue
        progress({"event": "group_done", "key": g.key})
        for p in g.points:
            yield evaluate_point(p, trained, spec, g.key)


def run_dask(spec: SweepSpec, groups: list[Group], client, progress: ProgressFn) -> Iterator[tuple[dict, list]]:
    """Training groups and points as Dask tasks; rows come back as points finish."""
    from distributed import as_completed

    owners: dict[str, tuple[Point, Group]] = {}
    futures = []
    client.subscribe_topic(PROGRESS_TOPIC, lambda event: progress(event[1]))
    for g in groups:
        gf = client.submit(train_group, g, None, True, key=f"train-{g.key}-{time.time_ns()}", pure=False)
        for p in g.points:
            pf = client.submit(evaluate_point, p, gf, spec, g.key, key=f"point-{p.point_hash}-{time.time_ns()}",
                               pure=False)
            owners[pf.key] = (p, g)
            futures.append(pf)
    for future in as_completed(futures):
        p, g = owners[future.key]
        try:
            yield future.result()
        except Exception as exc:  # noqa: BLE001  (the group's training failed, or a worker died)
            yield _row(p, g.key, "failed", f"{type(exc).__name__}: {exc}"), []
        future.release()


def make_client(workers: int, scheduler: str | None):
    """A Dask client: on an existing scheduler (address or scheduler file), or on a new LocalCluster
    of ``workers`` single-threaded worker processes (each with one BLAS thread)."""
    from distributed import Client, LocalCluster

    if scheduler:
        if Path(scheduler).is_file():
            return Client(scheduler_file=scheduler, timeout="30s"), None
        return Client(scheduler, timeout="30s"), None
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
    # worker processes inherit an ignored SIGINT (Python then installs no handler), so Ctrl-C stops
    # the sweep's process, which shuts the cluster down, instead of a traceback from every worker
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               worker_class="distributed.Nanny", env=env, silence_logs=40)
    finally:
        signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


def _spec_text(spec: SweepSpec) -> str:
    """The spec file as written (for reports), or '' when it cannot be read any more."""
    try:
        return Path(spec.source_file).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return ""


@dataclass
class SweepSummary:
    """What a sweep did: points by status and where the store is."""

    store: Path
    total: int
    skipped: int
    by_status: dict[str, int]
    wall_s: float


def run_sweep(spec: SweepSpec, out: str | Path, workers: int = 1, scheduler: str | None = None,
              resume: bool = False, force: bool = False, progress: ProgressFn | None = None) -> SweepSummary:
    """Evaluate every point of ``spec`` into ``out/results.sqlite``; resumable, never duplicating.
    One sweep process per store: a second one into the same folder is refused while the first runs."""
    try:
        with locked(out, ".sweep.lock", wait=False):
            return _run_sweep(spec, out, workers, scheduler, resume, force, progress)
    except LockBusy:
        raise StoreError(f"{Path(out) / STORE_NAME}: another archsim sweep is writing this store now; wait for it, "
                         "or choose another --out") from None


def _run_sweep(spec: SweepSpec, out: str | Path, workers: int, scheduler: str | None, resume: bool, force: bool,
               progress: ProgressFn | None) -> SweepSummary:
    # --- search: a spec with `search:` runs an Optuna study instead of the grid (dse/search.py) ---
    if spec.search is not None:
        from .search import run_search
        return run_search(spec, out, workers=workers, scheduler=scheduler, resume=resume, force=force,
                          progress=progress)
    # --- end search ---
    progress = progress or (lambda ev: None)
    start = time.perf_counter()
    points = expand(spec)
    store = Store(out)
    try:
        spec_json = {"file": Path(spec.source_file).name, "spec": plain(spec), "text": _spec_text(spec)}
        spec_digest = digest({"points": sorted(p.point_hash for p in points), "constraints": plain(spec.constraints)})
        had = store.claim(spec_json, spec_digest, force)
        if had and not resume:
            raise StoreError(f"{store.path}: already holds this sweep's results; pass --resume to continue it "
                             "(finished points are kept), or --force to start over")
        finished = store.finished()
        pending = [p for p in points if p.point_hash not in finished]
        progress({"event": "plan", "points": len(points), "pending": len(pending)})
        groups, infeasible = plan(spec, pending)
        counts: dict[str, int] = {}

        def record(row: dict, breakdowns: list) -> None:
            store.put(row, breakdowns)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            progress({"event": "point", "status": row["status"], "counts": dict(counts), "total": len(pending)})

        for row, bd in infeasible:
            record(row, bd)
        progress({"event": "checked", "groups": len(groups), "infeasible": len(infeasible)})
        if groups and (scheduler or workers > 1):
            client, cluster = make_client(workers, scheduler)
            try:
                for row, bd in run_dask(spec, groups, client, progress):
                    record(row, bd)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
        else:
            for row, bd in run_serial(spec, groups, progress):
                record(row, bd)
        return SweepSummary(store.path, len(points), len(points) - len(pending), counts, time.perf_counter() - start)
    finally:
        store.close()


__all__ = ["Group", "SweepSummary", "Trained", "evaluate_point", "make_client", "plan", "run_sweep", "train_group"]
