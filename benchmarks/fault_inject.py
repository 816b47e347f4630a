"""Fault injection: kill every archsim command at random moments and check that no file is ever partial.

For each command (``train``, ``run``, ``simulate``, ``trace``) in a private temporary folder, with
``ARCHSIM_CACHE`` pointed at a private cache:

1. a *baseline* run on an empty folder gives the reference files;
2. one uninterrupted run of the exact command the kills use (``--force``, over the complete
   previous version) measures its duration T (``run`` has two modes, measured separately:
   *warm*, the training cache complete (files a previous kill left missing are put back from the
   baseline), so only ``result.csv``/``result.json`` are rewritten, and *cold*, the cache's
   ``checkpoint.npz`` deleted first, so the cache entry is retrained and ``key.json``,
   ``checkpoint.npz``, ``weights.npz`` and ``train.json`` are rewritten too; the attempts
   alternate, warm first, so the last kill is a cold one and recovery starts from its cache);
3. N times (``--kills-per-command``, default 6): start the command, sleep a random moment
   (half the kills uniform over [0, T], half uniform over [0.8 T, 1.05 T], where the writes
   happen; ``--seed`` fixes them), send SIGKILL, then classify every file under the output
   folder and the cache:

   * ``absent``  -- not there (never written yet, or removed by archsim itself);
   * ``old``     -- the same file as before the start (same inode, same bytes; the old files are
     held open meanwhile, so a new file cannot reuse a replaced file's inode number);
   * ``new``     -- a different file (a rename replaced it) that is complete: JSON parses and has
     the baseline's top-level keys, an ``.npz`` opens with numpy and every member loads (the
     baseline's member names), a CSV has the baseline's header and exactly one row, ``.lock`` is
     empty;
   * ``partial`` -- anything else, including a file modified in place; must be 0.

   Temporary files (``.<name>.<random>.tmp``, left by a kill between ``mkstemp`` and
   ``os.replace``) are not results: they are counted as *leftovers* and left in place, so the
   reruns also see them. A moment at which the process had already exited is not a kill: the
   attempt is checked like the others (its exit code must be 0) and another attempt is made,
   until N kills were delivered (at most 4 N attempts); such whole runs also refine T (the median
   of the uninterrupted durations seen, as the machine's load varies).
4. recovery: the plain rerun a user would type (``train --resume``; ``run``/``simulate`` without
   ``--force``) must exit 0 (a finished result of the same configuration: "already holds"),
   ``trace`` without ``--force`` is expected to refuse the existing file (exit 2, it records no
   configuration); then the forced rerun (``train --force --resume`` continues from whatever
   checkpoint the last kill left, ``run --force`` from whatever the cache holds, the others
   ``--force``) must exit 0 without a traceback, and every file must equal the baseline's:
   the same files, JSON equal apart from timing fields (``wall_s``, ``images_per_s``,
   ``seconds``, ``train_seconds``; ``training_reused`` for ``run``), ``.npz`` members equal
   (a checkpoint's ``meta`` compared as JSON with the same exceptions), CSV rows equal, other
   files byte-identical.

Prints one table row per command and a final PASS/FAIL line; exits 1 on any partial file,
failed exit code, traceback, hang (a stale ``.lock`` would show as one) or a recovery that
differs from the baseline.

Run: ``.venv/bin/python benchmarks/fault_inject.py [--kills-per-command 6] [--seed 0] [--commands
train,run,simulate,trace] [--keep] [--verbose]``. Measured on the shared 2-core machine (load
1.6-2 from other jobs): 44-73 s in total for the default 24 kills, about half of it for ``train``
(LeNet-5 WAGE, 2 epochs on 512 images, T = 3.5-5 s); ``run`` (MLP NITRO-D, 1 epoch, edge_8x8),
``simulate`` (MLP on array_16x16) and ``trace`` (LeNet-5) run 0.5-0.8 s per invocation. The moments are
seeded, but what a kill hits also depends on the machine's timing, so outcome counts vary a little
from run to run (the verdict must not).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ROOT / "workloads"
HWCONFIGS = ROOT / "hwconfigs"

TIMING_KEYS = frozenset({"wall_s", "images_per_s", "seconds", "train_seconds"})
"""Fields that measure time and so differ between two runs of the same configuration."""
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"
OUTCOMES = ("absent", "old", "new", "partial")


def is_temp(name: str) -> bool:
    """A temporary file of archsim's atomic writes (``.<target>.<random>.tmp``)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


