"""The ``archsim`` command: the only place that parses arguments or prints."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import __version__
from ._runtime import tune_malloc
from .checkpoint import CheckpointError, unfinished_checkpoint
from .config import ConfigError, load_workload
from .cost.table import CostError
from .data import DataError, load_dataset
from .numerics import NumericsError
from .hw.mapper import MapError
from .trace import TraceError

EXIT_USER_ERROR = 2


class _Progress:
    """Throttled progress lines on stderr: at most one per second, plus one per epoch."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.last = quiet, 0.0

    def __call__(self, ev: dict) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if ev["event"] == "batch":
            if now - self.last < 1.0 and ev["batch"] != ev["batches"]:
                return
            self.last = now
            print(f"  epoch {ev['epoch']}/{ev['epochs']}  batch {ev['batch']}/{ev['batches']}  "
                  f"loss {ev['loss']:.4f}  train acc {100 * ev['train_accuracy']:5.2f}%  "
                  f"{ev['images_per_s']:7.1f} img/s", file=sys.stderr, flush=True)
        elif ev["event"] == "eval":
            if now - self.last >= 1.0 and ev["done"] != ev["total"]:
                self.last = now
                print(f"  testing {ev['done']}/{ev['total']}", file=sys.stderr, flush=True)
        elif ev["event"] == "resume":
            print(f"resuming after epoch {ev['epoch']}/{ev['epochs']} from the checkpoint", file=sys.stderr, flush=True)
        else:
            print(f"epoch {ev['epoch']}/{ev['epochs']}: loss {ev['train_loss']:.4f}  "
                  f"train acc {100 * ev['train_accuracy']:5.2f}%  test acc {100 * ev['test_accuracy']:5.2f}%  "
                  f"{ev['images_per_s']:.1f} img/s  ({ev['seconds']:.1f} s, "
                  f"{', '.join(f'{k} {v:g}' for k, v in ev['schedule'].items())})",
                  file=sys.stderr, flush=True)


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train, write_results

    spec = load_workload(args.workload).with_overrides(epochs=args.epochs, seed=args.seed,
                                                       batch_size=args.batch_size)
    data = load_dataset(spec.dataset, args.dataset)
    if args.limit_train:
        data = replace(data, train_images=data.train_images[:args.limit_train],
                       train_labels=data.train_labels[:args.limit_train])
    out = Path(args.out or f"runs/{spec.name}-{args.numerics}-seed{spec.training.seed}")
    done = unfinished_checkpoint(out)
    if done is not None and not args.resume:
        raise CheckpointError(f"{out}: holds an interrupted run ({done} epochs done); pass --resume to continue it, "
                              "or choose another --out")
    if not args.quiet:
        print(f"archsim {__version__}: training {spec.name} ({spec.algorithm}, "
              f"{'numerics: ' + spec.numerics.describe(spec.algorithm) if args.numerics == 'int' else 'float32 reference'}) on "
              f"{data.name}/{data.variant} ({len(data.train_labels)} train, {len(data.test_labels)} test images), "
              f"{spec.training.epochs} epochs, batch {spec.training.batch_size}, seed {spec.training.seed}",
              file=sys.stderr, flush=True)
    result, model = train(spec, data, args.numerics, progress=_Progress(args.quiet), checkpoint_dir=out,
                          resume=args.resume)
    path = write_results(result, model, out)
    print(f"final test accuracy {100 * result.final_test_accuracy:.2f}%  best {100 * result.best_test_accuracy:.2f}% "
          f"(epoch {result.best_epoch})  {result.images_per_s:.1f} img/s  wall {result.wall_s:.1f} s")
    print(f"wrote {path}")
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from .train import record_trace

    spec = load_workload(args.workload)
    data = load_dataset(spec.dataset, "mini")
    trace = record_trace(spec, data, batch_size=args.batch)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    trace.save(out)
    macs = trace.macs_by_phase()
    print(f"{len(trace.ops)} ops, batch {trace.batch}; MACs by phase: "
          + ", ".join(f"{k} {v:,}" for k, v in macs.items()))
    print(f"wrote {out}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import json

    from .config.hardware import load_hardware
    from .hw.sim import simulate
    from .trace import Trace
    from .train import record_trace

    hw = load_hardware(args.hw)
    if args.trace:
        trace = Trace.load(args.trace)
    else:
        if not args.workload:
            raise ConfigError("(command line)", "--workload", "give --workload FILE or --trace FILE")
        spec = load_workload(args.workload)
        trace = record_trace(spec, load_dataset(spec.dataset, "mini"), hw.numerics_for(spec.algorithm), args.batch)
    start = time.perf_counter()
    timing, actions = simulate(trace, hw)
    wall = time.perf_counter() - start
    macs = sum(actions.macs_by_width.values())
    pes = hw.array.rows * hw.array.cols
    print(f"{trace.workload} on {hw.name}: {timing.cycles_per_step:,} cycles per step "
          f"({timing.cycles_per_step / (hw.clock_mhz * 1e3):.3f} ms at {hw.clock_mhz:g} MHz), "
          f"PE utilisation {100 * timing.utilisation(macs, pes):.1f} %, {timing.events:,} events in {wall:.2f} s")
    print(f"{'phase':12s} {'cycles':>14s} {'share':>7s}")
    for phase, cycles in timing.phases().items():
        print(f"{phase:12s} {cycles:14,d} {100 * cycles / max(timing.cycles_per_step, 1):6.1f}%")
    out = Path(args.out or f"runs/{trace.workload}-{hw.name}")
    out.mkdir(parents=True, exist_ok=True)
    result = {"workload": trace.workload, "hardware": hw.name, "batch": trace.batch,
              "cycles_per_step": timing.cycles_per_step, "phases": timing.phases(),
              "components": {"busy_cycles": timing.busy_cycles,
                             "utilisation": {c: b / max(timing.cycles_per_step, 1) for c, b in timing.busy_cycles.items()}},
              "ops": [vars(o) for o in timing.ops], "actions": actions.to_json(), "events": timing.events,
              "wall_s": wall}
    (out / "simulate.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out / 'simulate.json'}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .config.hardware import load_hardware
    from .run import run, training_numerics

    spec = load_workload(args.workload).with_overrides(epochs=args.epochs, seed=args.seed)
    hw = load_hardware(args.hw)
    data = load_dataset(spec.dataset, args.dataset)
    if not args.quiet:
        numerics, numeric_spec = training_numerics(hw, spec.algorithm)
        print(f"archsim {__version__}: {spec.name} on {hw.name} ({hw.technology_nm} nm, "
              f"{hw.array.rows}x{hw.array.cols} {hw.array.dataflow}, "
              f"{'float32' if numerics == 'fp32' else numeric_spec.describe(spec.algorithm)}), "
              f"{data.name}/{data.variant}, {spec.training.epochs} epochs, seed {spec.training.seed}",
              file=sys.stderr, flush=True)
    result = run(spec, hw, data, progress=_Progress(args.quiet), sram_backend=args.sram_backend)
    s = result.summary()
    out = Path(args.out or f"runs/{spec.name}-{hw.name}")
    path = result.write(out)
    print(f"training {'reused from the cache' if result.training_reused else 'done'}: final test accuracy "
          f"{100 * s['final_test_accuracy']:.2f}%, best {100 * s['best_test_accuracy']:.2f}% ({s['epochs']} epochs)")
    print(f"step (batch {s['batch']}): {s['cycles_per_step']:,} cycles = {1e3 * s['latency_s_per_step']:.3f} ms, "
          f"{1e3 * s['energy_j_per_step']:.3f} mJ, {s['avg_power_w']:.3f} W, {s['tops_per_w']:.3f} TOPS/W")
    print(f"epoch ({s['steps_per_epoch']} steps): {s['latency_s_per_epoch']:.3f} s, {s['energy_j_per_epoch']:.4f} J; "
          f"training: {s['training_latency_s']:.2f} s, {s['training_energy_j']:.3f} J; area {s['area_mm2']:.3f} mm²")
    energy = result.breakdowns()["energy_j_per_step_by_component"]
    total = sum(energy.values())
    print("energy by component: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in
                                              sorted(energy.items(), key=lambda kv: -kv[1])))
    print(f"wrote {path} and {path.with_suffix('.csv')}")
    return 0


def _add_training_args(p: argparse.ArgumentParser) -> None:
    """What `train` and `run` both take: the workload, its epochs/seed overrides, the data set."""
    p.add_argument("--workload", required=True, help="workload YAML file (see workloads/)")
    p.add_argument("--epochs", type=int, help="override the workload's epochs")
    p.add_argument("--seed", type=int, help="override the workload's seed")
    p.add_argument("--dataset", choices=("mini", "full"), default="mini",
                   help="mini: the embedded 4,000/1,000-image subset (default); full: all of Fashion-MNIST")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``archsim`` command."""
    parser = argparse.ArgumentParser(prog="archsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"archsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a workload bit-true (or its float32 reference) and write train.json")
    _add_training_args(t)
    t.add_argument("--batch-size", type=int, help="override the workload's batch size")
    t.add_argument("--numerics", choices=("int", "fp32"), default="int",
                   help="int: bit-true integer training (default); fp32: the float32 reference mode")
    t.add_argument("--limit-train", type=int, metavar="N", help="train on the first N training images only")
    t.add_argument("--out", help="output folder (default runs/<workload>-<numerics>-seed<S>)")
    t.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.npz (written after every epoch) instead of starting over")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=_cmd_train)
    r = sub.add_parser("trace", help="record the ops of one integer training step (embedded data) as JSON")
    r.add_argument("--workload", required=True, help="workload YAML file")
    r.add_argument("--batch", type=int, help="batch size (default: the workload's)")
    r.add_argument("--out", required=True, help="trace JSON file to write")
    r.set_defaults(func=_cmd_trace)
    s = sub.add_parser("simulate", help="simulate one training step on an accelerator and write simulate.json")
    s.add_argument("--workload", help="workload YAML (its step is recorded on the embedded data)")
    s.add_argument("--trace", help="a saved trace JSON to simulate instead of recording one")
    s.add_argument("--hw", required=True, help="hardware YAML file (see hwconfigs/)")
    s.add_argument("--batch", type=int, help="batch size (default: the workload's)")
    s.add_argument("--out", help="output folder (default runs/<workload>-<hardware>)")
    s.set_defaults(func=_cmd_simulate)
    u = sub.add_parser("run", help="train on a hardware config's numerics (cached), simulate and price: "
                                   "accuracy, latency, energy, area")
    _add_training_args(u)
    u.add_argument("--hw", required=True, help="hardware YAML file (see hwconfigs/)")
    u.add_argument("--sram-backend", choices=("table", "hwcomponents"), default="table",
                   help="SRAM energy/area: archsim's table (default) or CACTI through hwcomponents (optional)")
    u.add_argument("--out", help="output folder (default runs/<workload>-<hardware>)")
    u.add_argument("--quiet", action="store_true", help="no progress lines")
    u.set_defaults(func=_cmd_run)
    return parser


def _check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "limit_train", "batch"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if getattr(args, "seed", None) is not None and args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; user mistakes print one line and exit with code 2, never a traceback."""
    tune_malloc()
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_positive(parser, args)
    try:
        return args.func(args)
    except (ConfigError, DataError, NumericsError, CheckpointError, TraceError, MapError, CostError) as exc:
        print(f"archsim: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        hint = ("rerun the same command: it resumes from the training cache" if args.command == "run" else
                "finished epochs are kept in the output folder's checkpoint.npz, rerun with --resume to continue")
        print(f"archsim: interrupted; {hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
