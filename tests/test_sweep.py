"""`archsim sweep` end to end: spec validation, point identities, serial vs Dask (LocalCluster and
an external scheduler), kill -9 and --resume, a training shared by concurrent processes,
constraints, the Pareto front, and points that fail without stopping the sweep.

Every sweep trains a tiny conv workload (28x28 inputs, one epoch on the embedded mini data, well
under a second) on a few hardware points; subprocesses inherit the test's private ARCHSIM_CACHE.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from archsim import cli
from archsim.config.hardware import hardware_from_mapping, load_hardware
from archsim.dse import breakdowns, labels, load, pareto
from archsim.dse.points import expand
from archsim.dse.spec import load_sweep
from archsim.dse.sweep import run_sweep

from helpers import workload_dict, write_workload

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "hwconfigs"
EDGE = HW / "edge_8x8.yaml"
ARRAY = HW / "array_16x16.yaml"
PY = [sys.executable, "-m", "archsim.cli"]

VOLATILE = ["wall_s", "finished_at", "simulate_s", "price_s", "training_reused", "training_wall_s"]
"""Columns that legitimately differ between two evaluations of the same points."""

FOUR_POINTS = {"pe_array.rows": [8, 16], "pe_array.cols": {"same_as": "pe_array.rows"},
               "dram.type": ["ddr4", "lpddr4"]}


# ----------------------------------------------------------------------------------------------
# helpers


def tiny_workload(tmp_path: Path, name: str = "w.yaml", **training) -> Path:
    kw = {"batch_size": 64, "epochs": 1, **training}
    return write_workload(tmp_path, workload_dict(input_shape=(28, 28, 1), **kw), name)


def write_spec(tmp_path: Path, name: str = "spec.yaml", axes: dict | None = None, hardware: Path = EDGE,
               workloads: list | None = None, **extra) -> Path:
    """A sweep YAML in ``tmp_path`` (the tiny workload unless told otherwise), absolute paths inside."""
    if workloads is None:
        workloads = [str(tiny_workload(tmp_path))]
    spec = {"name": Path(name).stem, "workloads": workloads, "hardware": str(hardware),
            **({"axes": axes} if axes is not None else {}), **extra}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sweep_cli(capsys, *args) -> tuple[int, str, str]:
    """``archsim sweep ARGS`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = cli.main(["sweep", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def sweep_subprocess(tmp_path: Path, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    """``archsim sweep ARGS`` in a subprocess (cwd tmp_path, the test's environment)."""
    proc = subprocess.run([*PY, "sweep", *map(str, args)], cwd=tmp_path, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert lines[0].startswith("archsim: error: "), lines[0]
    return lines[0]


def table(folder: Path) -> pd.DataFrame:
    """The points table without volatile columns, in a canonical row and column order."""
    df = load(folder)
    df = df.drop(columns=[c for c in VOLATILE if c in df.columns])
    return df.sort_values("point_hash").reset_index(drop=True)[sorted(df.columns)]


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = table(a), table(b)
    assert sorted(ta.columns) == sorted(tb.columns)
    pd.testing.assert_frame_equal(ta, tb)
    pd.testing.assert_frame_equal(breakdowns(a).reset_index(drop=True), breakdowns(b).reset_index(drop=True))
    la, lb = labels(a), labels(b)
    assert set(la["grp"]) == {"mapping_by_op", "loop_order_by_op", "resident_by_op"}  # every op's mapping in words
    pd.testing.assert_frame_equal(la.reset_index(drop=True), lb.reset_index(drop=True))


def train_files(cache: str | Path | None = None) -> list[Path]:
    root = Path(cache or os.environ["ARCHSIM_CACHE"]) / "train"
    return sorted(root.glob("*/train.json")) if root.exists() else []


def stored_count(folder: Path) -> int:
    """Rows in a (possibly still running) sweep's store; 0 while it does not exist yet."""
    path = folder / "results.sqlite"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.DatabaseError:  # not created yet, or mid-creation
        return 0


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate processes this test started (by their handle), killing any that linger."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


# ----------------------------------------------------------------------------------------------
# 1. spec validation: one line naming the file and the key path, exit 2, no traceback


@pytest.mark.parametrize("axes, key_path", [
    ({"pe_array.rows": [0, 8]}, "axes.pe_array.rows"),
    ({"pe_array.rows": [8, 2000], "pe_array.cols": {"same_as": "pe_array.rows"}}, "axes.pe_array.rows"),
    ({"pe_array.dataflow": ["xs"]}, "axes.pe_array.dataflow"),
    ({"clock_mhz": [-5]}, "axes.clock_mhz"),
    ({"pe_array.rowz": [8]}, "axes.pe_array.rowz"),
    ({"sram.banks[nope].kbytes": [32]}, "axes.sram.banks[nope].kbytes"),
    ({"sram.banks[7].kbytes": [32]}, "axes.sram.banks[7].kbytes"),
    ({"pe_array.rows.x": [8]}, "axes.pe_array.rows.x"),
    ({"pe_array.rows": {"range": [16, 8, 4]}}, "axes.pe_array.rows.range"),
    ({"pe_array.rows": {"range": [8, 16]}}, "axes.pe_array.rows.range"),
    ({"pe_array.rows": {"range": [8, 16, 0]}}, "axes.pe_array.rows.range"),
    ({"pe_array.rows": {"log2": [3, 16]}}, "axes.pe_array.rows.log2"),
    ({"pe_array.rows": []}, "axes.pe_array.rows"),
    ({"pe_array.rows": [8], "pe_array.cols": {"same_as": "pe_array.rowz"}}, "axes.pe_array.cols.same_as"),
    ({"pe_array.cols": {"same_as": "pe_array.cols"}}, "axes.pe_array.cols.same_as"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_bad_axis_is_one_line_naming_the_file_and_the_axis(tmp_path, capsys, axes, key_path):
    spec = write_spec(tmp_path, axes=axes)
    out = tmp_path / "out"
    code, _, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--quiet")
    assert code == cli.EXIT_USER_ERROR
    line = one_error_line(err)
    assert f"{spec}: {key_path}:" in line, line
    assert not (out / "results.sqlite").exists()  # refused before a store is made
    assert train_files() == []


@pytest.mark.parametrize("extra, key_path, words", [
    ({"constraints": ["foo <= 2"]}, "constraints[0]", "unknown metric 'foo'"),
    ({"constraints": ["area_mm2 is small"]}, "constraints[0]", "expected 'metric <= number'"),
    ({"objectives": {"minimize": ["area"]}}, "objectives.minimize", "expected a list drawn from"),
    ({"sampling": {"method": "sobol"}}, "sampling.method", "expected one of"),
    ({"axez": {"pe_array.rows": [8]}}, "axez", "unknown key"),
])
def test_other_spec_mistakes_are_one_line_naming_the_file_and_the_key(tmp_path, capsys, extra, key_path, words):
    spec = write_spec(tmp_path, axes={"pe_array.rows": [8]}, **extra)
    code, _, err = sweep_cli(capsys, spec, "--out", tmp_path / "out", "--workers", "1")
    assert code == cli.EXIT_USER_ERROR
    line = one_error_line(err)
    assert f"{spec}: {key_path}:" in line and words in line, line


def test_a_missing_workload_file_names_the_entry(tmp_path, capsys):
    spec = write_spec(tmp_path, workloads=[str(tmp_path / "nope.yaml")])
    code, _, err = sweep_cli(capsys, spec, "--out", tmp_path / "out")
    assert code == cli.EXIT_USER_ERROR
    line = one_error_line(err)
    assert f"{spec}: workloads[0]: file not found" in line, line


def test_a_damaged_store_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.sqlite").write_text("not a database")
    code, _, err = sweep_cli(capsys, write_spec(tmp_path, axes={"dram.type": ["ddr4"]}), "--out", out, "--workers", "1")
    assert code == cli.EXIT_USER_ERROR
    assert "not a usable SQLite store" in one_error_line(err)


def test_an_unknown_dram_type_is_infeasible_before_any_training(tmp_path, capsys):
    """The reader accepts any DRAM type string; only the cost model knows gddr9 has no energy data.
    The planner finds it before training: the point is stored `infeasible` and nothing trains."""
    spec = write_spec(tmp_path, axes={"dram.type": ["gddr9"]})
    out = tmp_path / "out"
    code, stdout, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1")
    assert code == 0, err
    assert "Traceback" not in err
    df = load(out)
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "infeasible"
    assert "dram.type" in row["error"] and "gddr9" in row["error"] and "ddr4" in row["error"], row["error"]
    assert str(spec) in row["error"]
    assert train_files() == []  # no training happened for it
    assert "infeasible 1" in stdout


# ----------------------------------------------------------------------------------------------
# 2. hardware round trip and point identities


@pytest.mark.parametrize("path", sorted(HW.glob("*.yaml")), ids=lambda p: p.name)
def test_hardware_to_dict_round_trips(path):
    hw = load_hardware(path)
    again = hardware_from_mapping(hw.to_dict(), "round-trip")
    assert replace(again, source_file=hw.source_file) == hw
    # and through YAML text, as a sweep point's hardware would be written out
    text = yaml.safe_dump(hw.to_dict(), sort_keys=True)
    assert replace(hardware_from_mapping(yaml.safe_load(text), "yaml"), source_file=hw.source_file) == hw


def _reordered(value):
    """The same mapping with every dict's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_point_identities_do_not_depend_on_dict_order_or_number_formatting(tmp_path):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    base = yaml.safe_load(ARRAY.read_text())
    base["clock_mhz"] = 700
    hw_a = a_dir / "hw.yaml"
    hw_a.write_text(yaml.safe_dump(base, sort_keys=False))
    other = _reordered(base)
    other["clock_mhz"] = 700.0
    hw_b = b_dir / "hw.yaml"
    hw_b.write_text(yaml.safe_dump(other, sort_keys=False))
    assert "700.0" in hw_b.read_text() and "clock_mhz: 700\n" in hw_a.read_text()

    wl = workload_dict(input_shape=(28, 28, 1), batch_size=64, epochs=1)
    wl_a = write_workload(a_dir, wl)
    wl_b = write_workload(b_dir, _reordered(wl))
    axes_a = {"pe_array.rows": [8, 16], "pe_array.cols": {"same_as": "pe_array.rows"},
              "dram.type": ["ddr4", "lpddr4"], "clock_mhz": [500, 700]}
    axes_b = {"clock_mhz": [500.0, 700.0], "dram.type": ["ddr4", "lpddr4"],
              "pe_array.cols": {"same_as": "pe_array.rows"}, "pe_array.rows": [8, 16]}
    pa = expand(load_sweep(write_spec(a_dir, axes=axes_a, hardware=hw_a, workloads=[str(wl_a)])))
    pb = expand(load_sweep(write_spec(b_dir, axes=axes_b, hardware=hw_b, workloads=[str(wl_b)])))
    assert len(pa) == len(pb) == 8
    assert sorted(p.point_hash for p in pa) == sorted(p.point_hash for p in pb)
    # the same point by hash has the same resolved hardware
    by_hash = {p.point_hash: p for p in pb}
    for p in pa:
        assert replace(p.hardware, source_file="") == replace(by_hash[p.point_hash].hardware, source_file="")
    # a bank selected by name or by index is the same point
    by_name = expand(load_sweep(write_spec(a_dir, "n.yaml", axes={"sram.banks[ifmap].kbytes": [64]}, hardware=hw_a,
                                           workloads=[str(wl_a)])))
    by_index = expand(load_sweep(write_spec(a_dir, "i.yaml", axes={"sram.banks[0].kbytes": [64]}, hardware=hw_a,
                                            workloads=[str(wl_a)])))
    assert [p.point_hash for p in by_name] == [p.point_hash for p in by_index]
    # identical points are evaluated once
    dup = expand(load_sweep(write_spec(a_dir, "dup.yaml", axes={"pe_array.rows": [8, 8, 16]},
                                       workloads=[str(wl_a)])))
    assert len(dup) == 2


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_sweeps_expand(path):
    points = expand(load_sweep(path))
    assert points and len({p.point_hash for p in points}) == len(points)


# ----------------------------------------------------------------------------------------------
# 3. serial vs LocalCluster


def test_serial_and_local_cluster_give_identical_tables(tmp_path, capsys):
    spec = write_spec(tmp_path, axes={"pe_array.rows": [8, 16], "pe_array.cols": {"same_as": "pe_array.rows"},
                                      "numerics[wage].k_g": [6, 8]})  # 4 points, 2 trainings
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    code, out, err = sweep_cli(capsys, spec, "--out", serial, "--workers", "1", "--quiet")
    assert code == 0, err
    assert "4 points: 0 already stored, done 4" in out
    proc = sweep_subprocess(tmp_path, spec, "--out", dask, "--workers", "2", "--quiet")
    assert "4 points: 0 already stored, done 4" in proc.stdout
    assert_same_tables(serial, dask)
    df = load(dask)
    assert df["group_key"].nunique() == 2
    assert set(df["status"]) == {"done"}


# ----------------------------------------------------------------------------------------------
# 4. an external Dask scheduler started by the test


def _wait_for(predicate, timeout: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{what}: {p.args} exited with {p.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def test_external_scheduler_by_file_and_by_address(tmp_path, capsys):
    spec = write_spec(tmp_path, axes=FOUR_POINTS)
    sched_file = tmp_path / "scheduler.json"
    bindir = Path(sys.executable).parent
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs: list[subprocess.Popen] = []
    logs = []

    def start(name, *args):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen([str(bindir / "dask"), *args], cwd=tmp_path, env=env, stdout=log,
                                      stderr=subprocess.STDOUT))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(sched_file),
              "--no-dashboard")
        _wait_for(lambda: sched_file.is_file() and sched_file.stat().st_size > 0, 60, "the scheduler file", procs)
        for i in range(2):
            start(f"worker{i}", "worker", "--nthreads", "1", "--scheduler-file", str(sched_file),
                  "--no-dashboard")
        from distributed import Client
        with Client(scheduler_file=str(sched_file), timeout="30s") as client:
            _wait_for(lambda: len(client.scheduler_info()["workers"]) >= 2, 60,
                      "two workers to connect", procs)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")

        by_file, by_address, serial = tmp_path / "by_file", tmp_path / "by_address", tmp_path / "serial"
        proc = sweep_subprocess(tmp_path, spec, "--scheduler", sched_file, "--out", by_file, "--quiet")
        assert "4 points: 0 already stored, done 4" in proc.stdout
        assert len(train_files()) == 1  # the workers trained into the shared cache
        proc = sweep_subprocess(tmp_path, spec, "--scheduler", address, "--out", by_address, "--quiet")
        assert "4 points: 0 already stored, done 4" in proc.stdout
        for p in procs:
            assert p.poll() is None, f"{p.args} died"
    finally:
        stop(procs[1:])
        stop(procs[:1])
        for log in logs:
            log.close()
    code, _, err = sweep_cli(capsys, spec, "--out", serial, "--workers", "1", "--quiet")
    assert code == 0, err
    assert_same_tables(serial, by_file)
    assert_same_tables(serial, by_address)
    assert len(train_files()) == 1


# ----------------------------------------------------------------------------------------------
# 5. kill -9 mid-sweep, then --resume; refusals of a second run into the same folder


def test_kill_9_then_resume_stores_every_point_exactly_once(tmp_path, capsys):
    axes = {"pe_array.rows": {"range": [4, 32, 4]}, "pe_array.cols": {"same_as": "pe_array.rows"},
            "dram.type": ["ddr4", "lpddr4", "ddr3"]}  # 24 points, a few tenths of a second each
    spec = write_spec(tmp_path, axes=axes)
    expected = {p.point_hash for p in expand(load_sweep(spec))}
    assert len(expected) == 24
    out = tmp_path / "out"
    log = tmp_path / "killed.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([*PY, "sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"],
                                cwd=tmp_path, env=dict(os.environ), stdout=sink, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: stored_count(out) >= 1, 60, "the first stored point", [proc])
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=15)
        finally:
            stop([proc])
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    kept = stored_count(out)
    assert 1 <= kept < 24, f"the kill did not land mid-way ({kept} of 24 stored)"

    # a rerun without --resume is refused, and changes nothing
    code, _, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--quiet")
    assert code == cli.EXIT_USER_ERROR
    assert "--resume" in one_error_line(err)
    assert stored_count(out) == kept

    code, stdout, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--resume", "--quiet")
    assert code == 0, err
    assert f"24 points: {kept} already stored, done {24 - kept}" in stdout
    df = load(out)
    assert len(df) == 24 and df["point_hash"].is_unique
    assert set(df["point_hash"]) == expected
    assert set(df["status"]) == {"done"}
    bd = breakdowns(out)
    assert set(bd["point_hash"]) == expected
    assert not bd.duplicated(["point_hash", "grp", "key"]).any()
    assert set(labels(out)["point_hash"]) == expected and not labels(out).duplicated(["point_hash", "grp", "key"]).any()

    # finished: again without --resume is refused; with it, nothing is left to do
    code, _, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1")
    assert code == cli.EXIT_USER_ERROR and "--resume" in one_error_line(err)
    code, stdout, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--resume", "--quiet")
    assert code == 0, err
    assert "24 points: 24 already stored, nothing new" in stdout
    assert len(load(out)) == 24

    # another spec into the same folder is refused (with or without --resume); the store is untouched
    other = write_spec(tmp_path, "other.yaml", axes={"dram.type": ["ddr4"]})
    for extra in ([], ["--resume"]):
        code, _, err = sweep_cli(capsys, other, "--out", out, "--workers", "1", *extra)
        assert code == cli.EXIT_USER_ERROR
        line = one_error_line(err)
        assert "another sweep" in line and str(out) in line, line
    assert len(load(out)) == 24 and set(load(out)["status"]) == {"done"}


# ----------------------------------------------------------------------------------------------
# 6. concurrent processes sharing one training key train once


def test_two_concurrent_runs_train_once(tmp_path):
    wl = tiny_workload(tmp_path, epochs=2)  # long enough for the two to overlap
    cmds = [[*PY, "run", "--workload", str(wl), "--hw", str(hw), "--out", str(tmp_path / name), "--quiet"]
            for name, hw in (("a", EDGE), ("b", ARRAY))]  # same numerics, different arrays: one training key
    procs = [subprocess.Popen(c, cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in cmds]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        stop(procs)
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, f"{out}\n{err}"
    firsts = sorted(out.splitlines()[0] for out, _ in results)
    assert firsts[0].startswith("training done:"), firsts
    assert firsts[1].startswith("training reused from the cache:"), firsts
    assert len(train_files()) == 1


def test_two_concurrent_sweeps_share_one_training(tmp_path):
    wl = tiny_workload(tmp_path, epochs=2)
    specs = [write_spec(tmp_path, f"s{i}.yaml", axes=axes, workloads=[str(wl)])
             for i, axes in enumerate(({"dram.type": ["ddr4", "lpddr4"]}, {"pe_array.rows": [8, 16]}))]
    procs = [subprocess.Popen([*PY, "sweep", str(s), "--out", str(tmp_path / s.stem), "--workers", "1", "--quiet"],
                              cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for s in specs]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        stop(procs)
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, f"{out}\n{err}"
    assert len(train_files()) == 1
    reused = []
    for s in specs:
        df = load(tmp_path / s.stem)
        assert len(df) == 2 and set(df["status"]) == {"done"}
        reused.append(set(df["training_reused"]))
    assert sorted(map(sorted, reused)) == [[0], [1]]  # one trained, the other reused the cache


# ----------------------------------------------------------------------------------------------
# 7. constraints


def test_constraints_drop_priced_points_but_keep_their_results(tmp_path, capsys):
    spec = write_spec(tmp_path, axes=FOUR_POINTS, constraints=["area_mm2 <= 0.001"])
    out = tmp_path / "out"
    code, stdout, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--quiet")
    assert code == 0, err
    assert "dropped 4" in stdout and "no point finished" in stdout
    df = load(out)
    assert len(df) == 4 and set(df["status"]) == {"dropped"}
    assert all("area_mm2 <= 0.001" in e for e in df["error"]), list(df["error"])
    assert df["area_mm2"].notna().all() and (df["area_mm2"] > 0.001).all()
    assert df["training_energy_j"].notna().all() and df["final_test_accuracy"].notna().all()
    assert set(breakdowns(out)["point_hash"]) == set(df["point_hash"])
    # dropped is final: a resume has nothing to do
    code, stdout, _ = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--resume", "--quiet")
    assert code == 0 and "4 already stored, nothing new" in stdout

    # a bound between the points' areas drops only those above it (another spec: another folder)
    areas = sorted(df["area_mm2"])
    bound = (areas[0] + areas[-1]) / 2
    assert areas[0] < bound < areas[-1]
    out2 = tmp_path / "out2"
    code, _, err = sweep_cli(capsys, write_spec(tmp_path, "between.yaml", axes=FOUR_POINTS,
                                                constraints=[f"area_mm2 <= {bound!r}"]),
                             "--out", out2, "--workers", "1", "--quiet")
    assert code == 0, err
    df2 = load(out2)
    assert set(df2["point_hash"]) == set(df["point_hash"])  # constraints are not part of a point's identity
    assert set(df2.loc[df2["area_mm2"] <= bound, "status"]) == {"done"}
    assert set(df2.loc[df2["area_mm2"] > bound, "status"]) == {"dropped"}
    assert (df2.loc[df2["status"] == "done", "error"] == "").all()


# ----------------------------------------------------------------------------------------------
# 8. the Pareto front of a loaded table


def test_pareto_of_a_loaded_table_is_non_dominated(tmp_path, capsys):
    axes = {**FOUR_POINTS, "clock_mhz": [200, 400]}
    out = tmp_path / "out"
    code, stdout, err = sweep_cli(capsys, write_spec(tmp_path, axes=axes), "--out", out, "--workers", "1", "--quiet")
    assert code == 0, err
    assert "Pareto front" in stdout
    df = load(out)
    minimize = ["training_energy_j", "area_mm2", "latency_s_per_step"]
    front = pareto(df, minimize=minimize)
    assert 0 < len(front) <= len(df)
    assert set(front.index) <= set(df.index)
    v = df[minimize].to_numpy()
    f = front[minimize].to_numpy()
    for a in f:  # nothing in the table dominates a front point
        assert not ((v <= a).all(axis=1) & (v < a).any(axis=1)).any()
    for i in set(df.index) - set(front.index):  # every other point is dominated by some point
        a = df.loc[i, minimize].to_numpy()
        assert ((v <= a).all(axis=1) & (v < a).any(axis=1)).any()


# ----------------------------------------------------------------------------------------------
# 9. a failing point does not stop the sweep


def test_a_point_that_cannot_map_is_infeasible_and_the_others_finish(tmp_path, capsys):
    axes = {"sram.banks[ofmap].kbytes": [1, 128], "dram.type": ["ddr4", "lpddr4", "gddr9"]}
    out = tmp_path / "out"
    code, stdout, err = sweep_cli(capsys, write_spec(tmp_path, axes=axes, hardware=ARRAY), "--out", out,
                                  "--workers", "1", "--quiet")
    assert code == 0, err
    df = load(out)
    assert len(df) == 6
    kb, dram = df["axis:sram.banks[ofmap].kbytes"], df["axis:dram.type"]
    bad_dram = df[dram == "gddr9"]
    assert set(bad_dram["status"]) == {"infeasible"}
    assert all("gddr9" in e for e in bad_dram["error"])
    too_small = df[(kb == 1) & (dram != "gddr9")]
    assert len(too_small) == 2 and set(too_small["status"]) == {"infeasible"}
    assert all("ofmap" in e and "1 KiB" in e and "cannot hold" in e for e in too_small["error"]), \
        list(too_small["error"])
    good = df[(kb == 128) & (dram != "gddr9")]
    assert len(good) == 2 and set(good["status"]) == {"done"} and (good["error"] == "").all()
    assert "done 2, infeasible 4" in stdout
    assert len(train_files()) == 1


def test_a_point_that_raises_is_failed_the_others_finish_and_resume_retries_it(tmp_path, monkeypatch):
    import archsim.dse.sweep as sweep_module

    real = sweep_module.price_step

    def flaky(spec, hw, *args, **kwargs):
        if hw.array.rows == 16 and hw.dram.kind == "ddr4":
            raise RuntimeError("simulated bug in one point")
        return real(spec, hw, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "price_step", flaky)
    spec = load_sweep(write_spec(tmp_path, axes=FOUR_POINTS))
    out = tmp_path / "out"
    summary = run_sweep(spec, out, workers=1)
    assert summary.by_status == {"done": 3, "failed": 1}
    df = load(out)
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1 and "RuntimeError: simulated bug in one point" in failed["error"].iloc[0]
    assert failed["axis:pe_array.rows"].iloc[0] == 16 and failed["axis:dram.type"].iloc[0] == "ddr4"

    monkeypatch.setattr(sweep_module, "price_step", real)
    summary = run_sweep(spec, out, workers=1, resume=True)
    assert summary.skipped == 3 and summary.by_status == {"done": 1}
    df = load(out)
    assert len(df) == 4 and df["point_hash"].is_unique and set(df["status"]) == {"done"}


# ----------------------------------------------------------------------------------------------
# bugs found while writing these tests, since fixed


@pytest.mark.parametrize("axes, key_path", [
    ({"sram.banks[ifmap].kbytes": [32], "sram.banks[ofmap].kbytes": [0]}, "axes.sram.banks[ofmap].kbytes"),
    ({"dram.type": ["ddr4"], "pe_array.datatype": ["float16"]}, "axes.pe_array.datatype"),
])
def test_the_error_names_the_axis_that_is_wrong(tmp_path, capsys, axes, key_path):
    spec = write_spec(tmp_path, axes=axes)
    code, _, err = sweep_cli(capsys, spec, "--out", tmp_path / "out", "--workers", "1")
    assert code == cli.EXIT_USER_ERROR
    assert f"{spec}: {key_path}:" in one_error_line(err)


@pytest.mark.parametrize("objectives", [{"maximize": [], "minimize": []},
                                        {"maximize": ["area_mm2"], "minimize": ["area_mm2"]}])
def test_objectives_the_front_cannot_use_are_refused_by_the_spec(tmp_path, capsys, objectives):
    spec = write_spec(tmp_path, objectives=objectives)
    code, _, err = sweep_cli(capsys, spec, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert code == cli.EXIT_USER_ERROR
    assert f"{spec}: objectives" in one_error_line(err)


def test_a_second_sweep_into_a_store_being_written_is_refused(tmp_path, capsys):
    from archsim.fileio import locked

    spec = write_spec(tmp_path, axes={"pe_array.rows": [8]})
    out = tmp_path / "out"
    with locked(out, ".sweep.lock"):  # another sweep process holds the store
        code, _, err = sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--quiet")
    assert code == cli.EXIT_USER_ERROR and "another archsim sweep is writing this store" in one_error_line(err)
    assert sweep_cli(capsys, spec, "--out", out, "--workers", "1", "--quiet")[0] == 0  # free again
