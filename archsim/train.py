"""Training loop: epochs of shuffled mini-batches, a test pass after every epoch, the result record."""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .checkpoint import DamagedCheckpoint, load_checkpoint, save_checkpoint
from .config import NumericSpec, WorkloadSpec
from .data import Dataset
from .fileio import write_json, write_npz
from .footprint import check_fits
from .trace import Trace, TraceRecorder

NUMERICS_KINDS = ("int", "fp32")
ProgressFn = Callable[[dict], None]


@dataclass
class EpochRecord:
    """What one epoch produced."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    images_per_s: float
    schedule: dict
    images: int = 0
    stopped_early: bool = False


@dataclass
class TrainResult:
    """Everything a training run reports; serialised to ``train.json``."""

    workload: str
    algorithm: str
    numerics: str
    numeric_spec: dict
    dataset: str
    seed: int
    epochs: int
    batch_size: int
    train_images: int
    test_images: int
    test_accuracy_per_epoch: list[float]
    final_test_accuracy: float
    best_test_accuracy: float
    best_epoch: int
    epochs_run: int
    images_per_s: float
    wall_s: float
    overflow_counts: dict[str, dict[str, int]]
    epoch_records: list[EpochRecord] = field(default_factory=list)
    archsim_version: str = __version__

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainResult":
        """Rebuild a result written by :meth:`to_json`."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{**{k: v for k, v in data.items() if k in known},
                      "epoch_records": [EpochRecord(**r) for r in data.get("epoch_records", [])]})


def build_model(spec: WorkloadSpec, numerics: str = "int", numeric_spec: NumericSpec | None = None):
    """The model for a workload's algorithm in integer or float32 mode."""
    if numerics not in NUMERICS_KINDS:
        raise ValueError(f"numerics must be one of {NUMERICS_KINDS}, got {numerics!r}")
    if spec.algorithm == "wage":
        from .algorithms.wage import WageIntModel
        from .algorithms.wage_fp32 import WageFloatModel
        return WageIntModel(spec, numeric_spec) if numerics == "int" else WageFloatModel(spec)
    if spec.algorithm == "nitro_d":
        from .algorithms.nitro_d import NitroModel
        return NitroModel(spec, numeric_spec, numerics)
    raise ValueError(f"no model for algorithm {spec.algorithm!r}")


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The epoch's mini-batches of sample indices: a seeded permutation, the same for int and fp32."""
    gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xBA7C, epoch])))
    order = gen.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int,
             progress: ProgressFn | None = None) -> float:
    """Test accuracy in [0, 1]."""
    correct = 0
    for i in range(0, len(labels), batch_size):
        correct += int((model.predict(images[i:i + batch_size]) == labels[i:i + batch_size]).sum())
        if progress:
            progress({"event": "eval", "done": min(i + batch_size, len(labels)), "total": len(labels)})
    return correct / max(len(labels), 1)


def run_key(spec: WorkloadSpec, data: Dataset, numerics: str, numeric_spec: NumericSpec | None) -> dict:
    """Exactly what determines the trained weights and test accuracies, plus archsim's version (a
    changed algorithm never reuses stale results): the network, the algorithm's hyper-parameters,
    epochs, batch size and seed, the effective numerics, and the data. Not the workload's name,
    its unused numeric defaults or the test batch size. A checkpoint resumes only under its key;
    the training cache is keyed on it."""
    hyper = spec.wage if spec.algorithm == "wage" else spec.nitro
    tr = spec.training
    return {"archsim_version": __version__,
            "workload": {"algorithm": spec.algorithm, "input_shape": list(spec.input_shape),
                         "layers": [asdict(layer) for layer in spec.layers], "num_classes": spec.num_classes,
                         "hyper": json.loads(json.dumps(asdict(hyper))),
                         "training": {"epochs": tr.epochs, "batch_size": tr.batch_size, "seed": tr.seed}},
            "numerics": numerics, "numeric_spec": asdict(numeric_spec or spec.numerics),
            "dataset": f"{data.name}/{data.variant}", "train_images": int(len(data.train_labels)),
            "test_images": int(len(data.test_labels))}


