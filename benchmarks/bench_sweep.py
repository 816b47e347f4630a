"""Sweep throughput: N hardware points of the LeNet-5 WAGE step with cached training, serial and on Dask.

Writes a sweep spec into a temp folder (workloads/lenet5_wage.yaml, 1 epoch on the embedded mini
data, base hwconfigs/tpu_32x32.yaml, the fastest shipped base for LeNet-5: ~0.3 s per simulated
step), a grid over clock, node, DRAM type and width and zero gating that does not change the
tiling (so every point costs about the same), then

1. warms a private training cache with a 1-point sweep (the training is timed on its own),
2. runs the sweep serially (``run_sweep(..., workers=1)``) into folder A,
3. runs it on a Dask LocalCluster of ``--workers`` processes into folder B (cluster start-up and
   shut-down timed apart from the evaluation),
4. prints points/s, the Dask speed-up, the per-point time split (simulate and price from the
   store's rows, Store.put timed in place and on a scratch store, planning), and checks that
   tables A and B are identical apart from the timing columns.

Run: python benchmarks/bench_sweep.py [--points 1000] [--workers 2] [--keep] [--cache DIR]
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads; the Dask workers inherit it
os.environ.setdefault("ARCHSIM_BLAS_THREADS", "1")

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from archsim._runtime import set_blas_threads, tune_malloc

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT / "workloads" / "lenet5_wage.yaml"
HARDWARE = ROOT / "hwconfigs" / "tpu_32x32.yaml"
TIMING_COLUMNS = ("wall_s", "finished_at", "simulate_s", "price_s", "training_reused")
# Axes that leave the tiling of tpu_32x32 alone (measured: 75,028 SimPy events at every value).
POOLS = (("technology_nm", [7, 16, 28, 45, 65]),
         ("dram.type", ["hbm2", "hbm3", "lpddr4", "ddr4", "ddr3"]),
         ("dram.bytes_per_cycle", [64, 32]),
         ("pe_array.zero_gating", [False, True]))


def grid_axes(n: int) -> dict[str, list]:
    """Axes whose grid has exactly ``n`` points: the pools take the largest divisor of what is left
    (5 x 5 x 2 x 2 = 100 for a multiple of 100), the clock takes the rest."""
    axes: dict[str, list] = {}
    left = n
    for path, pool in POOLS:
        m = max(d for d in range(1, len(pool) + 1) if left % d == 0)
        if m > 1:
            axes[path] = pool[:m]
        left //= m
    step = 1000 / left
    axes["clock_mhz"] = [int(400 + i * step) if step >= 1 else 400 + i * step for i in range(left)]
    return axes


def write_spec(folder: Path, name: str, axes: dict[str, list]) -> Path:
    spec = {"name": name, "workloads": [str(WORKLOAD)], "hardware": str(HARDWARE), "dataset": "mini",
            "training": {"epochs": 1}, "axes": axes}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(spec, indent=1) + "\n")  # JSON is YAML
    return path


class Clock:
    """Timestamps of a sweep's progress events, and the time spent in Store.put and Client.submit."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.events: dict[str, float] = {}
        self.first_point = self.last_point = None
        self.group: list[tuple[float, float]] = []
        self.put_s = 0.0
        self.puts = 0
        self.submit_s = 0.0
        self.submits = 0
        self.cluster_start_s = None
        self.cluster_ready = None
        self.driver_cpu_s = self.children_cpu_s = 0.0

    def __call__(self, ev: dict) -> None:
        now = time.perf_counter()
        kind = ev["event"]
        if kind == "point":
            self.first_point = self.first_point or now
            self.last_point = now
        elif kind == "group_start":
            self.group.append((now, now))
        elif kind == "group_done":
            self.group[-1] = (self.group[-1][0], now)
        else:
            self.events.setdefault(kind, now)

    def since(self, a: str | float, b: str | float) -> float:
        ta = self.events[a] if isinstance(a, str) else a
        tb = self.events[b] if isinstance(b, str) else b
        return tb - ta


CLOCK: Clock | None = None
SAMPLE: list = []  # one real (row, breakdowns) put, replayed into a scratch store


