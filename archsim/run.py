"""One run: train on the hardware's numerics (cached), simulate a training step, price it.

Training is the slow part and depends only on the numeric key (workload, numerics, seed,
data, epochs), so its result lives in archsim's cache under a hash of that key; a run
that changes only timing-side parameters (array size, SRAM, DRAM, clock, node) reuses it.
An interrupted training resumes from the cache's per-epoch checkpoint.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .cache import cache_root
from .checkpoint import load_checkpoint
from .config import WorkloadSpec
from .config.workload import NumericSpec
from .config.hardware import HardwareSpec
from .cost.model import CostModel, CostReport
from .data import Dataset
from .hw.actions import ActionCounts, Timing
from .hw.sim import simulate
from .train import TrainResult, record_trace, run_key, train, write_results

PJ_PER_J = 1e12


def training_numerics(hw: HardwareSpec, algorithm: str) -> tuple[str, NumericSpec | None]:
    """What training must obey on ``hw``: its integer datapath for the algorithm, or float32 on an
    fp32 datapath."""
    numerics = hw.numerics_for(algorithm)  # a clear error when the hardware has no such datapath
    return ("fp32", None) if hw.array.datatype == "fp32" else ("int", numerics)


def train_cache_dir(key: dict) -> Path:
    """Where the training of one numeric key lives."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / "train" / digest


def cached_training(spec: WorkloadSpec, data: Dataset, hw: HardwareSpec,
                    progress: Callable[[dict], None] | None = None) -> tuple[TrainResult, bool, Path, dict]:
    """Train ``spec`` on ``hw``'s numerics, or load the cached result; returns (result, reused,
    cache folder, numeric key)."""
    numerics, numeric_spec = training_numerics(hw, spec.algorithm)
    key = run_key(spec, data, numerics, numeric_spec)
    folder = train_cache_dir(key)
    done = folder / "train.json"
    try:
        if done.exists() and json.loads((folder / "key.json").read_text()) == key:
            return TrainResult.from_json(json.loads(done.read_text())), True, folder, key
    except (OSError, ValueError, TypeError):
        pass  # an unreadable cache entry is recomputed (resuming from its checkpoint if that is sound)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.json").write_text(json.dumps(key, sort_keys=True, indent=1) + "\n")
    result, model = train(spec, data, numerics, numeric_spec, progress=progress, checkpoint_dir=folder, resume=True)
    write_results(result, model, folder)
    return result, False, folder, key


@dataclass
class RunResult:
    """Accuracy beside latency, energy and area of one workload on one accelerator."""

    workload: str
    hardware: str
    training: TrainResult
    training_reused: bool
    timing: Timing
    actions: ActionCounts
    cost: CostReport
    clock_mhz: float
    batch: int
    steps_per_epoch: int

    @property
    def latency_s_per_epoch(self) -> float:
        return self.steps_per_epoch * self.cost.runtime_s

    @property
    def energy_j_per_step(self) -> float:
        return self.cost.energy_pj / PJ_PER_J

    def summary(self) -> dict:
        """The flat headline numbers (the CSV row before breakdowns)."""
        epochs = self.training.epochs_run
        return {
            "workload": self.workload, "hardware": self.hardware,
            "final_test_accuracy": self.training.final_test_accuracy,
            "best_test_accuracy": self.training.best_test_accuracy, "epochs": epochs, "batch": self.batch,
            "steps_per_epoch": self.steps_per_epoch, "cycles_per_step": self.timing.cycles_per_step,
            "latency_s_per_step": self.cost.runtime_s, "latency_s_per_epoch": self.latency_s_per_epoch,
            "training_latency_s": epochs * self.latency_s_per_epoch,
            "energy_j_per_step": self.energy_j_per_step,
            "energy_j_per_epoch": self.steps_per_epoch * self.energy_j_per_step,
            "training_energy_j": epochs * self.steps_per_epoch * self.energy_j_per_step,
            "area_mm2": self.cost.area_mm2, "avg_power_w": self.cost.avg_power_w, "tops_per_w": self.cost.tops_per_w,
        }

    def breakdowns(self) -> dict[str, dict[str, float]]:
        c = self.cost.to_json()
        return {"energy_j_per_step_by_component": {k: v / PJ_PER_J for k, v in c["energy_pj_by_component"].items()},
                "area_mm2_by_component": c["area_mm2_by_component"],
                "cycles_per_step_by_phase": self.timing.phases(),
                "energy_j_per_step_by_phase": {k: v / PJ_PER_J for k, v in c["energy_pj_by_phase"].items()}}

    def to_json(self) -> dict:
        return {**self.summary(), **self.breakdowns(), "training_reused": self.training_reused,
                "training": self.training.to_json(),
                "simulation": {"busy_cycles": self.timing.busy_cycles, "events": self.timing.events,
                               "actions": self.actions.to_json()},
                "cost": self.cost.to_json()}

    def csv_row(self) -> dict[str, float | str]:
        row: dict[str, float | str] = dict(self.summary())
        for group, values in self.breakdowns().items():
            for key, value in values.items():
                row[f"{group}.{key}"] = value
        return row

    def write(self, out_dir: str | Path) -> Path:
        """``result.json`` and a one-row ``result.csv`` in ``out_dir``; returns the json path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "result.json"
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        row = self.csv_row()
        with open(out / "result.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        return path


def run(spec: WorkloadSpec, hw: HardwareSpec, data: Dataset, progress: Callable[[dict], None] | None = None,
        sram_backend: str = "table") -> RunResult:
    """Train (or reuse the cached training), simulate one step of the trained network at the
    training batch size, price it."""
    numeric_spec = hw.numerics_for(spec.algorithm)
    cost_model = CostModel(hw, sram_backend=sram_backend)  # bad node / DRAM type fail before training
    training, reused, folder, key = cached_training(spec, data, hw, progress)
    batch = spec.training.batch_size
    # the step is taken with the trained weights, so zero fractions (zero gating) are the trained
    # network's; a float32 datapath runs the same ops, recorded from the integer model at init
    saved = load_checkpoint(folder, key) if training.numerics == "int" else None
    trace = record_trace(spec, data, numeric_spec, batch, state=saved[3] if saved else None)
    timing, actions = simulate(trace, hw)
    steps = math.ceil(len(data.train_labels) / batch)
    return RunResult(spec.name, hw.name, training, reused, timing, actions, cost_model.price(timing, actions),
                     hw.clock_mhz, batch, steps)


__all__ = ["RunResult", "cached_training", "run", "train_cache_dir", "training_numerics"]
