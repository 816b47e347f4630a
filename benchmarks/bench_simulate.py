"""Simulation speed: the per-tile reference against the fast model (tiles as runs, periodic jumps),
side by side, one training step of every shipped workload on every matching shipped config.

For each pair it prints the SimPy events and the wall time of both models, their ratios, and the
fast model's time to simulate *and price* the step (the cost model loaded once, as a sweep does).
Every number of the two models (cycles, per-op cycles and bounds, busy cycles, action counts) is
compared and a difference stops the benchmark. The mapping search is warmed first, so the times
are the simulator's alone (plus pricing). One BLAS thread; the trace is recorded on the embedded
data at each workload's training batch.

Run: PYTHONPATH=. python benchmarks/bench_simulate.py [--full] [--fast-only] [workload ...]
  --full       also the fixed mapping and the scalesim timing convention (four runs per pair)
  --fast-only  skip the per-tile reference (minutes on edge_8x8 and VGG8B)
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from archsim._runtime import set_blas_threads, tune_malloc
from archsim.config import load_workload
from archsim.config.hardware import hardware_from_mapping, load_hardware
from archsim.cost.model import CostModel
from archsim.data import load_dataset
from archsim.hw.sim import simulate
from archsim.train import record_trace

ROOT = Path(__file__).resolve().parent.parent


def _numbers(result) -> tuple[dict, dict]:
    timing, actions = result
    out = asdict(timing)
    out.pop("events")
    return out, actions.to_json()


def _timed(trace, hw, model: str):
    t0 = time.perf_counter()
    result = simulate(trace, hw, memo=False, model=model, max_tiles=None)
    return result, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    tune_malloc()
    set_blas_threads(1)
    full, fast_only = "--full" in argv, "--fast-only" in argv
    names = [a for a in argv if not a.startswith("--")]
    data = load_dataset()
    configs = [load_hardware(p) for p in sorted((ROOT / "hwconfigs").glob("*.yaml"))]
    variants = [("energy", "archsim")] + ([("fixed", "archsim"), ("energy", "scalesim"), ("fixed", "scalesim")]
                                          if full else [])
    print(f"{'workload':15s} {'hardware':12s} {'mapping':7s} {'timing':8s} {'tiles':>9s} {'events ref':>11s} "
          f"{'events fast':>11s} {'ratio':>7s} {'wall ref s':>10s} {'wall fast s':>11s} {'ratio':>7s} "
          f"{'sim+price ms':>12s}")
    worst = {}
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        spec = load_workload(path)
        if names and spec.name not in names and path.stem not in names:
            continue
        for base in configs:
            if spec.algorithm not in base.algorithms:
                continue
            trace = record_trace(spec, data, base.numerics_for(spec.algorithm), None)
            for mapping, timing in variants:
                hw = hardware_from_mapping({**base.to_dict(), "mapping": mapping, "timing": timing},
                                           base.source_file or "hw.yaml")
                simulate(trace, hw, memo=False, max_tiles=None)  # warm the search's memo
                cost = CostModel(hw)
                fast, fast_s = _timed(trace, hw, "runs")
                t0 = time.perf_counter()
                cost.price(*simulate(trace, hw, memo=False, max_tiles=None))
                priced_ms = 1e3 * (time.perf_counter() - t0)
                tiles = sum(op.tiles for op in fast[0].ops)
                line = (f"{spec.name:15s} {hw.name:12s} {mapping:7s} {timing:8s} {tiles:9,d} ")
                if fast_only:
                    print(line + f"{'-':>11s} {fast[0].events:11,d} {'-':>7s} {'-':>10s} {fast_s:11.3f} {'-':>7s} "
                          f"{priced_ms:12.1f}", flush=True)
                    continue
                ref, ref_s = _timed(trace, hw, "tiles")
                if _numbers(ref) != _numbers(fast):
                    print(line + "DIFFERENT NUMBERS", flush=True)
                    return 1
                e_ratio, w_ratio = ref[0].events / fast[0].events, ref_s / fast_s
                print(line + f"{ref[0].events:11,d} {fast[0].events:11,d} {e_ratio:6.0f}x {ref_s:10.2f} {fast_s:11.3f} "
                      f"{w_ratio:6.0f}x {priced_ms:12.1f}", flush=True)
                worst[(spec.name, hw.name, mapping, timing)] = (ref_s, e_ratio, w_ratio)
    if worst:
        slowest = sorted(worst.items(), key=lambda kv: -kv[1][0])[:4]
        print("\nslowest references: " + "; ".join(f"{w} {h} {m}/{t}: {e:.0f}x fewer events, {r:.0f}x less wall"
                                                   for (w, h, m, t), (_, e, r) in slowest))
        print("every number of the fast model equals the per-tile reference on all "
              f"{len(worst)} simulations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