def instrument() -> None:
    """Wrap Store.put and make_client (not editing archsim: module attributes replaced in-process)."""
    from archsim.dse import store as store_mod
    from archsim.dse import sweep as sweep_mod

    put = store_mod.Store.put

    def timed_put(self, row, breakdowns=()):
        breakdowns = list(breakdowns)
        t = time.perf_counter()
        put(self, row, breakdowns)
        if CLOCK is not None:
            CLOCK.put_s += time.perf_counter() - t
            CLOCK.puts += 1
        if not SAMPLE and row.get("status") == "done":
            SAMPLE.append((dict(row), breakdowns))

    store_mod.Store.put = timed_put
    make_client = sweep_mod.make_client

    def timed_make_client(workers, scheduler):
        t = time.perf_counter()
        client, cluster = make_client(workers, scheduler)
        if CLOCK is not None:
            CLOCK.cluster_ready = time.perf_counter()
            CLOCK.cluster_start_s = CLOCK.cluster_ready - t
        submit = client.submit

        def timed_submit(*args, **kwargs):
            t = time.perf_counter()
            future = submit(*args, **kwargs)
            if CLOCK is not None:
                CLOCK.submit_s += time.perf_counter() - t
                CLOCK.submits += 1
            return future

        client.submit = timed_submit
        return client, cluster

    sweep_mod.make_client = timed_make_client


def cpu_s(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def sweep(spec_path: Path, out: Path, workers: int) -> tuple[Clock, float, object]:
    """One sweep, timed; the clock also gets the CPU seconds of this process (the driver, with a
    LocalCluster's scheduler thread) and of its reaped children (the Dask nannies and workers)."""
    global CLOCK
    from archsim.dse.spec import load_sweep
    from archsim.dse.sweep import run_sweep

    spec = load_sweep(spec_path)
    CLOCK = clock = Clock()
    own, kids = cpu_s(resource.RUSAGE_SELF), cpu_s(resource.RUSAGE_CHILDREN)
    summary = run_sweep(spec, out, workers=workers, progress=clock)
    end = time.perf_counter()
    clock.driver_cpu_s = cpu_s(resource.RUSAGE_SELF) - own
    clock.children_cpu_s = cpu_s(resource.RUSAGE_CHILDREN) - kids
    CLOCK = None
    return clock, end - clock.t0, summary


def scratch_puts(folder: Path, n: int) -> float:
    """Mean time of ``n`` puts of a real row (with its breakdowns) into a fresh store."""
    from archsim.dse.store import Store

    row, bd = SAMPLE[0]
    store = Store(folder)
    try:
        t = time.perf_counter()
        for i in range(n):
            store.put({**row, "point_hash": f"scratch{i:09d}"}, bd)
        return (time.perf_counter() - t) / n
    finally:
        store.close()


def compare(a: Path, b: Path) -> list[str]:
    """Differences between the points (and breakdowns) tables of two sweep folders, timing columns aside."""
    from archsim.dse import breakdowns, load

    out = []
    ta, tb = (df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns]) for df in (load(a), load(b)))
    if set(ta.columns) != set(tb.columns):
        out.append(f"columns only in A: {sorted(set(ta.columns) - set(tb.columns))}, "
                   f"only in B: {sorted(set(tb.columns) - set(ta.columns))}")
    cols = sorted(set(ta.columns) & set(tb.columns))
    ta = ta[cols].set_index("point_hash").sort_index()
    tb = tb[cols].set_index("point_hash").sort_index()
    if list(ta.index) != list(tb.index):
        out.append(f"point sets differ: {len(set(ta.index) ^ set(tb.index))} points in one table only")
        common = ta.index.intersection(tb.index)
        ta, tb = ta.loc[common], tb.loc[common]
    for c in ta.columns:
        x, y = ta[c], tb[c]
        same = (x == y) | (x.isna() & y.isna())
        if not same.all():
            h = same[~same].index[0]
            out.append(f"column {c}: {int((~same).sum())} rows differ, e.g. {h}: A={x[h]!r} B={y[h]!r}")
    ba, bb = (breakdowns(f).set_index(["point_hash", "grp", "key"]).sort_index() for f in (a, b))
    if not ba.index.equals(bb.index):
        out.append(f"breakdowns: keys differ ({len(ba)} rows in A, {len(bb)} in B)")
    elif not (ba["value"] == bb["value"]).all():
        out.append(f"breakdowns: {int((ba['value'] != bb['value']).sum())} values differ")
    return out