# ----------------------------------------------------------------------------- commands

@dataclass
class CommandSpec:
    """One archsim command as the fault injector drives it, inside its own folder ``root``."""

    name: str
    root: Path                      # holds out/ and cache/; every file under it is checked
    argv: list[str]                 # the command's arguments (after ``archsim``), without --force
    kill_extra: list[str] = field(default_factory=lambda: ["--force"])
    plain_extra: list[str] = field(default_factory=list)      # the user's plain rerun
    plain_codes: tuple[int, ...] = (0,)                       # exit codes the plain rerun may give
    forced_extra: list[str] = field(default_factory=lambda: ["--force"])
    modes: tuple[str, ...] = ("force",)                       # attempt i uses modes[i % len(modes)]
    prepare: Callable[["CommandSpec", str], None] | None = None
    ignore_keys: frozenset[str] = TIMING_KEYS
    baseline: dict = field(default_factory=dict)             # filled in by :func:`inject`

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def cache(self) -> Path:
        return self.root / "cache"


def _archsim() -> list[str]:
    return [sys.executable, "-m", "archsim.cli"]


def train_spec(base: Path, workload: str = "lenet5_wage.yaml", epochs: int = 2, limit_train: int = 512) -> CommandSpec:
    root = base / "train"
    return CommandSpec("train", root, ["train", "--workload", str(WORKLOADS / workload), "--epochs", str(epochs),
                                       "--limit-train", str(limit_train), "--out", str(root / "out")],
                       plain_extra=["--resume"], forced_extra=["--force", "--resume"])


def _prepare_run(spec: CommandSpec, mode: str) -> None:
    """``run``'s modes. *cold*: the cache entry's checkpoint is deleted, so the training is recomputed
    and the whole entry rewritten. *warm*: a cache entry that the previous kill left incomplete gets
    its missing files back from the baseline, so only ``result.csv``/``result.json`` are rewritten."""
    if mode == "cold":
        for path in (spec.cache / "train").glob("*/checkpoint.npz"):
            path.unlink()
    elif mode == "warm" and spec.baseline:
        for rel, st in spec.baseline.items():
            path = spec.root / rel
            if rel.startswith("cache/") and not path.exists():
                tmp = path.with_name(f".{path.name}.restore.tmp")
                tmp.write_bytes(st.data)
                os.replace(tmp, path)


def run_spec(base: Path, workload: str = "mlp2_nitro.yaml", hw: str = "edge_8x8.yaml", epochs: int = 1) -> CommandSpec:
    root = base / "run"
    return CommandSpec("run", root, ["run", "--workload", str(WORKLOADS / workload), "--hw", str(HWCONFIGS / hw),
                                     "--epochs", str(epochs), "--out", str(root / "out")],
                       modes=("warm", "cold"), prepare=_prepare_run,
                       ignore_keys=TIMING_KEYS | {"training_reused"})


def simulate_spec(base: Path, workload: str = "mlp2_nitro.yaml", hw: str = "array_16x16.yaml") -> CommandSpec:
    root = base / "simulate"
    return CommandSpec("simulate", root, ["simulate", "--workload", str(WORKLOADS / workload),
                                          "--hw", str(HWCONFIGS / hw), "--out", str(root / "out")])


def trace_spec(base: Path, workload: str = "lenet5_wage.yaml", batch: int | None = None) -> CommandSpec:
    root = base / "trace"
    argv = ["trace", "--workload", str(WORKLOADS / workload), "--out", str(root / "out" / "trace.json")]
    return CommandSpec("trace", root, argv + (["--batch", str(batch)] if batch else []), plain_codes=(2,))


DEFAULT_SPECS = {"train": train_spec, "run": run_spec, "simulate": simulate_spec, "trace": trace_spec}


# ----------------------------------------------------------------------------- files

@dataclass(frozen=True)
class FileState:
    inode: int
    data: bytes
    mtime: float = 0.0  # seconds since the epoch (when the content was last written)


def snapshot(root: Path) -> tuple[dict[str, FileState], set[str]]:
    """(result files by path relative to ``root``, temporary files) under ``root``."""
    files: dict[str, FileState] = {}
    temps: set[str] = set()
    if not root.exists():
        return files, temps
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if is_temp(path.name):
            temps.add(rel)
            continue
        try:
            st = path.stat()
            files[rel] = FileState(st.st_ino, path.read_bytes(), st.st_mtime_ns / 1e9)
        except FileNotFoundError:  # raced with nothing: every process is dead when we look
            pass
    return files, temps


