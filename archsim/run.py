"""One run: train on the hardware's numerics (cached), simulate a training step, price it.

Training is the slow part and depends only on the numeric key (workload, numerics, seed,
data, epochs), so its result lives in archsim's cache under a hash of that key; a run
that changes only timing-side parameters (array size, SRAM, DRAM, clock, node) reuses it.
An interrupted training resumes from the cache's per-epoch checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .cache import cache_root
from .checkpoint import CHECKPOINT_NAME, CheckpointError, DamagedCheckpoint, load_checkpoint
from .config import WorkloadSpec
from .config.workload import NumericSpec
from .config.hardware import HardwareSpec
from .cost.model import CostModel, CostReport
from .cost.opcount import opcount_breakdown
from .data import Dataset
from .fileio import check_writable, locked, write_csv, write_json
from .hw.actions import ActionCounts, Timing
from .hw.sim import DEFAULT_MAX_TILES, check_step, simulate
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


def _finished_state(folder: Path, key: dict, result: TrainResult) -> dict | None:
    """The model state of the finished training in ``folder``: its checkpoint, if that holds exactly
    the epochs ``result`` reports for this key (else None: the entry must be recomputed)."""
    try:
        saved = load_checkpoint(folder, key)
    except CheckpointError:  # damaged, or another key's: not this training's end state
        return None
    if saved is None or saved[0] != result.epochs_run:
        return None
    if [r.get("test_accuracy") for r in saved[1]] != result.test_accuracy_per_epoch:
        return None
    return saved[3]


def _drop_foreign_checkpoint(folder: Path, key: dict, progress: Callable[[dict], None] | None) -> None:
    """A cache entry's checkpoint of another key (a copied folder) cannot be resumed: remove it.
    (A damaged one is left to :func:`train`, which names it and starts over.)"""
    try:
        load_checkpoint(folder, key)
    except DamagedCheckpoint:
        pass
    except CheckpointError:
        if progress:
            progress({"event": "warning", "message": f"{folder / CHECKPOINT_NAME}: a checkpoint of another training; "
                                                     "removed, the training is recomputed"})
        (folder / CHECKPOINT_NAME).unlink(missing_ok=True)


def cached_training(spec: WorkloadSpec, data: Dataset, hw: HardwareSpec,
                    progress: Callable[[dict], None] | None = None) -> tuple[TrainResult, bool, dict | None]:
    """Train ``spec`` on ``hw``'s numerics, or load the cached result; returns (result, reused, final
    model state). The cache entry is locked, so processes sharing the cache train each key once."""
    numerics, numeric_spec = training_numerics(hw, spec.algorithm)
    key = run_key(spec, data, numerics, numeric_spec)
    folder = check_writable(train_cache_dir(key))
    done = folder / "train.json"
    with locked(folder):
        try:
            if done.exists() and json.loads((folder / "key.json").read_text()) == key:
                result = TrainResult.from_json(json.loads(done.read_text()))
                state = _finished_state(folder, key, result)
                if state is not None:
                    return result, True, state
                if progress:
                    progress({"event": "warning", "message": f"{folder}: the cached training has no checkpoint of "
                                                             f"its last epoch ({result.epochs_run}); recomputing"})
        except (OSError, ValueError, TypeError, KeyError):
            pass  # an unreadable cache entry is recomputed (resuming from its checkpoint if that is sound)
        done.unlink(missing_ok=True)
        _drop_foreign_checkpoint(folder, key, progress)
        write_json(folder / "key.json", key, sort_keys=True)
        result, model = train(spec, data, numerics, numeric_spec, progress=progress, checkpoint_dir=folder,
                              resume=True)
        write_results(result, model, folder)
    return result, False, model.state()


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
    warnings: tuple[str, ...] = ()
    parameters: dict = field(default_factory=dict)
    """Every hardware and numeric parameter, flat (:func:`parameter_columns`)."""
    component_names: dict = field(default_factory=dict)
    """Cost-model component → stable name across configs (``sram:ifmap`` → ``sram.input``)."""
    op_macs: dict = field(default_factory=dict)
    """MACs of every GEMM/conv op of the step, by op name (for rooflines)."""
    simulate_s: float = 0.0
    price_s: float = 0.0
    """Wall time of the simulation and of the pricing (benchmarks split a point's time with them)."""
    memory_bytes: dict = field(default_factory=dict)
    """The step's training memory by kind (:func:`training_memory_bytes`)."""
    opcount: dict = field(default_factory=dict)
    """NITRO-D's authors' op-count model of the same step (:mod:`archsim.cost.opcount`; NITRO-D only)."""

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
            "training_memory_bytes": sum(self.memory_bytes.values()),
            "training_wall_s": self.training.wall_s,
        }

    def breakdowns(self) -> dict[str, dict[str, float]]:
        """Energy and area by component (stable role names), cycles and energy by phase, cycles by op."""
        c = self.cost.to_json()
        name = lambda k: self.component_names.get(k, k)  # noqa: E731
        return {"energy_j_per_step_by_component": {name(k): v / PJ_PER_J for k, v in c["energy_pj_by_component"].items()},
                "area_mm2_by_component": {name(k): v for k, v in c["area_mm2_by_component"].items()},
                "cycles_per_step_by_phase": self.timing.phases(),
                "energy_j_per_step_by_phase": {k: v / PJ_PER_J for k, v in c["energy_pj_by_phase"].items()},
                "cycles_per_step_by_op": {op.name: op.cycles for op in self.timing.ops},
                "compute_cycles_by_op": {op.name: op.compute_cycles for op in self.timing.ops},
                "dram_cycles_by_op": {op.name: op.dram_cycles for op in self.timing.ops},
                "shift_align_cycles_by_op": {op.name: op.shift_align_cycles for op in self.timing.ops},
                "sram_port_cycles_by_op": {op.name: op.sram_port_cycles for op in self.timing.ops},
                "dram_bytes_by_op": {op.name: op.dram_read_bytes + op.dram_write_bytes for op in self.timing.ops},
                "compulsory_dram_bytes_by_op": {op.name: op.compulsory_dram_bytes for op in self.timing.ops
                                                if op.compulsory_dram_bytes},
                "dram_over_compulsory_by_op": {op.name: (op.dram_read_bytes + op.dram_write_bytes)
                                               / op.compulsory_dram_bytes
                                               for op in self.timing.ops if op.compulsory_dram_bytes},
                **{f"block_{d}_by_op": {op.name: op.block[d] for op in self.timing.ops if op.block} for d in "mnk"},
                "macs_by_op": dict(self.op_macs),
                "memory_bytes_by_kind": dict(self.memory_bytes),
                **({"opcount_model": dict(self.opcount)} if self.opcount else {}),
                "test_accuracy_by_epoch": {str(i + 1): a for i, a in
                                           enumerate(self.training.test_accuracy_per_epoch)}}

    def labels(self) -> dict[str, dict[str, str]]:
        """Per GEMM/conv op, the mapping in words: searched or fixed, the loop order, resident operands."""
        gemms = [op for op in self.timing.ops if op.mapping]
        return {"mapping_by_op": {op.name: op.mapping for op in gemms},
                "loop_order_by_op": {op.name: op.loop_order for op in gemms},
                "resident_by_op": {op.name: "+".join(op.resident) for op in gemms}}

    def to_json(self) -> dict:
        return {**self.parameters, **self.summary(), **self.breakdowns(), **self.labels(),
                "training_reused": self.training_reused,
                "training": self.training.to_json(),
                "simulation": {"busy_cycles": self.timing.busy_cycles, "events": self.timing.events,
                               "actions": self.actions.to_json()},
                "cost": self.cost.to_json(), "warnings": list(self.warnings)}

    def csv_row(self) -> dict[str, float | str]:
        """Parameters, headline results and breakdowns (``group.key``) as one flat row: the columns
        of a sweep's points table, so runs and sweeps concatenate in pandas."""
        row: dict[str, float | str] = {**self.parameters, **self.summary()}
        for group, values in self.breakdowns().items():
            if not group.endswith("_by_op"):  # per op: in result.json and the sweep's long table
                for key, value in values.items():
                    row[f"{group}.{key}"] = value
        return row

    def write(self, out_dir: str | Path, identity: dict | None = None) -> Path:
        """A one-row ``result.csv`` and ``result.json`` (written last: it marks a finished result, with
        the configuration ``identity`` it belongs to) in ``out_dir``; returns the json path."""
        out = Path(out_dir)
        write_csv(out / "result.csv", [self.csv_row()])
        return write_json(out / "result.json", {**self.to_json(), **({"identity": identity} if identity else {})})


