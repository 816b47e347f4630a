"""archsim's closed-form systolic cycles against the real SCALE-Sim 3.0 (PyPI ``scalesim``), layer by layer.

For the GEMMs of one training step of LeNet-5 (forward, input-gradient and weight-gradient
products, im2col view, as archsim's traces record them), on 8x8 and 32x32 arrays in the
three dataflows, prints per layer:

* SCALE-Sim's reported "Total Cycles" (COMPUTE_REPORT.csv, without prefetch) and stalls,
* ``scalesim_gemm_cycles`` (archsim's SCALE-Sim convention) and whether it matches,
* archsim's default convention: ``tile_cycles(..., convention="archsim")`` summed over
  the folds (partial folds charged only for the rows/columns they use; the stream is
  not cut, no overlap between folds),
* SCALE-Sim's wall seconds for that layer and archsim's wall microseconds for both formulas.

Each layer is its own SCALE-Sim run, without traces, with SRAMs that hold every operand
and a high DRAM bandwidth so that there are no stalls. SCALE-Sim costs ~100-200 us of CPU
and ~1.5 kB of memory per simulated cycle: the default set (classic LeNet-5, batch 32)
simulates ~5.4 M cycles, i.e. ~10-15 minutes; ``--max-cycles`` skips bigger layers.

SCALE-Sim is not a dependency of archsim. Install it in a separate venv:
    python3.11 -m venv /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim "numpy<2.4" pyyaml simpy
Run: PYTHONPATH=. /tmp/ssvenv/bin/python benchmarks/compare_scalesim.py [--net lenet5-wage] [--batch 32]
     [--arrays 8x8,32x32] [--dataflows os,ws,is] [--max-cycles 2000000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np

from archsim.hw.scalesim_driver import run_scalesim
from bench_gemm import best_ms  # the benchmarks folder is on sys.path when run as a script
from archsim.hw.systolic import DATAFLOWS, folds, map_tile, scalesim_gemm_cycles, tile_cycles, unmap_tile

INSTALL = """scalesim is not importable here; nothing compared.
SCALE-Sim 3.0.0 is not an archsim dependency. To run this comparison, use a separate venv
(scalesim 3.0.0 crashes with numpy >= 2.4, SCALE-Sim#160):
    python3.11 -m venv /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim "numpy<2.4" pyyaml simpy
    PYTHONPATH=. /tmp/ssvenv/bin/python benchmarks/compare_scalesim.py"""

# Networks: input (H, W, C) and layers ("conv", name, out_channels, kernel, padding) /
# ("pool", size) / ("fc", name, out_features). Stride 1 everywhere.
NETS = {
    # LeCun et al. 1998: 32x32 input, C1 6@5x5, S2, C3 16@5x5 (full connection table), S4, F5 120, F6 84, 10
    "lenet5": ((32, 32, 1), [("conv", "c1", 6, 5, 0), ("pool", 2), ("conv", "c3", 16, 5, 0), ("pool", 2),
                             ("fc", "f5", 120), ("fc", "f6", 84), ("fc", "f7", 10)]),
    # workloads/lenet5_wage.yaml (WAGE's MNIST net); ~70 M SCALE-Sim cycles at batch 32: use --max-cycles
    "lenet5-wage": ((28, 28, 1), [("conv", "conv1", 32, 5, 2), ("pool", 2), ("conv", "conv2", 64, 5, 2),
                                  ("pool", 2), ("fc", "fc3", 512), ("fc", "fc4", 10)]),
}


def training_gemms(net: str, batch: int) -> list[tuple[str, int, int, int]]:
    """(label, M, N, K) of every product of one training step, in archsim's trace convention.

    conv: forward M=B*Ho*Wo, N=Cout, K=k*k*Cin; input grad M=B*Hi*Wi, N=Cin, K=k*k*Cout;
    weight grad M=k*k*Cin, N=Cout, K=B*Ho*Wo. fc: forward M=B, N=out, K=in; input grad
    M=B, N=in, K=out; weight grad M=in, N=out, K=B. The first weight layer has no input grad.
    """
    (h, w, c), layers = NETS[net]
    out, first = [], True
    for layer in layers:
        if layer[0] == "pool":
            h, w = h // layer[1], w // layer[1]
            continue
        if layer[0] == "conv":
            _, name, cout, k, pad = layer
            ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
            out.append((f"{name} fwd", batch * ho * wo, cout, k * k * c))
            if not first:
                out.append((f"{name} dX", batch * h * w, c, k * k * cout))
            out.append((f"{name} dW", k * k * c, cout, batch * ho * wo))
            h, w, c = ho, wo, cout
        else:
            _, name, n_out = layer
            n_in = h * w * c
            out.append((f"{name} fwd", batch, n_out, n_in))
            if not first:
                out.append((f"{name} dX", batch, n_in, n_out))
            out.append((f"{name} dW", n_in, n_out, batch))
            h, w, c = 1, 1, n_out
        first = False
    return out


def _splits(extent: int, size: int) -> list[tuple[int, int]]:
    """(tile extent, how many tiles) when ``extent`` is cut into pieces of at most ``size``."""
    full, rest = divmod(extent, size)
    return [(e, count) for e, count in ((size, full), (rest, 1)) if e and count]


def fold_sum_cycles(dataflow: str, m: int, n: int, k: int, rows: int, cols: int, convention: str) -> int:
    """Sum of :func:`tile_cycles` over the folds of a whole GEMM (folds back to back, stream uncut)."""
    t = map_tile(dataflow, m, n, k)
    total = count = 0
    for r, nr in _splits(t.rows, rows):
        for c, nc in _splits(t.cols, cols):
            total += nr * nc * tile_cycles(dataflow, *unmap_tile(dataflow, r, c, t.stream), rows, cols, convention)
            count += nr * nc
    assert count == folds(dataflow, m, n, k, rows, cols)
    return total


def run_scalesim_gemm(workdir: Path, dataflow: str, m: int, n: int, k: int, rows: int, cols: int,
                      bandwidth: int = 64) -> tuple[int, int, float, float]:
    """One GEMM through SCALE-Sim without traces: (total cycles, stall cycles, wall s, CPU s)."""
    # double-buffered SRAM, half active: make the active half hold the largest operand
    largest = max(m * k, k * n, m * n)
    sram_kb = 64
    while sram_kb * 1024 // 2 < largest:
        sram_kb *= 2
    t0, c0 = time.perf_counter(), time.process_time()
    report = run_scalesim(workdir, dataflow, rows, cols, [f"gemm, {m}, {n}, {k}"], True, sram_kb, bandwidth)[0]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return int(report["Total Cycles"]), int(report["Stall Cycles"]), wall, cpu


def _archsim_both(dataflow: str, m: int, n: int, k: int, rows: int, cols: int) -> tuple[int, int]:
    return (scalesim_gemm_cycles(dataflow, m, n, k, rows, cols),
            fold_sum_cycles(dataflow, m, n, k, rows, cols, "archsim"))


def _array(text: str) -> tuple[int, int]:
    r, c = text.lower().split("x")
    return int(r), int(c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", choices=sorted(NETS), default="lenet5")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--arrays", default="8x8,32x32", help="comma-separated RxC")
    ap.add_argument("--dataflows", default="os,ws,is")
    ap.add_argument("--max-cycles", type=int, default=2_000_000,
                    help="skip SCALE-Sim on a layer predicted to take more cycles (0: no limit)")
    ap.add_argument("--keep", type=Path, help="keep SCALE-Sim's inputs and reports in this new directory")
    args = ap.parse_args(argv)

    try:
        import scalesim  # noqa: F401
    except ImportError:
        print(INSTALL)
        return 0

    arrays = [_array(a) for a in args.arrays.split(",")]
    dataflows = [d.strip() for d in args.dataflows.split(",")]
    if any(d not in DATAFLOWS for d in dataflows):
        ap.error(f"dataflows must be among {DATAFLOWS}")
    gemms = training_gemms(args.net, args.batch)
    root = args.keep if args.keep else Path(tempfile.mkdtemp(prefix="compare_scalesim_"))
    if args.keep:
        root.mkdir(parents=True)

    print(f"# {args.net}, batch {args.batch}: {len(gemms)} GEMMs; scalesim {version('scalesim')}, "
          f"numpy {np.__version__}, python {sys.version.split()[0]}")
    head = (f"{'layer':<10} {'M':>6} {'N':>5} {'K':>6} {'df':<3} {'array':<6} {'SCALE-Sim':>10} {'stalls':>6} "
            f"{'archsim/ss':>10} {'match':<5} {'archsim':>10} {'SS wall s':>9} {'SS cpu s':>8} {'archsim us':>10}")
    print(head)
    print("-" * len(head))
    totals: dict[tuple[str, str], list[float]] = {}
    mismatches = skipped = 0
    try:
        for rows, cols in arrays:
            for df in dataflows:
                key = (df, f"{rows}x{cols}")
                tot = totals.setdefault(key, [0, 0, 0, 0.0, 0.0, 0.0])
                for i, (label, m, n, k) in enumerate(gemms):
                    ours = scalesim_gemm_cycles(df, m, n, k, rows, cols)
                    default = fold_sum_cycles(df, m, n, k, rows, cols, "archsim")
                    assert fold_sum_cycles(df, m, n, k, rows, cols, "scalesim") == ours + 1
                    us = 1e3 * best_ms(partial(_archsim_both, df, m, n, k, rows, cols), 20)
                    if args.max_cycles and ours > args.max_cycles:
                        skipped += 1
                        print(f"{label:<10} {m:>6} {n:>5} {k:>6} {df:<3} {rows}x{cols:<4} {'skipped':>10} "
                              f"{'':>6} {ours:>10} {'':<5} {default:>10} {'':>9} {'':>8} {us:>10.1f}", flush=True)
                        continue
                    got, stalls, wall, cpu = run_scalesim_gemm(root / f"{df}_{rows}x{cols}_{i}", df, m, n, k,
                                                               rows, cols)
                    ok = got == ours and stalls == 0
                    mismatches += not ok
                    for j, v in enumerate((got, ours, default, wall, cpu, us)):
                        tot[j] += v
                    print(f"{label:<10} {m:>6} {n:>5} {k:>6} {df:<3} {rows}x{cols:<4} {got:>10} {stalls:>6} "
                          f"{ours:>10} {'yes' if ok else 'NO':<5} {default:>10} {wall:>9.2f} {cpu:>8.2f} "
                          f"{us:>10.1f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print("\n# totals over the layers SCALE-Sim ran")
    print(f"{'df':<3} {'array':<6} {'SCALE-Sim':>10} {'archsim/ss':>10} {'archsim':>10} {'arch/ss':>10} "
          f"{'SS wall s':>9} {'SS cpu s':>8} {'archsim us':>10}")
    for (df, arr), (got, ours, default, wall, cpu, us) in totals.items():
        ratio = default / ours if ours else float("nan")
        print(f"{df:<3} {arr:<6} {int(got):>10} {int(ours):>10} {int(default):>10} {ratio:>10.3f} "
              f"{wall:>9.2f} {cpu:>8.2f} {us:>10.1f}")
    print(f"\n{mismatches} mismatch(es), {skipped} layer run(s) skipped (> --max-cycles)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