@contextlib.contextmanager
def held(root: Path, files: dict[str, FileState]) -> Iterator[None]:
    """Keep every file of ``files`` open meanwhile: a replaced file's inode then stays allocated, so a
    new file can never reuse its number, and "same inode" reliably means "the same file"."""
    fds = []
    try:
        for rel in files:
            with contextlib.suppress(OSError):
                fds.append(os.open(root / rel, os.O_RDONLY))
        yield
    finally:
        for fd in fds:
            os.close(fd)


def _npz_members(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


class Expect:
    """What a complete version of each file looks like, learnt from the baseline run."""

    def __init__(self, baseline: dict[str, FileState]) -> None:
        self.names = set(baseline)
        self.json_keys: dict[str, set[str]] = {}
        self.npz_members: dict[str, set[str]] = {}
        self.csv_header: dict[str, list[str]] = {}
        for rel, st in baseline.items():
            if rel.endswith(".json"):
                self.json_keys[rel] = set(json.loads(st.data))
            elif rel.endswith(".npz"):
                self.npz_members[rel] = set(_npz_members(st.data))
            elif rel.endswith(".csv"):
                self.csv_header[rel] = _csv_rows(st.data)[0]

    def problem(self, rel: str, data: bytes) -> str | None:
        """Why ``data`` is not a complete version of ``rel`` (None when it is)."""
        if rel not in self.names:
            return "unexpected file"
        try:
            if rel.endswith(".json"):
                obj = json.loads(data)
                if not isinstance(obj, dict):
                    return "JSON is not an object"
                missing = self.json_keys[rel] - set(obj)
                return f"JSON lacks keys {sorted(missing)[:5]}" if missing else None
            if rel.endswith(".npz"):
                members = set(_npz_members(data))  # every member is read in full
                return None if members == self.npz_members[rel] else f"npz members {sorted(members ^ self.npz_members[rel])[:5]} differ"
            if rel.endswith(".csv"):
                rows = _csv_rows(data)
                if len(rows) != 2 or rows[0] != self.csv_header[rel] or len(rows[1]) != len(rows[0]):
                    return f"CSV has {len(rows)} rows / a different header"
                return None
            if rel.endswith(".lock"):
                return None if data == b"" else f"lock file holds {len(data)} bytes"
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            return f"{type(exc).__name__}: {str(exc)[:80]}"
        return "unknown file type"


def classify(before: dict[str, FileState], after: dict[str, FileState], expect: Expect) -> dict[str, tuple[str, str]]:
    """Per file: (outcome, detail) with outcome in :data:`OUTCOMES`."""
    result = {}
    for rel in sorted(set(before) | set(after) | expect.names):
        old, new = before.get(rel), after.get(rel)
        if new is None:
            result[rel] = ("absent", "removed" if old is not None else "")
        elif old is not None and new.inode == old.inode and new.data == old.data:
            result[rel] = ("old", "")
        elif old is not None and new.inode == old.inode:
            why = expect.problem(rel, new.data)
            result[rel] = ("partial", f"modified in place{'; ' + why if why else ''}")
        else:
            why = expect.problem(rel, new.data)
            same = old is not None and new.data == old.data
            result[rel] = ("partial", why) if why else ("new", "same bytes" if same else "")
    return result


def _strip(obj, ignore: frozenset[str]):
    if isinstance(obj, dict):
        return {k: _strip(v, ignore) for k, v in obj.items() if k not in ignore}
    if isinstance(obj, list):
        return [_strip(v, ignore) for v in obj]
    return obj


def differences(baseline: dict[str, FileState], now: dict[str, FileState], ignore: frozenset[str]) -> list[str]:
    """How the files ``now`` differ from the baseline (timing fields ``ignore``d); empty when equal."""
    out = [f"{rel}: missing" for rel in sorted(set(baseline) - set(now))]
    out += [f"{rel}: not in the baseline" for rel in sorted(set(now) - set(baseline))]
    for rel in sorted(set(baseline) & set(now)):
        a, b = baseline[rel].data, now[rel].data
        try:
            if rel.endswith(".json"):
                same = _strip(json.loads(a), ignore) == _strip(json.loads(b), ignore)
            elif rel.endswith(".npz"):
                ma, mb = _npz_members(a), _npz_members(b)
                same = set(ma) == set(mb)
                for name in sorted(set(ma) & set(mb)):
                    if name == "meta":  # a checkpoint's JSON record (progress, timings)
                        ok = _strip(json.loads(bytes(ma[name])), ignore) == _strip(json.loads(bytes(mb[name])), ignore)
                    else:
                        ok = ma[name].dtype == mb[name].dtype and np.array_equal(ma[name], mb[name])
                    if not ok:
                        out.append(f"{rel}: member {name} differs")
            elif rel.endswith(".csv"):
                ra, rb = _csv_rows(a), _csv_rows(b)
                keep = [i for i, h in enumerate(ra[0]) if h.rsplit(".", 1)[-1] not in ignore] if ra else []
                same = ra[:1] == rb[:1] and [[r[i] for i in keep] for r in ra] == [[r[i] for i in keep] for r in rb]
            else:
                same = a == b
        except (ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            same = False
            out.append(f"{rel}: unreadable ({type(exc).__name__})")
        if not same:
            out.append(f"{rel}: differs from the baseline")
    return out


# ----------------------------------------------------------------------------- processes

@dataclass
class Outcome:
    code: int | None
    seconds: float
    stdout: str
    stderr: str
    killed: bool = False
    hung: bool = False
    started: float = 0.0  # time.time() at the start


class Runner:
    """Starts archsim subprocesses of one command with its private cache; logs go to ``logs``."""

    def __init__(self, spec: CommandSpec, logs: Path) -> None:
        self.spec, self.logs, self.count = spec, logs, 0
        self.env = {**os.environ, "ARCHSIM_CACHE": str(spec.cache), "ARCHSIM_NO_DOWNLOAD": "1"}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, extra: list[str]) -> tuple[subprocess.Popen, Path, Path, float, float]:
        self.count += 1
        out = self.logs / f"{self.spec.name}-{self.count:02d}.out"
        err = self.logs / f"{self.spec.name}-{self.count:02d}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            wall = time.time()
            proc = subprocess.Popen(_archsim() + self.spec.argv + extra, stdout=fo, stderr=fe, env=self.env,
                                    cwd=self.spec.root, stdin=subprocess.DEVNULL)
        return proc, out, err, time.perf_counter(), wall

    @staticmethod
    def finish(proc: subprocess.Popen, out: Path, err: Path, t0: float, wall: float, timeout: float,
               killed: bool = False, ended: float | None = None) -> Outcome:
        hung = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.kill(proc.pid, signal.SIGKILL)  # our own child, by its id
            proc.wait()
        seconds = (ended if ended is not None else time.perf_counter()) - t0
        return Outcome(proc.returncode, seconds, out.read_text(errors="replace"), err.read_text(errors="replace"),
                       killed, hung, wall)

    def complete(self, extra: list[str], timeout: float = 600.0) -> Outcome:
        proc, out, err, t0, wall = self.start(extra)
        return self.finish(proc, out, err, t0, wall, timeout)

    def kill_after(self, extra: list[str], delay: float, timeout: float, poll: float = 0.005) -> Outcome:
        """SIGKILL the command ``delay`` seconds after its start, unless it has ended by then (its
        duration is then known to within ``poll`` seconds)."""
        proc, out, err, t0, wall = self.start(extra)
        ended = None
        while (left := delay - (time.perf_counter() - t0)) > 0:
            if proc.poll() is not None:
                ended = time.perf_counter()
                break
            time.sleep(min(poll, left))
        killed = ended is None and proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)  # our own child, by its id
        return self.finish(proc, out, err, t0, wall, timeout, killed, ended)