def train(spec: WorkloadSpec, data: Dataset, numerics: str = "int", numeric_spec: NumericSpec | None = None,
          progress: ProgressFn | None = None, checkpoint_dir: str | Path | None = None,
          resume: bool = False) -> tuple[TrainResult, object]:
    """Train ``spec`` on ``data``; returns the result record and the trained model.

    With ``checkpoint_dir`` a checkpoint is written after every epoch; with ``resume``
    training continues from it and ends bit-identical to an uninterrupted run.
    """
    check_fits(spec, data, spec.training.batch_size)
    model = build_model(spec, numerics, numeric_spec)
    tr = spec.training
    n_train = len(data.train_labels)
    records: list[EpochRecord] = []
    train_seconds = 0.0
    first_epoch = 0
    key = run_key(spec, data, numerics, numeric_spec)
    if resume and checkpoint_dir is not None:
        try:
            restored = load_checkpoint(checkpoint_dir, key)
        except DamagedCheckpoint as exc:
            restored = None
            if progress:
                progress({"event": "warning", "message": f"{exc}; starting the training over"})
        if restored is not None:
            try:
                model.load_state(restored[3])
            except (KeyError, ValueError, TypeError, IndexError) as exc:  # readable, but not this model's state
                restored = None
                model = build_model(spec, numerics, numeric_spec)
                if progress:
                    progress({"event": "warning", "message": f"{Path(checkpoint_dir) / 'checkpoint.npz'}: does not "
                                                             f"hold this model's state ({type(exc).__name__}: "
                                                             f"{str(exc)[:60]}); starting the training over"})
        if restored is not None:
            first_epoch, saved, train_seconds, _ = restored
            records = [EpochRecord(**r) for r in saved]
            if progress:
                progress({"event": "resume", "epoch": first_epoch, "epochs": tr.epochs})
    model.fit_inputs(data.train_images)
    start = time.perf_counter()
    stopped = bool(records) and records[-1].stopped_early
    steps_per_epoch = math.ceil(n_train / tr.batch_size)
    steps_left = (tr.epochs - first_epoch) * steps_per_epoch
    steps_done = 0
    for epoch in range(first_epoch, tr.epochs if not stopped else first_epoch):
        batches = epoch_batches(n_train, tr.batch_size, tr.seed, epoch)
        schedule = model.begin_epoch(epoch, len(batches))
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for b, idx in enumerate(batches):
            loss, ok = model.train_step(data.train_images[idx], data.train_labels[idx])
            loss_sum += loss * len(idx)
            correct += ok
            seen += len(idx)
            steps_done += 1
            if progress:
                elapsed = time.perf_counter() - start
                progress({"event": "batch", "epoch": epoch + 1, "epochs": tr.epochs, "batch": b + 1,
                          "batches": len(batches), "loss": loss_sum / seen, "train_accuracy": correct / seen,
                          "images_per_s": seen / max(time.perf_counter() - t0, 1e-9),
                          "time_left_s": elapsed / steps_done * (steps_left - steps_done)})
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        test_acc = evaluate(model, data.test_images, data.test_labels, tr.eval_batch_size, progress)
        stop = model.end_epoch(epoch, test_acc)
        rec = EpochRecord(epoch + 1, loss_sum / seen, correct / seen, test_acc, seconds, seen / seconds, schedule,
                          seen, stop)
        records.append(rec)
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, key, epoch + 1, [asdict(r) for r in records], train_seconds,
                            model.state())
        if progress:
            elapsed = time.perf_counter() - start
            progress({"event": "epoch", "epochs": tr.epochs, **asdict(rec),
                      "time_left_s": 0.0 if stop else elapsed / max(steps_done, 1) * (steps_left - steps_done)})
        if stop:
            break
    accs = [r.test_accuracy for r in records]
    best = int(np.argmax(accs))
    result = TrainResult(
        workload=spec.name, algorithm=spec.algorithm, numerics=numerics,
        numeric_spec=asdict(numeric_spec or spec.numerics) if numerics == "int" else {"datapath": "fp32"},
        dataset=f"{data.name}/{data.variant}", seed=tr.seed, epochs=tr.epochs, batch_size=tr.batch_size,
        train_images=n_train, test_images=len(data.test_labels), test_accuracy_per_epoch=accs,
        final_test_accuracy=accs[-1], best_test_accuracy=accs[best], best_epoch=best + 1,
        epochs_run=len(records),
        images_per_s=sum(r.images for r in records) / max(sum(r.seconds for r in records), 1e-9), wall_s=time.perf_counter() - start,
        overflow_counts=model.counts, epoch_records=records)
    return result, model


def record_trace(spec: WorkloadSpec, data: Dataset, numeric_spec: NumericSpec | None = None,
                 batch_size: int | None = None, state: dict | None = None) -> Trace:
    """Run one integer training step on the first batch of ``data`` and return its recorded ops;
    from the model ``state`` of a checkpoint when given (e.g. trained weights), else from init."""
    batch = batch_size or spec.training.batch_size
    check_fits(spec, data, batch)
    model = build_model(spec, "int", numeric_spec)
    if state is not None:
        model.load_state(state)
    model.fit_inputs(data.train_images)
    model.begin_epoch(0, 1)
    recorder = TraceRecorder()
    model.record_into(recorder)
    model.train_step(data.train_images[:batch], data.train_labels[:batch])
    model.record_into(None)
    return recorder.trace(spec.name, spec.algorithm, batch, asdict(numeric_spec or spec.numerics))


def write_results(result: TrainResult, model, out_dir: str | Path, identity: dict | None = None) -> Path:
    """Write ``weights.npz`` and ``train.json`` (last: it marks a finished run, with the ``identity``
    of its configuration) into ``out_dir``; returns the json path."""
    out = Path(out_dir)
    write_npz(out / "weights.npz", model.weights(), compressed=True)
    return write_json(out / "train.json", {**result.to_json(), **({"identity": identity} if identity else {})},
                      indent=2)
