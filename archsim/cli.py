"""The ``archsim`` command: the only place that parses arguments or prints."""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import __version__
from ._runtime import set_blas_threads, tune_malloc
from .checkpoint import CheckpointError, unfinished_checkpoint
from .config import ConfigError, load_workload
from .cost.table import CostError
from .data import DataError, load_dataset
from .errors import ReportError, StoreError
from .fileio import OutputError, check_writable, describe_os_error, write_json
from .hw.mapper import MapError
from .numerics import NumericsError
from .outputs import OutputExists, claim, default_folder, digest, plain
from .trace import TraceError

EXIT_USER_ERROR = 2
USER_ERRORS = (ConfigError, DataError, NumericsError, CheckpointError, TraceError, MapError, CostError, OutputError,
               StoreError, ReportError)


def _duration(seconds: float) -> str:
    """``1h05m``, ``4m10s`` or ``12s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class _Progress:
    """Throttled progress lines on stderr: at most one per second, plus one per epoch."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.last = quiet, 0.0

    def _due(self, final: bool) -> bool:
        now = time.monotonic()
        if now - self.last < 1.0 and not final:
            return False
        self.last = now
        return True

    def __call__(self, ev: dict) -> None:
        try:
            self.show(ev)
        except OSError:  # stderr closed (`... 2>&1 | head`): keep working, quietly
            self.quiet = True

    def show(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "warning":  # warnings are shown even with --quiet
            print(f"archsim: warning: {ev['message']}", file=sys.stderr, flush=True)
            return
        if self.quiet:
            return
        if kind == "batch":
            if self._due(ev["batch"] == ev["batches"]):
                print(f"  epoch {ev['epoch']}/{ev['epochs']}  batch {ev['batch']}/{ev['batches']}  "
                      f"loss {ev['loss']:.4f}  train acc {100 * ev['train_accuracy']:5.2f}%  "
                      f"{ev['images_per_s']:7.1f} img/s  {_duration(ev['time_left_s'])} left",
                      file=sys.stderr, flush=True)
        elif kind == "eval":
            if ev["done"] != ev["total"] and self._due(False):
                print(f"  testing {ev['done']}/{ev['total']}", file=sys.stderr, flush=True)
        elif kind in ("map", "simulate"):
            if self._due(False) and ev["total"]:
                what = "mapping" if kind == "map" else f"simulating op {ev['op'] + 1}/{ev['ops']},"
                print(f"  {what} {ev['done']:,}/{ev['total']:,} tiles", file=sys.stderr, flush=True)
        elif kind == "resume":
            print(f"resuming after epoch {ev['epoch']}/{ev['epochs']} from the checkpoint", file=sys.stderr, flush=True)
        elif kind == "epoch":
            schedule = ", ".join(f"{k} {v:g}" for k, v in ev["schedule"].items())
            left = f", {_duration(ev['time_left_s'])} left" if ev["epoch"] < ev["epochs"] and ev["time_left_s"] else ""
            print(f"epoch {ev['epoch']}/{ev['epochs']}: loss {ev['train_loss']:.4f}  "
                  f"train acc {100 * ev['train_accuracy']:5.2f}%  test acc {100 * ev['test_accuracy']:5.2f}%  "
                  f"{ev['images_per_s']:.1f} img/s  ({ev['seconds']:.1f} s, {schedule}{left})",
                  file=sys.stderr, flush=True)


def _finished_already(result_file: Path, identity: dict, force: bool) -> bool:
    """Whether ``result_file`` already holds this configuration's result (then say so: not an
    error); another configuration's result raises :class:`OutputExists` unless ``force``."""
    try:
        claim(result_file, identity, force)
    except OutputExists as exc:
        if not exc.same_config:
            raise
        print(f"archsim: {exc}")
        return True
    return False


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import run_key, train, write_results

    spec = load_workload(args.workload).with_overrides(epochs=args.epochs, seed=args.seed,
                                                       batch_size=args.batch_size)
    if args.out:
        check_writable(args.out)
    data = load_dataset(spec.dataset, args.dataset)
    if args.limit_train:
        data = replace(data, train_images=data.train_images[:args.limit_train],
                       train_labels=data.train_labels[:args.limit_train])
    if args.limit_test:
        data = replace(data, test_images=data.test_images[:args.limit_test],
                       test_labels=data.test_labels[:args.limit_test])
    identity = {"command": "train", **run_key(spec, data, args.numerics, None)}
    out = Path(args.out) if args.out else default_folder(spec.name, args.numerics, f"seed{spec.training.seed}",
                                                         identity=identity)
    check_writable(out)
    if _finished_already(out / "train.json", identity, args.force):
        return 0
    done = unfinished_checkpoint(out)
    if done is not None and not (args.resume or args.force):
        raise CheckpointError(f"{out}: holds an interrupted run ({done} epochs done); pass --resume to continue it, "
                              "--force to start over, or choose another --out")
    if not args.quiet:
        print(f"archsim {__version__}: training {spec.name} ({spec.algorithm}, "
              f"{'numerics: ' + spec.numerics.describe(spec.algorithm) if args.numerics == 'int' else 'float32 reference'}) on "
              f"{data.name}/{data.variant} ({len(data.train_labels)} train, {len(data.test_labels)} test images), "
              f"{spec.training.epochs} epochs, batch {spec.training.batch_size}, seed {spec.training.seed} -> {out}",
              file=sys.stderr, flush=True)
    result, model = train(spec, data, args.numerics, progress=_Progress(args.quiet), checkpoint_dir=out,
                          resume=args.resume)
    path = write_results(result, model, out, identity)
    print(f"final test accuracy {100 * result.final_test_accuracy:.2f}%  best {100 * result.best_test_accuracy:.2f}% "
          f"(epoch {result.best_epoch})  {result.images_per_s:.1f} img/s  wall {result.wall_s:.1f} s")
    print(f"wrote {path}")
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from .train import record_trace

    spec = load_workload(args.workload)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise OutputExists(f"{out}: exists; pass --force to replace it, or choose another --out", same_config=False)
    check_writable(out.parent)
    data = load_dataset(spec.dataset, "mini")
    trace = record_trace(spec, data, batch_size=args.batch)
    trace.save(out)
    macs = trace.macs_by_phase()
    print(f"{len(trace.ops)} ops, batch {trace.batch}; MACs by phase: "
          + ", ".join(f"{k} {v:,}" for k, v in macs.items()))
    print(f"wrote {out}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .hw.sim import simulate
    from .trace import Trace
    from .train import record_trace

    hw = _load_hardware_for(args)
    check_writable(args.out or "runs")
    if args.trace:
        trace = Trace.load(args.trace)
    else:
        if not args.workload:
            raise ConfigError("(command line)", "--workload", "give --workload FILE or --trace FILE")
        spec = load_workload(args.workload)
        trace = record_trace(spec, load_dataset(spec.dataset, "mini"), hw.numerics_for(spec.algorithm), args.batch)
    identity = {"command": "simulate", "trace": digest(trace.to_json()), "hardware": plain(hw)}
    out = Path(args.out) if args.out else default_folder(trace.workload, hw.name, identity=identity)
    if _finished_already(out / "simulate.json", identity, args.force):
        return 0
    check_writable(out)
    start = time.perf_counter()
    timing, actions = simulate(trace, hw, _Progress(args.quiet), args.max_tiles)
    wall = time.perf_counter() - start
    macs = sum(actions.macs_by_width.values())
    pes = hw.array.rows * hw.array.cols
    result = {"workload": trace.workload, "hardware": hw.name, "batch": trace.batch,
              "cycles_per_step": timing.cycles_per_step, "phases": timing.phases(),
              "components": {"busy_cycles": timing.busy_cycles,
                             "utilisation": {c: b / max(timing.cycles_per_step, 1) for c, b in timing.busy_cycles.items()}},
              "ops": [vars(o) for o in timing.ops], "actions": actions.to_json(), "events": timing.events,
              "wall_s": wall, "identity": plain(identity)}
    path = write_json(out / "simulate.json", result)
    print(f"{trace.workload} on {hw.name}: {timing.cycles_per_step:,} cycles per step "
          f"({timing.cycles_per_step / (hw.clock_mhz * 1e3):.3f} ms at {hw.clock_mhz:g} MHz), "
          f"PE utilisation {100 * timing.utilisation(macs, pes):.1f} %, {timing.events:,} events in {wall:.2f} s")
    gemms = [o for o in timing.ops if o.kind in ("gemm", "conv2d")]
    moved = sum(o.dram_read_bytes + o.dram_write_bytes for o in gemms)
    bound = sum(o.compulsory_dram_bytes for o in gemms)
    print(f"DRAM: {(actions.dram_read_bytes + actions.dram_write_bytes) / 1e6:,.1f} MB per step; the GEMM/conv ops move "
          f"{moved / 1e6:,.1f} MB against {bound / 1e6:,.1f} MB compulsory ({moved / max(bound, 1):.2f}x); "
          f"mapping: {hw.mapping}")
    print(f"{'GEMM/conv op':32s} {'mapping':8s} {'loops':6s} {'block m x n x k':>18s} {'DRAM MB':>9s} "
          f"{'bound MB':>9s} {'ratio':>6s}")
    for o in gemms:
        block = "x".join(str(o.block[d]) for d in "mnk") if o.block else ""
        ratio = f"{(o.dram_read_bytes + o.dram_write_bytes) / o.compulsory_dram_bytes:.2f}" \
            if o.compulsory_dram_bytes else "-"
        print(f"{o.name[:32]:32s} {o.mapping:8s} {o.loop_order:6s} {block:>18s} "
              f"{(o.dram_read_bytes + o.dram_write_bytes) / 1e6:9.3f} {o.compulsory_dram_bytes / 1e6:9.3f} {ratio:>6s}")
    print(f"{'phase':12s} {'cycles':>14s} {'share':>7s}")
    for phase, cycles in timing.phases().items():
        print(f"{phase:12s} {cycles:14,d} {100 * cycles / max(timing.cycles_per_step, 1):6.1f}%")
    print(f"wrote {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .cache import cache_root
    from .run import run, training_numerics
    from .train import run_key

    spec = load_workload(args.workload).with_overrides(epochs=args.epochs, seed=args.seed)
    hw = _load_hardware_for(args)
    check_writable(args.out or "runs")
    _use_cache(args.cache)
    check_writable(cache_root() / "train")
    data = load_dataset(spec.dataset, args.dataset)
    numerics, numeric_spec = training_numerics(hw, spec.algorithm)
    identity = {"command": "run", "training": run_key(spec, data, numerics, numeric_spec), "hardware": plain(hw),
                "sram_backend": args.sram_backend}
    out = Path(args.out) if args.out else default_folder(spec.name, hw.name, identity=identity)
    if _finished_already(out / "result.json", identity, args.force):
        return 0
    check_writable(out)
    if not args.quiet:
        print(f"archsim {__version__}: {spec.name} on {hw.name} ({hw.technology_nm} nm, "
              f"{hw.array.rows}x{hw.array.cols} {hw.array.dataflow}, "
              f"{'float32' if numerics == 'fp32' else numeric_spec.describe(spec.algorithm)}), "
              f"{data.name}/{data.variant}, {spec.training.epochs} epochs, seed {spec.training.seed} -> {out}",
              file=sys.stderr, flush=True)
    progress = _Progress(args.quiet)
    result = run(spec, hw, data, progress=progress, sram_backend=args.sram_backend, max_tiles=args.max_tiles)
    for warning in result.warnings:
        progress({"event": "warning", "message": warning})
    path = result.write(out, plain(identity))
    s = result.summary()
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


class _SweepProgress:
    """A tqdm bar of points (done, failed, rate, ETA) on a terminal; a line every 10 s otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.last, self.start = quiet, None, 0.0, time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, ev: dict) -> None:
        try:
            self.show(ev)
        except OSError:  # stderr closed (`... 2>&1 | head`): keep working, quietly
            self.quiet, self.bar = True, None

    def show(self, ev: dict) -> None:
        if self.quiet:
            return
        kind = ev["event"]
        if kind == "plan":
            print(f"{ev['points']} points, {ev['points'] - ev['pending']} already in the store, "
                  f"{ev['pending']} to evaluate", file=sys.stderr, flush=True)
            if self.tty:
                from tqdm import tqdm
                self.bar = tqdm(total=ev["pending"], unit="pt", file=sys.stderr, dynamic_ncols=True)
            self.total = ev["pending"]
        elif kind == "checked":
            print(f"checked before training: {ev['groups']} training group(s), {ev['infeasible']} infeasible point(s)",
                  file=sys.stderr, flush=True)
        elif kind == "group_start" and not self.tty:
            what = "recording the untrained step of" if ev.get("epochs") == 0 else "training"
            print(f"  {what} {ev['workload']} (group {ev['key'][:8]})", file=sys.stderr, flush=True)
        elif kind in ("epoch", "warning") and "group" in ev:
            line = (f"  {ev['workload']} (group {ev['group'][:8]}): " +
                    (f"epoch {ev['epoch']}/{ev['epochs']}, test acc {100 * ev['test_accuracy']:.2f}%"
                     if kind == "epoch" else f"warning: {ev['message']}"))
            (self.bar.write(line, file=sys.stderr) if self.bar is not None else print(line, file=sys.stderr, flush=True))
        elif kind == "point":
            counts = ev["counts"]
            done = sum(counts.values())
            status = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            if self.bar is not None:
                self.bar.set_postfix_str(status, refresh=False)
                self.bar.update(1)
                if done == self.total:
                    self.bar.close()
            elif time.monotonic() - self.last >= 10 or done == self.total:
                self.last = time.monotonic()
                rate = done / max(self.last - self.start, 1e-9)
                eta = (self.total - done) / rate if rate else 0
                print(f"  {done}/{self.total} points ({status}), {rate:.2f} points/s, {_duration(eta)} left",
                      file=sys.stderr, flush=True)


def _print_front(folder: Path, spec) -> None:
    """The best points and the Pareto front of the spec's objectives, as tables."""
    import pandas as pd

    from .dse import load, pareto

    df = load(folder)
    done = df[df["status"] == "done"]
    cols = ["workload", "hardware", *spec.maximize, *spec.minimize]
    cols = list(dict.fromkeys(c for c in cols if c in df.columns))
    if done.empty:
        print("no point finished; see the error column of the store")
        return
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        top = done.sort_values(list(spec.maximize) or list(spec.minimize), ascending=not spec.maximize).head(5)
        print(f"top points by {', '.join(spec.maximize or spec.minimize)}:")
        print(top[cols].to_string(index=False))
        front = pareto(done, minimize=list(spec.minimize), maximize=list(spec.maximize))
        print(f"Pareto front ({len(front)} of {len(done)} points; maximise {', '.join(spec.maximize) or '-'}, "
              f"minimise {', '.join(spec.minimize) or '-'}):")
        print(front[cols].to_string(index=False))


def _use_cache(folder: str | None) -> None:
    """``--cache DIR``: the training cache for this command and the worker processes it starts."""
    from .cache import CACHE_ENV
    if folder:
        os.environ[CACHE_ENV] = str(check_writable(Path(folder).resolve()))


def _cmd_sweep(args: argparse.Namespace) -> int:
    import multiprocessing

    from .dse.spec import load_sweep
    from .dse.sweep import run_sweep

    spec = load_sweep(args.spec)
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{spec.name}"
    check_writable(out)
    _use_cache(args.cache)
    workers = args.workers or (1 if args.scheduler else multiprocessing.cpu_count())
    summary = run_sweep(spec, out, workers=workers, scheduler=args.scheduler, resume=args.resume, force=args.force,
                        progress=_SweepProgress(args.quiet))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items())) or "nothing new"
    print(f"{summary.total} points: {summary.skipped} already stored, {counts}; {summary.wall_s:.1f} s")
    _print_front(out, spec)
    print(f"store: {summary.store}  (archsim.dse.load({str(out)!r}) gives a pandas DataFrame)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.build import build_report
    from .report.data import load_results

    data = load_results(args.folders)
    out = Path(args.out) if args.out else Path("reports") / data.name()
    if (out / "index.html").exists() and not args.force:
        raise OutputExists(f"{out}: holds a report; pass --force to rebuild it, or choose another --out",
                           same_config=False)
    report = build_report(args.folders, out, args.point, data)
    print(f"{report.points} points, {len(report.figures)} figures, {len(report.tables)} tables in {report.seconds:.1f} s")
    print(f"wrote {report.index}  (open it in a browser; it needs no network)")
    return 0


def _add_training_args(p: argparse.ArgumentParser) -> None:
    """What `train` and `run` both take: the workload, its epochs/seed overrides, the data set."""
    p.add_argument("--workload", required=True, help="workload YAML file (see workloads/)")
    p.add_argument("--epochs", type=int, help="override the workload's epochs")
    p.add_argument("--seed", type=int, help="override the workload's seed")
    p.add_argument("--dataset", choices=("mini", "full"), default="mini",
                   help="mini: the embedded 4,000/1,000-image subset (default); full: all of Fashion-MNIST")


def _add_common_args(p: argparse.ArgumentParser, out_help: str, quiet: bool = True) -> None:
    """--out, --force, --threads (and --quiet) of every command."""
    p.add_argument("--out", required=out_help is None, help=out_help or "file to write")
    p.add_argument("--force", action="store_true",
                   help="replace a finished result in the output (by default it is never overwritten)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads (default: $ARCHSIM_BLAS_THREADS, else 1; see the README's 'Threads')")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_max_tiles(p: argparse.ArgumentParser) -> None:
    """--max-tiles and --mapping of the commands that simulate."""
    from .config.hardware import MAPPINGS
    from .hw.sim import DEFAULT_MAX_TILES
    p.add_argument("--max-tiles", type=int, default=DEFAULT_MAX_TILES, metavar="N",
                   help=f"refuse a step of more than N tiles before simulating it (default {DEFAULT_MAX_TILES:,})")
    p.add_argument("--mapping", choices=MAPPINGS,
                   help="override the hardware file's mapping: the search's objective (energy, latency, edp) "
                        "or fixed (the baseline mapper)")


def _load_hardware_for(args: argparse.Namespace):
    """The --hw file, with --mapping applied (validated by the same rules as the file)."""
    from .config.hardware import hardware_from_mapping, load_hardware
    hw = load_hardware(args.hw)
    if getattr(args, "mapping", None) and args.mapping != hw.mapping:
        hw = hardware_from_mapping({**hw.to_dict(), "mapping": args.mapping}, hw.source_file, hw.name)
    return hw


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
    t.add_argument("--limit-test", type=int, metavar="N", help="test on the first N test images only")
    t.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.npz (written after every epoch) instead of starting over")
    _add_common_args(t, "output folder (default runs/<workload>-<numerics>-seed<S>-<config digest>)")
    t.set_defaults(func=_cmd_train)
    r = sub.add_parser("trace", help="record the ops of one integer training step (embedded data) as JSON")
    r.add_argument("--workload", required=True, help="workload YAML file")
    r.add_argument("--batch", type=int, help="batch size (default: the workload's)")
    _add_common_args(r, None, quiet=False)
    r.set_defaults(func=_cmd_trace)
    s = sub.add_parser("simulate", help="simulate one training step on an accelerator and write simulate.json")
    s.add_argument("--workload", help="workload YAML (its step is recorded on the embedded data)")
    s.add_argument("--trace", help="a saved trace JSON to simulate instead of recording one")
    s.add_argument("--hw", required=True, help="hardware YAML file (see hwconfigs/)")
    s.add_argument("--batch", type=int, help="batch size (default: the workload's)")
    _add_max_tiles(s)
    _add_common_args(s, "output folder (default runs/<workload>-<hardware>-<config digest>)")
    s.set_defaults(func=_cmd_simulate)
    u = sub.add_parser("run", help="train on a hardware config's numerics (cached), simulate and price: "
                                   "accuracy, latency, energy, area")
    _add_training_args(u)
    u.add_argument("--hw", required=True, help="hardware YAML file (see hwconfigs/)")
    u.add_argument("--sram-backend", choices=("table", "hwcomponents"), default="table",
                   help="SRAM energy/area: archsim's table (default) or CACTI through hwcomponents (optional, "
                        "needs `make hwc` and .venv-hwc/bin/archsim)")
    _add_max_tiles(u)
    u.add_argument("--cache", metavar="DIR", help="training cache folder (default $ARCHSIM_CACHE or ~/.cache/archsim)")
    _add_common_args(u, "output folder (default runs/<workload>-<hardware>-<config digest>)")
    u.set_defaults(func=_cmd_run)
    w = sub.add_parser("sweep", help="evaluate a design space (sweeps/*.yaml) into a SQLite store, on Dask")
    w.add_argument("spec", help="sweep YAML file (see sweeps/)")
    w.add_argument("--workers", type=int, metavar="N",
                   help="1: serial, in this process; N: a Dask LocalCluster of N single-threaded workers "
                        "(default: the machine's cores)")
    w.add_argument("--scheduler", metavar="ADDR", help="submit to an existing Dask scheduler (tcp://HOST:PORT or a "
                                                       "scheduler file)")
    w.add_argument("--resume", action="store_true", help="continue a sweep: finished points are kept, failed retried")
    w.add_argument("--cache", metavar="DIR", help="training cache folder (default $ARCHSIM_CACHE or ~/.cache/archsim)")
    _add_common_args(w, "output folder of the store (default runs/sweep-<name>)")
    w.set_defaults(func=_cmd_sweep)
    g = sub.add_parser("report", help="tables, figures and an HTML page from stored sweep or run results")
    g.add_argument("folders", nargs="+", metavar="DIR", help="sweep folders (results.sqlite) or run folders (result.json)")
    g.add_argument("--point", metavar="HASH", help="the point whose cycles and roofline are drawn (default: the front's "
                                                    "most accurate)")
    _add_common_args(g, "report folder (default reports/<name>)", quiet=False)
    g.set_defaults(func=_cmd_report)
    return parser


def _check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "limit_train", "limit_test", "batch", "threads", "max_tiles", "workers"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if getattr(args, "seed", None) is not None and args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")


def _silence_stdout() -> None:
    """After a closed pipe (``archsim ... | head -1``): send further output nowhere, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point; user mistakes and OS errors print one line and exit with code 2, never a traceback."""
    tune_malloc()
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_positive(parser, args)
    try:
        set_blas_threads(args.threads)
    except ValueError as exc:  # a bad $ARCHSIM_BLAS_THREADS
        print(f"archsim: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except OutputExists as exc:
        print(f"archsim: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except USER_ERRORS as exc:
        print(f"archsim: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except MemoryError:
        print("archsim: error: out of memory; use a smaller network, batch size or hardware point", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # anything the OS refused that no check above caught
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"archsim: error: {where}{describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        hint = {"run": "rerun the same command: it resumes from the training cache",
                "train": "finished epochs are kept in the output folder's checkpoint.npz, rerun with --resume "
                         "to continue",
                "sweep": "every finished point is in the store; rerun with --resume to continue"}.get(
                    args.command, "nothing was written")
        print(f"archsim: interrupted; {hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
