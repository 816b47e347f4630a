"""BLAS threads: 1 vs 2 OpenBLAS threads side by side, idle and with one busy background process.

Measures in one process, switching the thread count with threadpoolctl:
  (a) float32 sgemm (numpy ``@``) at a batch-like, a medium and a large size, best ms per call;
  (b) archsim's exact integer GEMM (``archsim.numerics.matmul_exact``) on LeNet-5- and MLP-like operands;
  (c) one training epoch (integer mode) of workloads/mlp2_nitro.yaml and of lenet5_wage.yaml
      (the `make demo` workload) on the first N images of the embedded mini data, images/s of
      the epoch (the test pass is not counted, as in ``archsim train``).
1- and 2-thread runs alternate so that drifting load hits both alike. Values are the best run;
the ratios are time(2 threads)/time(1 thread) of the best and of the median runs: > 1 means
two threads are slower. The whole table is repeated with one ``while True: pass`` process
started in the background (the busy-machine case), unless --idle-only.

Run: python benchmarks/bench_threads.py [--reps N] [--limit-train N] [--epoch-reps N] [--lenet-limit-train N] [--idle-only]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from archsim._runtime import tune_malloc
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.numerics import matmul_exact, max_abs, plan_gemm
from archsim.train import train

ROOT = Path(__file__).resolve().parent.parent
THREADS = (1, 2)

SGEMM = [  # (label, M, K, N)
    ("sgemm small (batch-like)", 64, 784, 200),
    ("sgemm medium", 512, 512, 512),
    ("sgemm large", 2048, 2048, 2048),
]
EXACT = [  # (label, M, K, N, max|A|, max|B|)
    ("exact lenet conv2 fwd i8 x tern", 128 * 196, 800, 64, 127, 1),
    ("exact lenet conv2 dW  i8 x i8", 800, 128 * 196, 64, 127, 127),
    ("exact lenet fc3 fwd   i8 x tern", 128, 3136, 512, 127, 1),
    ("exact mlp fc1 fwd     i8 x i16", 64, 784, 200, 127, 32767),
    ("exact mlp fc1 dW      i8 x i8", 784, 64, 200, 127, 127),
]


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _cpu_ticks() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat (None off Linux)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    busy = v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq
    return busy / hz, (v[7] if len(v) > 7 else 0) / hz


class CpuWatch:
    """How many cores other work (not this process or its children) kept busy during a section."""

    def __init__(self) -> None:
        self.t0, self.m0, self.own0 = time.perf_counter(), _cpu_ticks(), self._own()

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def report(self, busy_pid_cpu: float = 0.0) -> str:
        """``busy_pid_cpu``: CPU seconds of our own background load process (still running, so not in os.times)."""
        wall = time.perf_counter() - self.t0
        m1 = _cpu_ticks()
        if self.m0 is None or m1 is None or wall <= 0:
            return f"{wall:.0f} s"
        others = (m1[0] - self.m0[0]) - (self._own() - self.own0) - busy_pid_cpu
        steal = m1[1] - self.m0[1]
        return f"{wall:.0f} s; other work used {max(others, 0) / wall:.2f} cores, hypervisor steal {steal / wall:.2f} cores"


def _proc_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def alternate(fn, reps: int) -> dict[int, list[float]]:
    """Wall times (s) of ``fn`` per thread count, 1- and 2-thread calls alternating."""
    times: dict[int, list[float]] = {t: [] for t in THREADS}
    for t in THREADS:  # warm-up: thread creation, page faults
        with threadpool_limits(t, user_api="blas"):
            fn()
    for _ in range(reps):
        for t in THREADS:
            with threadpool_limits(t, user_api="blas"):
                t0 = time.perf_counter()
                fn()
                times[t].append(time.perf_counter() - t0)
    return times


HEADER = (f"  {'':34s} {'M×K×N':>16s} {'1 thread':>10s} {'2 threads':>10s} {'unit':>6s} "
          f"{'2T/1T best':>10s} {'2T/1T med':>10s}")


def row(label: str, shape: str, unit: str, times: dict[int, list[float]], scale: float, extra: str = "") -> None:
    """One line: best value per thread count and the time ratios 2T/1T of the best and median runs."""
    best = {t: min(v) for t, v in times.items()}
    med = {t: float(np.median(v)) for t, v in times.items()}
    v1, v2 = (scale / best[1], scale / best[2]) if unit == "img/s" else (scale * best[1], scale * best[2])
    print(f"  {label:34s} {shape:>16s} {v1:10.2f} {v2:10.2f} {unit:>6s} {best[2] / best[1]:9.2f}x "
          f"{med[2] / med[1]:9.2f}x  {extra}", flush=True)


def measure(args: argparse.Namespace, workloads) -> None:
    rng = np.random.default_rng(0)
    print(HEADER)
    for label, m, k, n in SGEMM:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        reps = args.reps if m * k * n < 1e9 else max(3, args.reps // 4)
        row(label, f"{m}×{k}×{n}", "ms", alternate(lambda: a @ b, reps), 1e3)
    for label, m, k, n, ma, mb in EXACT:
        a = rng.integers(-ma, ma + 1, size=(m, k)).astype(np.int8)
        b = rng.integers(-mb, mb + 1, size=(k, n)).astype(np.int8 if mb < 128 else np.int16)
        want = a.astype(np.int64) @ b.astype(np.int64)
        assert np.array_equal(matmul_exact(a, b), want), label
        path = plan_gemm(k, max_abs(a), max_abs(b)).path
        reps = args.reps if m * k * n < 5e8 else max(3, args.reps // 4)
        row(label, f"{m}×{k}×{n}", "ms", alternate(lambda: matmul_exact(a, b), reps), 1e3, path)
    for spec, data, reps in workloads:
        times: dict[int, list[float]] = {t: [] for t in THREADS}  # seconds per image of the epoch
        for _ in range(reps):
            for t in THREADS:
                with threadpool_limits(t, user_api="blas"):
                    result, _model = train(spec, data, "int")
                times[t].append(1.0 / result.images_per_s)
        row(f"train {spec.name} 1 epoch", f"{len(data.train_labels)} img", "img/s", times, 1.0,
            f"{reps} epochs each")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=12, help="timed calls per GEMM and thread count (best is kept)")
    ap.add_argument("--limit-train", type=int, default=4000, help="mlp2 training images per epoch (mini set: 4000)")
    ap.add_argument("--epoch-reps", type=int, default=8, help="mlp2 epochs per thread count")
    ap.add_argument("--lenet-limit-train", type=int, default=1024,
                    help="lenet5-wage (the `make demo` workload) training images per epoch; 0 skips it")
    ap.add_argument("--lenet-epoch-reps", type=int, default=3, help="lenet5-wage epochs per thread count")
    ap.add_argument("--idle-only", action="store_true", help="skip the run with a busy background process")
    args = ap.parse_args()
    tune_malloc()
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    desc = ", ".join(f"{p['internal_api']} {p['version']} ({p.get('architecture', '?')}, "
                     f"default {p['num_threads']} threads)" for p in blas) or "no BLAS found"
    print(f"cores: {os.cpu_count()}   BLAS: {desc}")
    workloads = []
    for name, limit, reps in (("mlp2_nitro", args.limit_train, args.epoch_reps),
                              ("lenet5_wage", args.lenet_limit_train, args.lenet_epoch_reps)):
        if limit <= 0 or reps <= 0:
            continue
        spec = load_workload(ROOT / "workloads" / f"{name}.yaml").with_overrides(epochs=1)
        data = load_dataset(spec.dataset, "mini")
        data = replace(data, train_images=data.train_images[:limit], train_labels=data.train_labels[:limit])
        workloads.append((spec, data, reps))
    watch = CpuWatch()
    print(f"\nidle: no load of ours ({load()} before)")
    measure(args, workloads)
    print(f"  ({load()} after; {watch.report()})")
    if args.idle_only:
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        cpu0 = _proc_cpu(busy.pid)
        watch = CpuWatch()
        print(f"\nbusy: one background 'while True: pass' process, pid {busy.pid} ({load()} before)")
        measure(args, workloads)
        print(f"  ({load()} after; {watch.report(_proc_cpu(busy.pid) - cpu0)})")
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