# ----------------------------------------------------------------------------- one command

@dataclass
class Report:
    name: str
    durations: dict[str, float] = field(default_factory=dict)      # T per mode (median of the runs seen)
    observed: dict[str, list[float]] = field(default_factory=dict)  # uninterrupted durations per mode
    attempts: int = 0
    kills: int = 0
    finished: int = 0                # attempts whose process exited before the signal
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in OUTCOMES})
    replaced_same_bytes: int = 0     # "new" files whose bytes equal the old version's
    leftovers: int = 0               # temporary files left by kills
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recovery: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and self.counts["partial"] == 0


def kill_moment(rng: random.Random, t: float) -> float:
    """Half uniform over the whole run, half near its end (where the files are written)."""
    return rng.uniform(0.0, t) if rng.random() < 0.5 else rng.uniform(0.8 * t, 1.05 * t)


def _traceback(o: Outcome) -> bool:
    return "Traceback" in o.stderr


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:160] if lines else ""


def inject(spec: CommandSpec, kills: int, rng: random.Random, logs: Path, verbose: bool = False,
           log: Callable[[str], None] = print) -> Report:
    """Baseline, timing, ``kills`` SIGKILLs at random moments with a check after each, recovery."""
    rep = Report(spec.name)
    if spec.root.exists():
        shutil.rmtree(spec.root)
    spec.out.mkdir(parents=True)
    runner = Runner(spec, logs)

    # 1. baseline on an empty folder
    base = runner.complete([])
    if base.code != 0 or _traceback(base):
        rep.problems.append(f"baseline run failed (exit {base.code}): {_first_line(base.stderr)}")
        return rep
    baseline, _ = snapshot(spec.root)
    spec.baseline = baseline
    expect = Expect(baseline)
    rep.durations["baseline"] = base.seconds

    # 2. duration of the exact command the kills use, per mode (also a first determinism check)
    before = baseline
    for mode in spec.modes:
        with held(spec.root, before):
            if spec.prepare:
                spec.prepare(spec, mode)
            timed = runner.complete(spec.kill_extra)
            now, _ = snapshot(spec.root)
        if timed.code != 0 or _traceback(timed):
            rep.problems.append(f"uninterrupted {mode} run failed (exit {timed.code}): {_first_line(timed.stderr)}")
            return rep
        rep.durations[mode] = timed.seconds
        rep.observed[mode] = [timed.seconds]
        written = [st.mtime - timed.started for rel, st in now.items()
                   if rel not in before or st.inode != before[rel].inode]
        if written:
            rep.notes.append(f"uninterrupted {mode} run: {len(written)} files written {min(written):.2f}-"
                             f"{max(written):.2f} s after the start, exit after {timed.seconds:.2f} s")
        rep.problems += [f"uninterrupted {mode} run: {d}" for d in differences(baseline, now, spec.ignore_keys)]
        before = now

    # 3. kills
    while rep.kills < kills and rep.attempts < 4 * kills:
        mode = spec.modes[rep.attempts % len(spec.modes)]
        rep.attempts += 1
        if spec.prepare:
            spec.prepare(spec, mode)
        before, temps_before = snapshot(spec.root)
        t = rep.durations[mode]
        delay = kill_moment(rng, t)
        with held(spec.root, before):
            o = runner.kill_after(spec.kill_extra, delay, timeout=max(60.0, 20 * t))
            after, temps_after = snapshot(spec.root)
        verdict = classify(before, after, expect)
        new_temps = temps_after - temps_before
        rep.leftovers += len(new_temps)
        if o.killed:
            rep.kills += 1
        else:
            rep.finished += 1
            if o.code == 0:  # a whole run: its duration sharpens T (the machine's load varies)
                rep.observed[mode].append(o.seconds)
                rep.durations[mode] = float(np.median(rep.observed[mode]))
            if o.code != 0 or o.hung or _traceback(o):
                rep.problems.append(f"attempt {rep.attempts} ({mode}) ran to its end but failed "
                                    f"(exit {o.code}{', hung' if o.hung else ''}): {_first_line(o.stderr)}")
        for rel, (outcome, detail) in verdict.items():
            rep.counts[outcome] += 1
            rep.replaced_same_bytes += outcome == "new" and detail == "same bytes"
            if outcome == "partial":
                rep.problems.append(f"attempt {rep.attempts}: {rel} is partial ({detail})")
        if verbose:
            shown = ", ".join(f"{rel}={oc}{'(' + d + ')' if d else ''}" for rel, (oc, d) in verdict.items())
            log(f"  {spec.name} #{rep.attempts} {mode:5s} at {delay:5.2f}/{t:5.2f} s "
                f"{'killed ' if o.killed else f'exit {o.code}'}: {shown}"
                + (f"; leftovers {sorted(new_temps)}" if new_temps else ""))

    if rep.kills < kills:
        rep.problems.append(f"only {rep.kills} of {kills} kills landed in {rep.attempts} attempts")

    # 4. recovery: the user's plain rerun, then a forced one from whatever state the last kill left
    t_max = max(rep.durations.values())
    problems_before = len(rep.problems)
    with held(spec.root, after):
        plain = runner.complete(spec.plain_extra, timeout=max(60.0, 20 * t_max))
        mid, _ = snapshot(spec.root)
    if plain.hung:
        rep.problems.append("plain rerun hung (stale lock?)")
    elif plain.code not in spec.plain_codes or _traceback(plain):
        rep.problems.append(f"plain rerun exit {plain.code} (expected {spec.plain_codes}): "
                            f"{_first_line(plain.stderr) or _first_line(plain.stdout)}")
    plain_says = _first_line(plain.stdout if plain.code == 0 else plain.stderr)
    for rel, (outcome, detail) in classify(after, mid, expect).items():
        if outcome == "partial":
            rep.problems.append(f"after the plain rerun: {rel} is partial ({detail})")
    forced = runner.complete(spec.forced_extra, timeout=max(60.0, 20 * t_max))
    if forced.code != 0 or forced.hung or _traceback(forced):
        rep.problems.append(f"forced rerun failed (exit {forced.code}{', hung' if forced.hung else ''}): "
                            f"{_first_line(forced.stderr)}")
    final, temps = snapshot(spec.root)
    diffs = differences(baseline, final, spec.ignore_keys)
    rep.problems += [f"after recovery: {d}" for d in diffs]
    said = [ln.strip() for ln in forced.stderr.splitlines() if ln.startswith(("resuming", "archsim: warning"))]
    if spec.name == "run":
        said.append("training reused from the cache" if "reused from the cache" in forced.stdout else
                    "training done in the cache" if "training done" in forced.stdout else "")
    rep.recovery = "ok" if len(rep.problems) == problems_before else "FAILED"
    rep.notes.append(f"plain rerun (exit {plain.code}): {plain_says}")
    rep.notes.append(f"forced rerun ({' '.join(spec.forced_extra)}, exit {forced.code}): "
                     + ("; ".join(x for x in said if x) or "computed from the start"))
    rep.notes.append(f"{len(temps)} temporary files left in the folders at the end")
    return rep