def split(folder: Path) -> dict[str, float]:
    from archsim.dse import load

    df = load(folder)
    done = df[df.status == "done"]
    return {"simulate_s": float(done.simulate_s.mean()), "price_s": float(done.price_s.mean()),
            "eval_s": float(done.wall_s.mean()), "statuses": df.status.value_counts().to_dict(),
            "sim_p50": float(done.simulate_s.median()), "sim_max": float(done.simulate_s.max())}


def load_text() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} ({os.cpu_count()} CPUs)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="hardware points (default 1000)")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (specs, stores, cache)")
    ap.add_argument("--cache", help="training cache to use (default: a private one in the temp folder, so the "
                                    "warm-up really trains)")
    args = ap.parse_args()
    if args.points < 1 or args.workers < 2:
        ap.error("--points must be >= 1 and --workers >= 2")

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep-"))
    os.environ["ARCHSIM_CACHE"] = str(Path(args.cache).resolve() if args.cache else tmp / "cache")
    tune_malloc()
    set_blas_threads(1)
    instrument()
    from archsim.cache import cache_root

    n = args.points
    axes = grid_axes(n)
    print(f"bench_sweep: {n} points of {WORKLOAD.name} (1 epoch, mini data) on {HARDWARE.name}; "
          f"workers={args.workers}; BLAS threads 1; {load_text()}")
    print("axes: " + "; ".join(f"{k} {v if len(v) <= 5 else f'{len(v)} values {v[0]}..{v[-1]}'}"
                               for k, v in axes.items()))
    print(f"temp folder {tmp}; training cache {cache_root()}", flush=True)
    try:
        # 1. warm the training cache
        warm_spec = write_spec(tmp, "warm", {"clock_mhz": [axes["clock_mhz"][0]]})
        clock, warm_wall, _ = sweep(warm_spec, tmp / "warm", 1)
        train_s = clock.group[0][1] - clock.group[0][0] if clock.group else float("nan")
        walls = [json.loads(p.read_text()).get("wall_s") for p in (cache_root() / "train").glob("*/train.json")]
        print(f"\nwarm-up (1 point): {warm_wall:.1f} s wall; training group {train_s:.1f} s "
              f"(train.json wall_s {walls[0] if walls else float('nan'):.1f} s, the rest records the trained step)",
              flush=True)

        spec_path = write_spec(tmp, "bench", axes)
        from archsim.dse.spec import load_sweep
        from archsim.dse.points import expand
        got = len(expand(load_sweep(spec_path)))
        if got != n:
            raise SystemExit(f"the grid expands to {got} distinct points, expected {n}")

        # 2. serial
        print(f"\nserial sweep ({n} points) ... {load_text()}", flush=True)
        ser, ser_wall, ser_sum = sweep(spec_path, tmp / "A", 1)
        print(f"  done: {ser_sum.by_status}  {ser_wall:.1f} s  {load_text()}", flush=True)
        # 3. Dask
        print(f"Dask sweep ({n} points, {args.workers} workers) ... {load_text()}", flush=True)
        dsk, dsk_wall, dsk_sum = sweep(spec_path, tmp / "B", args.workers)
        print(f"  done: {dsk_sum.by_status}  {dsk_wall:.1f} s  {load_text()}", flush=True)

        # 4. report
        put_scratch = scratch_puts(tmp / "scratch", 1000) if SAMPLE else float("nan")
        sa, sb = split(tmp / "A"), split(tmp / "B")
        ser_expand = ser.since(ser.t0, "plan")
        ser_plan = ser.since("plan", "checked")
        ser_eval = ser.since("checked", ser.last_point)
        ser_group = sum(b - a for a, b in ser.group)
        dsk_expand = dsk.since(dsk.t0, "plan")
        dsk_plan = dsk.since("plan", "checked")
        dsk_start = dsk.cluster_start_s or 0.0
        dsk_eval = dsk.since(dsk.cluster_ready, dsk.last_point)   # submit + train task + points
        dsk_close = dsk.t0 + dsk_wall - dsk.last_point
        dsk_first = dsk.since(dsk.cluster_ready, dsk.first_point)

        print(f"\n{'':26s} {'points':>7s} {'wall s':>8s} {'points/s':>9s} {'eval s':>8s} {'eval pts/s':>10s}")
        print(f"{'serial':26s} {n:7d} {ser_wall:8.1f} {n / ser_wall:9.2f} {ser_eval:8.1f} {n / ser_eval:10.2f}")
        print(f"{f'dask x{args.workers}':26s} {n:7d} {dsk_wall:8.1f} {n / dsk_wall:9.2f} {dsk_eval:8.1f} "
              f"{n / dsk_eval:10.2f}")
        print(f"speed-up (serial / dask): {ser_wall / dsk_wall:.2f}x wall, {ser_eval / dsk_eval:.2f}x evaluation only")
        print("  (eval = after planning: serial 'checked' -> last point; dask cluster ready -> last point)")

        print(f"\nper point (ms)              {'serial':>9s} {'dask':>9s}")
        rows = [("simulate (store mean)", sa["simulate_s"], sb["simulate_s"]),
                ("price (store mean)", sa["price_s"], sb["price_s"]),
                ("evaluate_point (wall_s)", sa["eval_s"], sb["eval_s"]),
                ("Store.put (in the sweep)", ser.put_s / max(ser.puts, 1), dsk.put_s / max(dsk.puts, 1)),
                ("expand + store claim", ser_expand / n, dsk_expand / n),
                ("plan (group + check)", ser_plan / n, dsk_plan / n),
                ("client.submit (2 per pt)", 0.0, dsk.submit_s / n),
                ("wall / points", ser_wall / n, dsk_wall / n)]
        for label, x, y in rows:
            print(f"  {label:26s} {1000 * x:9.2f} {1000 * y:9.2f}")
        ser_other = ser_wall / n - sa["eval_s"] - ser.put_s / max(ser.puts, 1) - (ser_expand + ser_plan + ser_group) / n
        print(f"  {'serial rest (driver)':26s} {1000 * ser_other:9.2f}")
        print(f"Store.put on a scratch store: {1000 * put_scratch:.2f} ms per put (1,000 puts of a real row, "
              f"{len(SAMPLE[0][1]) if SAMPLE else 0} breakdown rows each)")
        print(f"simulate_s median / max: serial {sa['sim_p50']:.3f} / {sa['sim_max']:.3f} s, "
              f"dask {sb['sim_p50']:.3f} / {sb['sim_max']:.3f} s")
        print(f"serial: expand+claim {ser_expand:.2f} s, plan {ser_plan:.2f} s, cached training + step trace "
              f"{ser_group:.2f} s")
        print(f"dask: expand+claim {dsk_expand:.2f} s, plan {dsk_plan:.2f} s, LocalCluster start {dsk_start:.2f} s, "
              f"submit {dsk.submit_s:.2f} s ({dsk.submits} tasks), ready -> first point {dsk_first:.2f} s, "
              f"last point -> closed {dsk_close:.2f} s")
        print(f"CPU s: serial driver {ser.driver_cpu_s:.1f} ({ser.driver_cpu_s / ser_wall:.0%} of its wall); "
              f"dask driver {dsk.driver_cpu_s:.1f} ({1000 * dsk.driver_cpu_s / n:.1f} ms per point), "
              f"workers {dsk.children_cpu_s:.1f} ({dsk.children_cpu_s / dsk_wall / args.workers:.0%} of "
              f"{args.workers} x wall)")
        diffs = compare(tmp / "A", tmp / "B")
        print("tables A and B (timing columns aside): " + ("OK" if not diffs else "DIFFER"))
        for d in diffs:
            print("  " + d)
        print(f"\n{load_text()}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