def parameter_columns(hw: HardwareSpec, algorithm: str) -> dict:
    """Every hardware parameter and the numeric datapath ``algorithm`` trains with, flat and with
    stable names: banks by the operands they hold (``sram.input.kbytes``), not by their names."""
    d = hw.to_dict()
    out: dict = {"hardware": hw.name, "algorithm": algorithm}
    for key in ("clock_mhz", "technology_nm", "timing"):
        out[key] = d[key]
    for group in ("pe_array", "dram", "shift_align", "random"):
        for key, value in d[group].items():
            out[f"{group}.{key}"] = ",".join(value) if isinstance(value, list) else value
    for bank in hw.banks:
        role = hw.bank_role(bank.name)
        out.update({f"{role}.name": bank.name, f"{role}.kbytes": bank.kbytes, f"{role}.word_bits": bank.word_bits,
                    f"{role}.ports": bank.ports})
    for key, value in asdict(hw.numerics_for(algorithm)).items():
        out[f"numerics.{key}"] = value
    return out


def component_names(hw: HardwareSpec) -> dict[str, str]:
    """The cost model's component names → names that mean the same in every config."""
    return {**{f"sram:{b.name}": hw.bank_role(b.name) for b in hw.banks}, "random_source": "random"}


def training_memory_bytes(trace) -> dict[str, float]:
    """What a training step must hold, by kind, at the widths the trace records (so a float32
    datapath counts 32 bits everywhere): ``weights`` (every stored weight, local heads included),
    ``activations`` (the input of every forward GEMM/conv, the network's input included: kept for
    its weight gradient) and ``gradient_peak`` (the largest weight-gradient buffer, as gradients
    stream layer by layer). The op-count cost model of NITRO-D's authors counts memory this way."""
    weights = sum(op.reads[0].size_bits for op in trace.ops if op.kind == "update") / 8
    activations = sum(op.reads[0].size_bits for op in trace.ops if op.macs and op.phase == "forward") / 8
    gradient = max((w.size_bits for op in trace.ops for w in op.writes if w.tensor.endswith(".dw")), default=0) / 8
    return {"weights": weights, "activations": activations, "gradient_peak": gradient}


