"""Simulation speed: one training step of every shipped workload on every matching shipped config.

Prints SimPy events, simulated cycles per step, PE utilisation and the wall time of the
simulation alone (the trace is recorded first, on the embedded data).
Run: python benchmarks/bench_simulate.py [batch]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from archsim._runtime import tune_malloc
from archsim.config import load_workload
from archsim.config.hardware import load_hardware
from archsim.data import load_dataset
from archsim.hw.sim import simulate
from archsim.train import record_trace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    tune_malloc()
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else None
    data = load_dataset()
    configs = [load_hardware(p) for p in sorted((ROOT / "hwconfigs").glob("*.yaml"))]
    print(f"{'workload':16s} {'hardware':12s} {'batch':>5s} {'tiles+ops events':>16s} {'cycles/step':>14s} "
          f"{'PE util':>8s} {'sim wall s':>10s}")
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        spec = load_workload(path)
        for hw in configs:
            if spec.algorithm not in hw.algorithms:
                continue
            trace = record_trace(spec, data, hw.numerics_for(spec.algorithm), batch)
            t0 = time.perf_counter()
            timing, actions = simulate(trace, hw)
            wall = time.perf_counter() - t0
            util = timing.utilisation(sum(actions.macs_by_width.values()), hw.array.rows * hw.array.cols)
            print(f"{spec.name:16s} {hw.name:12s} {trace.batch:5d} {timing.events:16,d} {timing.cycles_per_step:14,d} "
                  f"{100 * util:7.1f}% {wall:10.2f}", flush=True)


if __name__ == "__main__":
    main()
