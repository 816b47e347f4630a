"""Search versus grid: the hypervolume NSGA-II and TPE reach with 10 % of a grid's evaluations.

On a design space small enough to enumerate (LeNet-5 WAGE, 1 epoch on the embedded mini data,
base hwconfigs/array_16x16.yaml; axes pe_array.rows x pe_array.cols in {8, 16, 32}, the ifmap
and filter banks in {32, 64, 128, 256} KiB, DRAM ddr4 / lpddr4: 288 points), with the objectives
minimise training_energy_j, area_mm2 and training_latency_s (one workload, so accuracy is the
same everywhere and is left out):

1. evaluates the whole grid with ``run_sweep`` into ``OUT/grid`` (cached training, so this is the
   simulate + price cost of every point; resumable: a second run of the benchmark reuses it),
2. takes the grid's Pareto front and its hypervolume, with the reference point 1 % of each
   objective's range worse than the grid's worst value,
3. runs NSGA-II and TPE (``run_search``, the same code as ``archsim sweep`` with a ``search:``
   section) with ``trials`` = 10 % of the grid's points, for seeds 1, 2, 3, all into one search
   store ``OUT/search`` (one study per method and seed; a point another study evaluated is
   reused, not evaluated again, so each run's time is its own new evaluations),
4. baseline: uniform random sampling of grid points (with replacement, as Optuna's RandomSampler
   draws) at the same budget, seeds 1-3, and its expectation over 2,000 draws,
5. prints, per method, the hypervolume fraction (search / grid: mean, min, max), the distinct
   points the budget bought, the grid front points it found and the wall time; and checks that
   every point the searches stored has exactly the grid's numbers.

Run: python benchmarks/bench_search.py [--out runs/bench-search] [--workers N] [--fraction 0.1]
     [--seeds 3] [--tiny]      (--tiny: a 2-channel conv net instead of LeNet-5, seconds not minutes)
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads; Dask workers inherit it
os.environ.setdefault("ARCHSIM_BLAS_THREADS", "1")

import argparse
import math
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
HARDWARE = ROOT / "hwconfigs" / "array_16x16.yaml"
LENET = ROOT / "workloads" / "lenet5_wage.yaml"
AXES = {"pe_array.rows": [8, 16, 32], "pe_array.cols": [8, 16, 32],
        "sram.banks[ifmap].kbytes": [32, 64, 128, 256], "sram.banks[filter].kbytes": [32, 64, 128, 256],
        "dram.type": ["ddr4", "lpddr4"]}
MINIMIZE = ["training_energy_j", "area_mm2", "training_latency_s"]
TINY = {"name": "tiny-conv", "algorithm": {"name": "wage"},
        "network": {"input": [28, 28, 1], "layers": [
            {"type": "conv", "name": "conv1", "out_channels": 2, "kernel": 3, "padding": 1},
            {"type": "maxpool", "name": "pool1", "size": 2}, {"type": "qrelu", "name": "act1"},
            {"type": "fc", "name": "fc2", "out_features": 10}]},
        "training": {"epochs": 1, "batch_size": 32, "seed": 5}}


def write_spec(path: Path, workload: Path, search: dict | None = None) -> Path:
    spec = {"name": path.stem, "workloads": [{"file": str(workload), "epochs": 1}], "hardware": str(HARDWARE),
            "dataset": "mini", "axes": AXES, "objectives": {"maximize": [], "minimize": MINIMIZE}}
    if search:
        spec["search"] = search
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def rows_of(folder: Path):
    from archsim.dse import load
    return load(folder).set_index("point_hash")


def study_trials(store: Path, name: str):
    import optuna
    from archsim.dse.search import open_storage
    storage = open_storage(store)
    try:
        return optuna.load_study(study_name=name, storage=storage).trials_dataframe().sort_values("number")
    finally:
        storage.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench-search"))
    ap.add_argument("--workers", type=int, default=1, help="1: serial search (default); N: batches of N on Dask")
    ap.add_argument("--grid-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()

    from archsim._runtime import set_blas_threads, tune_malloc
    from archsim.dse.pareto import hypervolume, pareto_mask
    from archsim.dse.search import build_space, space_digest, study_name
    from archsim.dse.spec import load_sweep
    from archsim.dse.sweep import run_sweep

    tune_malloc()
    set_blas_threads(1)
    out = Path(args.out) / ("tiny" if args.tiny else "lenet5")
    out.mkdir(parents=True, exist_ok=True)
    workload = LENET
    if args.tiny:
        workload = out / "tiny.yaml"
        workload.write_text(yaml.safe_dump(TINY, sort_keys=False))

    # 1. the grid
    grid_spec = load_sweep(write_spec(out / "grid.yaml", workload))
    t0 = time.perf_counter()
    g = run_sweep(grid_spec, out / "grid", workers=args.grid_workers, resume=True)
    grid_wall = time.perf_counter() - t0
    grid = rows_of(out / "grid")
    n_grid = len(grid)
    done = grid[grid["status"] == "done"]
    values = done[MINIMIZE].to_numpy(float)
    print(f"grid: {n_grid} points ({', '.join(f'{k} {v}' for k, v in grid['status'].value_counts().items())}); "
          f"{g.total - g.skipped} evaluated now in {grid_wall:.1f} s with {args.grid_workers} worker(s), "
          f"{g.skipped} already stored; per point (serial sum) {grid['wall_s'].sum():.0f} s, "
          f"mean {grid['wall_s'].mean():.2f} s", flush=True)

    # 2. its front and hypervolume
    senses = ["min"] * len(MINIMIZE)
    lo, hi = values.min(axis=0), values.max(axis=0)
    reference = hi + 0.01 * (hi - lo)
    hv_grid = hypervolume(values, senses, reference)
    front = set(done.index[pareto_mask(values, senses)])
    print(f"grid front: {len(front)} points; reference {dict(zip(MINIMIZE, np.round(reference, 6).tolist()))}; "
          f"hypervolume {hv_grid:.6g}")

    def fraction(hashes) -> tuple[float, int]:
        ok = [h for h in hashes if h in done.index]
        if not ok:
            return 0.0, 0
        return hypervolume(done.loc[ok, MINIMIZE].to_numpy(float), senses, reference) / hv_grid, len(front & set(ok))

    budget = max(1, math.ceil(args.fraction * n_grid))
    print(f"budget: {budget} trials ({100 * args.fraction:g} % of {n_grid})\n", flush=True)

    # 3. the searches, one store
    results: dict[str, list[dict]] = {}
    search_store = out / "search"
    for method in ("nsga2", "tpe"):
        for seed in range(1, args.seeds + 1):
            path = write_spec(out / f"search-{method}-{seed}.yaml", workload,
                              {"method": method, "trials": budget, "seed": seed})
            spec = load_sweep(path)
            t0, c0 = time.perf_counter(), time.time()
            s = run_sweep(spec, search_store, workers=args.workers, resume=True)
            wall = time.perf_counter() - t0
            with sqlite3.connect(search_store / "results.sqlite") as db:   # simulate + price of its new points
                point_s = db.execute("SELECT COALESCE(SUM(wall_s), 0) FROM points WHERE finished_at >= ?",
                                     (c0,)).fetchone()[0]
            name = study_name(spec, space_digest(spec, build_space(spec)))
            trials = study_trials(search_store / "results.sqlite", name)
            hashes = trials["user_attrs_point_hash"].tolist()
            frac, found = fraction(hashes)
            results.setdefault(method, []).append(
                {"seed": seed, "fraction": frac, "distinct": len(set(hashes)), "found": found, "wall": wall,
                 "new": sum(v for k, v in s.by_status.items() if k != "repeated"), "point_s": point_s,
                 "trials": sum(s.by_status.values()),
                 "states": trials["state"].value_counts().to_dict()})
            r = results[method][-1]
            print(f"  {method} seed {seed}: hypervolume {100 * frac:5.1f} % of the grid's, {r['distinct']} distinct "
                  f"points in {budget} trials, {found}/{len(front)} grid front points, {r['new']} new evaluations "
                  f"in {wall:.1f} s ({point_s:.1f} s simulate + price); trial states {r['states']}", flush=True)

    # 4. random sampling at the same budget
    all_hashes = grid.index.to_numpy()
    for seed in range(1, args.seeds + 1):
        pick = np.random.default_rng(seed).choice(all_hashes, budget, replace=True)
        frac, found = fraction(pick.tolist())
        results.setdefault("random", []).append({"seed": seed, "fraction": frac, "distinct": len(set(pick)),
                                                 "found": found, "wall": 0.0, "new": 0})
    rng = np.random.default_rng(12345)
    expected = np.array([fraction(rng.choice(all_hashes, budget, replace=True).tolist())[0] for _ in range(2000)])

    # 5. summary and consistency
    print(f"\nhypervolume fraction after {budget} evaluations ({100 * args.fraction:g} % of the {n_grid}-point grid), "
          f"{args.seeds} seeds; search {'serial' if args.workers == 1 else f'batches of {args.workers} on Dask'}:")
    print(f"{'method':8s} {'mean':>7s} {'min':>7s} {'max':>7s} {'distinct pts':>13s} {'front pts':>10s} {'wall s':>8s}")
    for method, rs in results.items():
        f = [r["fraction"] for r in rs]
        print(f"{method:8s} {100 * np.mean(f):6.1f}% {100 * min(f):6.1f}% {100 * max(f):6.1f}% "
              f"{np.mean([r['distinct'] for r in rs]):13.1f} {np.mean([r['found'] for r in rs]):10.1f} "
              f"{np.mean([r['wall'] for r in rs]):8.1f}")
    print(f"random, expectation over 2,000 draws: {100 * expected.mean():.1f} % "
          f"(5-95 %: {100 * np.quantile(expected, 0.05):.1f}-{100 * np.quantile(expected, 0.95):.1f} %)")
    searched = [r for m in ("nsga2", "tpe") for r in results[m]]
    trials_run = sum(r["trials"] for r in searched)
    if trials_run:
        wall = sum(r["wall"] for r in searched)
        point_s = sum(r["point_s"] for r in searched)
        print(f"searches: {wall:.1f} s for {trials_run} trials and {sum(r['new'] for r in searched)} new evaluations "
              f"({point_s:.1f} s of it simulating and pricing); everything else (Optuna in SQLite, planning, "
              f"loading the cached training) {(wall - point_s) / trials_run:.2f} s per trial")
    stored = rows_of(search_store)
    stored = stored[stored["status"] == "done"]
    same = grid.loc[stored.index, MINIMIZE].to_numpy(float)
    diff = np.abs(stored[MINIMIZE].to_numpy(float) - same).max() if len(stored) else 0.0
    print(f"search store: {len(stored)} done points; largest objective difference from the grid's row of the same "
          f"point: {diff:.3g}")
    with sqlite3.connect(search_store / "results.sqlite") as db:
        n, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT point_hash) FROM points").fetchone()
    assert n == distinct and diff == 0.0, "a search row differs from the grid's"


if __name__ == "__main__":
    sys.exit(main())
