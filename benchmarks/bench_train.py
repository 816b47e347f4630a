"""Training throughput (images/s) of every shipped workload, integer and float32 modes.

Each workload trains for a fixed number of batches on the embedded data after one
warm-up batch; prints images/s and ms per step. Run: python benchmarks/bench_train.py [batches]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from archsim._runtime import tune_malloc
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import build_model, epoch_batches

ROOT = Path(__file__).resolve().parent.parent


def throughput(spec, data, numerics: str, n_batches: int) -> float:
    """Images per second over ``n_batches`` training steps (after one warm-up step)."""
    model = build_model(spec, numerics)
    model.fit_inputs(data.train_images)
    batches = epoch_batches(len(data.train_labels), spec.training.batch_size, spec.training.seed, 0)
    first = batches[0]
    model.begin_epoch(0, len(batches))
    model.train_step(data.train_images[first], data.train_labels[first])
    t0 = time.perf_counter()
    seen = 0
    for idx in batches[1:n_batches + 1]:
        model.train_step(data.train_images[idx], data.train_labels[idx])
        seen += len(idx)
    return seen / (time.perf_counter() - t0)


def main() -> None:
    tune_malloc()
    n_batches = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    only = sys.argv[2:]  # optional workload names
    data = load_dataset("fashion_mnist", "mini")
    print(f"{'workload':20s} {'numerics':>9s} {'batch':>6s} {'images/s':>10s} {'ms/step':>9s}")
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        spec = load_workload(path)
        if only and spec.name not in only:
            continue
        for numerics in ("int", "fp32"):
            ips = throughput(spec, data, numerics, n_batches)
            bs = spec.training.batch_size
            print(f"{spec.name:20s} {numerics:>9s} {bs:6d} {ips:10.1f} {1e3 * bs / ips:9.1f}", flush=True)


if __name__ == "__main__":
    main()