def price_step(spec: WorkloadSpec, hw: HardwareSpec, trace, training: TrainResult, reused: bool,
               train_images: int, cost_model: CostModel | None = None, sram_backend: str = "table",
               progress: Callable[[dict], None] | None = None,
               max_tiles: int | None = DEFAULT_MAX_TILES) -> RunResult:
    """Simulate the recorded step of the trained network on ``hw`` and price it."""
    t0 = time.perf_counter()
    timing, actions = simulate(trace, hw, progress, max_tiles)
    t1 = time.perf_counter()
    cost_model = cost_model or CostModel(hw, sram_backend=sram_backend)
    cost = cost_model.price(timing, actions)
    t2 = time.perf_counter()
    batch = spec.training.batch_size
    steps = math.ceil(train_images / batch)
    return RunResult(spec.name, hw.name, training, reused, timing, actions, cost, hw.clock_mhz, batch, steps,
                     tuple(cost_model.warnings), parameter_columns(hw, spec.algorithm), component_names(hw),
                     {op.name: op.macs for op in trace.ops if op.macs}, t1 - t0, t2 - t1,
                     training_memory_bytes(trace.at_width(32) if hw.array.datatype == "fp32" else trace),
                     opcount_breakdown(trace) if spec.algorithm == "nitro_d" else {})


def untrained_result(spec: WorkloadSpec, data: Dataset, hw: HardwareSpec) -> TrainResult:
    """The record of a training of 0 epochs: no accuracy (NaN), no compute."""
    numerics, numeric_spec = training_numerics(hw, spec.algorithm)
    nan = float("nan")
    return TrainResult(spec.name, spec.algorithm, numerics,
                       asdict(numeric_spec) if numeric_spec else {"datapath": "fp32"},
                       f"{data.name}/{data.variant}", spec.training.seed, 0, spec.training.batch_size,
                       len(data.train_labels), len(data.test_labels), [], nan, nan, 0, 0, 0.0, 0.0, {})


def trained_step(spec: WorkloadSpec, data: Dataset, hw: HardwareSpec,
                 progress: Callable[[dict], None] | None = None,
                 untrained: object | None = None) -> tuple[TrainResult, bool, object]:
    """The (cached) training on ``hw``'s numerics and the trace of one step of the trained network
    at the training batch size: what every hardware point of one training key shares. With 0
    epochs nothing is trained: the initial network's step (``untrained`` if it was recorded
    already) is priced and the accuracy is NaN."""
    if spec.training.epochs == 0:
        trace = untrained or record_trace(spec, data, hw.numerics_for(spec.algorithm), spec.training.batch_size)
        return untrained_result(spec, data, hw), False, trace
    training, reused, state = cached_training(spec, data, hw, progress)
    # the step is taken with the trained weights, so zero fractions (zero gating) are the trained
    # network's; a float32 datapath runs the same ops, recorded from the integer model at init
    trace = record_trace(spec, data, hw.numerics_for(spec.algorithm), spec.training.batch_size,
                         state=state if training.numerics == "int" else None)
    return training, reused, trace


def run(spec: WorkloadSpec, hw: HardwareSpec, data: Dataset, progress: Callable[[dict], None] | None = None,
        sram_backend: str = "table", max_tiles: int | None = DEFAULT_MAX_TILES) -> RunResult:
    """Train (or reuse the cached training), simulate one step of the trained network at the
    training batch size, price it. Whatever can fail on the hardware side (pricing, SRAM fit,
    the simulation's size) is checked on a step of the untrained network before training."""
    numeric_spec = hw.numerics_for(spec.algorithm)
    cost_model = CostModel(hw, sram_backend=sram_backend)  # bad node / DRAM type fail before training
    check_step(record_trace(spec, data, numeric_spec, spec.training.batch_size), hw, max_tiles)
    training, reused, trace = trained_step(spec, data, hw, progress)
    return price_step(spec, hw, trace, training, reused, len(data.train_labels), cost_model, sram_backend,
                      progress, max_tiles)


__all__ = ["RunResult", "cached_training", "component_names", "parameter_columns", "price_step", "run",
           "train_cache_dir", "trained_step", "training_memory_bytes", "training_numerics",
           "untrained_result"]