# ----------------------------------------------------------------------------- main

def print_table(reports: list[Report], log: Callable[[str], None] = print) -> None:
    log(f"{'command':9s} {'T s (mode)':22s} {'attempts':>8s} {'kills':>5s} {'exited':>6s} "
        f"{'absent':>6s} {'old':>5s} {'new':>5s} {'partial':>7s} {'leftovers':>9s}  recovery")
    for r in reports:
        modes = " ".join(f"{v:.2f}({k})" for k, v in r.durations.items() if k != "baseline")
        log(f"{r.name:9s} {modes:22s} {r.attempts:8d} {r.kills:5d} {r.finished:6d} {r.counts['absent']:6d} "
            f"{r.counts['old']:5d} {r.counts['new']:5d} {r.counts['partial']:7d} {r.leftovers:9d}  {r.recovery or '-'}")


def run_suite(specs: list[CommandSpec], kills: int, seed: int, logs: Path, verbose: bool = False,
              log: Callable[[str], None] = print) -> list[Report]:
    rng = random.Random(seed)
    return [inject(spec, kills, rng, logs, verbose, log) for spec in specs]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills-per-command", type=int, default=6, metavar="N")
    p.add_argument("--seed", type=int, default=0, help="seed of the random kill moments")
    p.add_argument("--commands", default="train,run,simulate,trace", help="comma-separated subset")
    p.add_argument("--workdir", help="folder to work in (default: a new temporary folder, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (files and logs)")
    p.add_argument("--verbose", action="store_true", help="one line per attempt")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.commands.split(",") if n.strip()]
    unknown = [n for n in names if n not in DEFAULT_SPECS]
    if unknown or args.kills_per_command < 1:
        p.error(f"unknown commands {unknown}" if unknown else "--kills-per-command must be >= 1")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="archsim-fault-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        reports = run_suite([DEFAULT_SPECS[n](work) for n in names], args.kills_per_command, args.seed,
                            work / "logs", args.verbose)
        print_table(reports)
        for r in reports:
            for note in r.notes:
                print(f"  {r.name}: {note}")
            print(f"  {r.name}: {r.replaced_same_bytes} 'new' files were byte-identical to the old version")
            for problem in r.problems:
                print(f"  {r.name}: PROBLEM: {problem}")
        kills = sum(r.kills for r in reports)
        partial = sum(r.counts["partial"] for r in reports)
        ok = all(r.ok for r in reports)
        print(f"{'PASS' if ok else 'FAIL'}: {kills} kills, {partial} partial files, "
              f"{sum(len(r.problems) for r in reports)} problems, {time.perf_counter() - start:.1f} s"
              + (f" (files in {work})" if args.keep or args.workdir else ""))
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
