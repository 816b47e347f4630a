"""Regression tests of the hardening issue, one (or a few) per item; each fails on the code before
the hardening work (commit 3742fec) and passes after it.

The CLI is called in-process through ``archsim.cli.main`` except where a real process is the
point (a closed stdout pipe) or a regression could hang the suite (the YAML alias bomb).
"""
from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

import archsim
from archsim.cli import main
from helpers import workload_dict, write_workload

CODE_ROOT = Path(archsim.__file__).resolve().parent.parent
"""The checkout whose archsim is under test (its hwconfigs/ and workloads/ sit beside it)."""
EDGE = CODE_ROOT / "hwconfigs" / "edge_8x8.yaml"
LENET = CODE_ROOT / "workloads" / "lenet5_wage.yaml"
TINY_28 = {"input_shape": (28, 28, 1)}


# ----------------------------------------------------------------------------- helpers

def tiny_workload(folder: Path, name: str = "w.yaml", **training) -> Path:
    """The tiny conv net on 28x28 inputs (trains on the whole mini set in well under a second)."""
    return write_workload(folder, workload_dict(**TINY_28, **{"batch_size": 64, **training}), name)


def hardware_file(folder: Path, changes: dict, name: str = "hw.yaml") -> Path:
    """edge_8x8.yaml with dotted-key ``changes`` (``{"dram.latency_cycles": 10**18}``) written to ``folder``."""
    data = yaml.safe_load(EDGE.read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli(capsys, *args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``archsim ARGS`` run in-process (argparse errors propagate)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    """stderr is exactly one ``archsim: error:`` line, no traceback, and contains every needle."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("archsim: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to prove a folder was left untouched)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def trained_in_cache() -> list[Path]:
    """The finished trainings in this test's private training cache."""
    return sorted((Path(os.environ["ARCHSIM_CACHE"]) / "train").glob("*/train.json"))


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child archsim process: this test's (private cache) running the archsim under test."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONPATH": str(CODE_ROOT), **extra}


# ----------------------------------------------------------------------------- item 1

def test_wage_eta_schedule_runs_all_three_phases_within_a_one_epoch_training():
    from archsim.algorithms.wage_common import EtaSchedule, eta_log2_at
    from archsim.config import load_workload

    spec = load_workload(LENET).with_overrides(epochs=1)  # phases at 0, 0.667, 0.834: eta 8, 1, 1/8
    steps = 32
    assert eta_log2_at(spec, 0, steps) == 3  # eta = 8 at the first step (was 1/8 for the whole run)
    schedule = EtaSchedule(spec)
    assert schedule.begin_epoch(0, steps) == (3, -3)
    exponents = [schedule.next_log2() for _ in range(steps)]
    assert [k for k, _ in itertools.groupby(exponents)] == [3, 0, -3]
    assert exponents.index(0) == math.ceil(0.667 * steps)
    assert exponents.index(-3) == math.ceil(0.834 * steps)


def test_one_epoch_of_lenet5_wage_learns():
    """One epoch of LeNet-5 WAGE (32 steps: 1,024 images at batch 32) is clearly above chance
    (measured 42.5 % on 400 test images; the old schedule trained it at eta 1/8: 11.5 %)."""
    from archsim.config import load_workload
    from archsim.data import load_dataset
    from archsim.train import train

    spec = load_workload(LENET).with_overrides(epochs=1, batch_size=32)
    data = load_dataset(spec.dataset, "mini")
    data = replace(data, train_images=data.train_images[:1024], train_labels=data.train_labels[:1024],
                   test_images=data.test_images[:400], test_labels=data.test_labels[:400])
    result, _ = train(spec, data)
    assert result.final_test_accuracy > 0.25


# ----------------------------------------------------------------------------- item 3

def _comparable(result: dict) -> dict:
    """A result.json without what legitimately differs between two runs (timings, reuse flag)."""
    kept = {k: v for k, v in result.items() if k not in ("training", "training_reused", "identity", "training_wall_s")}
    training = result["training"]
    kept["training"] = {k: training[k] for k in ("test_accuracy_per_epoch", "epochs_run", "overflow_counts",
                                                 "final_test_accuracy", "numeric_spec")}
    return kept


@pytest.mark.parametrize("damage", ["checkpoint deleted", "checkpoint of epoch 1", "checkpoint of another training"])
def test_run_does_not_reuse_a_cache_entry_whose_checkpoint_is_not_the_finished_training(
        tmp_path, capsys, monkeypatch, damage):
    import archsim.run as run_module
    import archsim.train as train_module
    from archsim.config import load_workload
    from archsim.train import build_model

    epoch1 = tmp_path / "epoch1-checkpoint.npz"
    save = train_module.save_checkpoint

    def save_and_keep_epoch1(out_dir, key, epochs_done, *args, **kwargs):
        path = save(out_dir, key, epochs_done, *args, **kwargs)
        if epochs_done == 1:
            shutil.copy(Path(out_dir) / "checkpoint.npz", epoch1)
        return path

    states = []
    record = run_module.record_trace

    def record_and_keep_state(*args, **kwargs):
        states.append(kwargs.get("state"))
        return record(*args, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", save_and_keep_epoch1)
    monkeypatch.setattr(run_module, "record_trace", record_and_keep_state)
    wl = tiny_workload(tmp_path, epochs=2)
    rc, out, _ = cli(capsys, "run", "--workload", wl, "--hw", EDGE, "--out", tmp_path / "first", "--quiet")
    assert rc == 0 and "training done" in out
    trained = states[-1]
    assert trained is not None
    initial = build_model(load_workload(wl)).state()["weights"]
    assert any(not np.array_equal(trained["weights"][k], initial[k]) for k in initial)

    [entry] = trained_in_cache()
    checkpoint = entry.parent / "checkpoint.npz"
    if damage == "checkpoint deleted":
        checkpoint.unlink()
    elif damage == "checkpoint of epoch 1":
        shutil.copy(epoch1, checkpoint)
    else:  # a copied cache folder: another seed's finished checkpoint
        other = tiny_workload(tmp_path, "other.yaml", epochs=2, seed=9)
        assert cli(capsys, "run", "--workload", other, "--hw", EDGE, "--out", tmp_path / "other", "--quiet")[0] == 0
        [foreign] = [p.parent / "checkpoint.npz" for p in trained_in_cache() if p != entry]
        shutil.copy(foreign, checkpoint)
    states.clear()
    rc, out, err = cli(capsys, "run", "--workload", wl, "--hw", EDGE, "--out", tmp_path / "second", "--quiet")
    assert rc == 0
    assert "training done" in out and "reused" not in out
    assert "archsim: warning:" in err and "recomputing" in err
    first = json.loads((tmp_path / "first" / "result.json").read_text())
    second = json.loads((tmp_path / "second" / "result.json").read_text())
    assert second["training_reused"] is False
    assert _comparable(second) == _comparable(first)
    priced = states[-1]  # the step that was simulated and priced
    assert priced is not None
    assert set(priced["weights"]) == set(trained["weights"])
    for name, value in trained["weights"].items():
        assert np.array_equal(priced["weights"][name], value), name


# ----------------------------------------------------------------------------- item 4

@pytest.mark.parametrize("key,value", [
    ("dram.bytes_per_cycle", 10**18),
    ("dram.latency_cycles", 10**18),
    ("shift_align.divide_latency_cycles", 10**18),
    ("random.bits_per_cycle", 10**18),
    ("clock_mhz", float("inf")),
    ("clock_mhz", 20_000),
])
def test_hardware_values_without_a_sane_bound_are_refused(tmp_path, capsys, key, value):
    hw = hardware_file(tmp_path, {key: value})
    wl = tiny_workload(tmp_path)
    rc, _, err = cli(capsys, "simulate", "--workload", wl, "--hw", hw, "--out", tmp_path / "out")
    assert rc == 2
    assert_one_line_error(err, f"{hw}: {key}: ")
    assert not (tmp_path / "out" / "simulate.json").exists()


@pytest.mark.parametrize("shape", [(32, 32, 1), (10**18, 28, 1), (100_000, 28, 1)], ids=["32x32x1", "1e18x28x1", "100000x28x1"])
def test_network_input_must_be_the_data_sets_image_shape(tmp_path, capsys, shape):
    wl = write_workload(tmp_path, workload_dict(input_shape=shape, batch_size=16))
    rc, _, err = cli(capsys, "train", "--workload", wl, "--limit-train", 32, "--out", tmp_path / "out", "--quiet")
    assert rc == 2
    assert_one_line_error(err, f"{wl}: network.input: ")
    assert not (tmp_path / "out" / "train.json").exists()


def test_a_network_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARCHSIM_MEMORY_BYTES", str(2 * 2**30))
    layers = [{"type": "fc", "name": "fc1", "out_features": 1 << 20}, {"type": "qrelu", "name": "act1"},
              {"type": "fc", "name": "fc2", "out_features": 10}]
    wl = write_workload(tmp_path, workload_dict(layers=layers, **TINY_28, batch_size=16))
    start = time.perf_counter()
    rc, _, err = cli(capsys, "train", "--workload", wl, "--limit-train", 32, "--out", tmp_path / "out", "--quiet")
    assert rc == 2
    assert_one_line_error(err, f"{wl}: network: ", "memory")
    assert time.perf_counter() - start < 5


# ----------------------------------------------------------------------------- item 6

def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "emptied":
        data = bytearray()
    else:  # flipped bytes in the middle of the archive
        middle = len(data) // 2
        for i in range(middle, middle + 16):
            data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "emptied", "flipped"])
def test_resume_over_a_damaged_checkpoint_starts_over(tmp_path, capsys, how):
    wl = tiny_workload(tmp_path, epochs=2)
    common = ["train", "--workload", wl, "--limit-train", 128, "--quiet"]
    fresh, damaged = tmp_path / "fresh", tmp_path / "damaged"
    assert cli(capsys, *common, "--out", fresh)[0] == 0
    damaged.mkdir()
    shutil.copy(fresh / "checkpoint.npz", damaged / "checkpoint.npz")  # an interrupted run's folder
    _damage(damaged / "checkpoint.npz", how)
    rc, _, err = cli(capsys, *common, "--out", damaged, "--resume")
    assert rc == 0, err
    assert "Traceback" not in err
    assert "archsim: warning:" in err and "damaged checkpoint" in err and "starting the training over" in err
    a, b = (json.loads((d / "train.json").read_text()) for d in (fresh, damaged))
    for key in ("test_accuracy_per_epoch", "epochs_run", "overflow_counts", "final_test_accuracy"):
        assert a[key] == b[key], key
    with np.load(fresh / "weights.npz") as wa, np.load(damaged / "weights.npz") as wb:
        assert sorted(wa.files) == sorted(wb.files)
        assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


# ----------------------------------------------------------------------------- item 7

def test_train_over_a_finished_result_keeps_it(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    out = tmp_path / "out"
    args = ["train", "--workload", wl, "--limit-train", 64, "--out", out, "--quiet"]
    assert cli(capsys, *args)[0] == 0
    before = files_of(out)
    rc, printed, _ = cli(capsys, *args)  # same configuration: nothing to do
    assert rc == 0
    assert "already holds this configuration's finished result" in printed
    assert files_of(out) == before
    rc, _, err = cli(capsys, *args, "--seed", 6)  # another configuration: refused
    assert rc == 2
    assert_one_line_error(err, str(out), "another configuration")
    assert files_of(out) == before
    assert cli(capsys, *args, "--seed", 6, "--force")[0] == 0  # --force replaces
    assert json.loads((out / "train.json").read_text())["seed"] == 6


def test_run_and_simulate_over_a_finished_result_keep_it(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    hw_a = hardware_file(tmp_path, {}, "a.yaml")
    hw_b = hardware_file(tmp_path, {"pe_array.rows": 16}, "b.yaml")  # same name: edge-8x8
    for command, extra, result in (("run", ["--epochs", 1, "--quiet"], "result.json"),
                                   ("simulate", [], "simulate.json")):
        out = tmp_path / command
        args = [command, "--workload", wl, *extra, "--out", out]
        assert cli(capsys, *args, "--hw", hw_a)[0] == 0
        before = files_of(out)
        rc, printed, _ = cli(capsys, *args, "--hw", hw_a)
        assert rc == 0 and "already holds this configuration's finished result" in printed, command
        assert files_of(out) == before, command
        rc, _, err = cli(capsys, *args, "--hw", hw_b)
        assert rc == 2, command
        assert_one_line_error(err, str(out / result), "another configuration")
        assert files_of(out) == before, command
        assert cli(capsys, *args, "--hw", hw_b, "--force")[0] == 0
        assert files_of(out) != before, command


def test_default_output_folders_differ_between_hardware_points_of_one_name(tmp_path, capsys, monkeypatch):
    wl = tiny_workload(tmp_path)
    hw_a = hardware_file(tmp_path, {}, "a.yaml")
    hw_b = hardware_file(tmp_path, {"pe_array.rows": 16}, "b.yaml")  # both are named edge-8x8
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for hw in (hw_a, hw_b):
        assert cli(capsys, "run", "--workload", wl, "--hw", hw, "--epochs", 1, "--quiet")[0] == 0
        assert cli(capsys, "simulate", "--workload", wl, "--hw", hw)[0] == 0
    results = sorted(work.glob("runs/*/result.json"))
    simulations = sorted(work.glob("runs/*/simulate.json"))
    assert len(results) == 2 and len(simulations) == 2
    rows = {json.loads(p.read_text())["identity"]["hardware"]["array"]["rows"] for p in results}
    assert rows == {8, 16}


def test_trace_refuses_an_existing_output_file_without_force(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    target = tmp_path / "trace.json"
    target.write_text("keep me\n")
    rc, _, err = cli(capsys, "trace", "--workload", wl, "--out", target)
    assert rc == 2
    assert_one_line_error(err, str(target), "--force")
    assert target.read_text() == "keep me\n"
    assert cli(capsys, "trace", "--workload", wl, "--out", target, "--force")[0] == 0
    assert json.loads(target.read_text())["ops"]


# ----------------------------------------------------------------------------- item 8

@pytest.mark.parametrize("command", ["train", "run", "simulate", "trace"])
def test_an_output_blocked_by_a_file_is_refused_before_any_work(tmp_path, capsys, command):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    wl = tiny_workload(tmp_path)
    extra = {"train": ["--limit-train", 64, "--quiet"], "run": ["--hw", EDGE, "--epochs", 1, "--quiet"],
             "simulate": ["--hw", EDGE], "trace": []}[command]
    out = blocker / "trace.json" if command == "trace" else blocker
    rc, _, err = cli(capsys, command, "--workload", wl, *extra, "--out", out)
    assert rc == 2
    assert_one_line_error(err, str(blocker))
    assert blocker.read_text() == "not a folder\n"
    assert not trained_in_cache()  # `run` found out before training


def test_an_output_in_proc_is_refused_before_training(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    rc, _, err = cli(capsys, "run", "--workload", wl, "--hw", EDGE, "--epochs", 1, "--out", "/proc/archsim-test",
                     "--quiet")
    assert rc == 2
    assert_one_line_error(err, "/proc/archsim-test")
    assert not trained_in_cache()


# ----------------------------------------------------------------------------- item 9

def _billion_laughs(levels: int = 9, width: int = 9) -> tuple[str, str]:
    """YAML anchors a..i: ``a`` is nine strings, every further level nine aliases of the previous one
    (``*i`` expands to 9**9 strings); returns the anchors' YAML and the alias to use as a value."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [f"bomb_{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    for prev, name in zip(names, names[1:]):
        lines.append(f"bomb_{name}: &{name} [{', '.join([f'*{prev}'] * width)}]")
    return "\n".join(lines) + "\n", f"*{names[-1]}"


def _run_child(args: list, timeout: float = 30) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds spent in main) of archsim in a child process with 3 GiB of
    address space: an exploding error message can neither hang nor exhaust the test machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    code = ("import sys, time; from archsim.cli import main; t = time.perf_counter(); rc = main(sys.argv[1:]); "
            "print('main took', time.perf_counter() - t); sys.exit(rc)")
    try:
        done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=child_env(), preexec_fn=limit)
    except subprocess.TimeoutExpired:
        pytest.fail(f"archsim {args[0]} did not finish within {timeout} s")
    took = float(done.stdout.rsplit("main took", 1)[1]) if "main took" in done.stdout else math.inf
    return done.returncode, done.stdout, done.stderr, took


def test_a_yaml_alias_bomb_in_a_hardware_value_is_refused_quickly(tmp_path):
    bomb, alias = _billion_laughs()
    text = EDGE.read_text().replace("clock_mhz: 400", f"clock_mhz: {alias}")
    assert alias in text
    hw = tmp_path / "bomb.yaml"
    hw.write_text(bomb + text)
    rc, _, err, took = _run_child(["simulate", "--workload", tiny_workload(tmp_path), "--hw", hw,
                                   "--out", tmp_path / "out"])
    assert rc == 2, err[-2000:]
    assert took < 5
    assert len(err) < 500
    assert_one_line_error(err, f"{hw}: clock_mhz: ")


def test_a_yaml_alias_bomb_as_network_input_is_refused_quickly(tmp_path):
    bomb, alias = _billion_laughs()
    body = yaml.safe_dump(workload_dict(**TINY_28), sort_keys=False).replace("input:\n  - 28\n  - 28\n  - 1\n",
                                                                            f"input: {alias}\n")
    assert alias in body
    wl = tmp_path / "bomb.yaml"
    wl.write_text(bomb + body)
    rc, _, err, took = _run_child(["train", "--workload", wl, "--out", tmp_path / "out", "--quiet"])
    assert rc == 2, err[-2000:]
    assert took < 5
    assert len(err) < 500
    assert_one_line_error(err, f"{wl}: network.input: ")


def test_a_workload_that_is_not_utf8_is_one_line(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    wl.write_bytes(wl.read_bytes().replace(b"name: tiny", b"name: caf\xe9"))  # latin-1 e-acute
    rc, _, err = cli(capsys, "train", "--workload", wl, "--out", tmp_path / "out", "--quiet")
    assert rc == 2
    assert_one_line_error(err, str(wl), "not UTF-8")


def test_simulate_refuses_a_step_of_too_many_tiles_before_work(tmp_path, capsys):
    hw = hardware_file(tmp_path, {"pe_array.rows": 1, "pe_array.cols": 1})
    start = time.perf_counter()
    rc, _, err = cli(capsys, "simulate", "--workload", LENET, "--hw", hw, "--batch", 4, "--max-tiles", 1000,
                     "--out", tmp_path / "out")
    assert rc == 2
    assert_one_line_error(err, "tiles", "more than the limit of 1,000", "--max-tiles")
    assert not (tmp_path / "out" / "simulate.json").exists()
    assert time.perf_counter() - start < 20


# ----------------------------------------------------------------------------- item 10

@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_run_into_a_closed_pipe_ends_quietly(tmp_path, unbuffered):
    """``archsim run ... | head -1`` where the reader has gone before archsim prints: with stdout
    unbuffered (PYTHONUNBUFFERED=1, as in the report) every print meets the closed pipe; buffered
    (the default) the output meets it when flushed, which must also happen under the error guard."""
    wl = tiny_workload(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "archsim.cli", "run", "--workload", str(wl), "--hw", str(EDGE),
                             "--epochs", "1", "--out", str(out), "--quiet"], cwd=tmp_path,
                            env=child_env(PYTHONUNBUFFERED=unbuffered), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    try:
        err = proc.stderr.read().decode()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 0, err
    assert (out / "result.json").exists()


# ----------------------------------------------------------------------------- item 11

_CACHES_SEEN: list[str] = []


@pytest.mark.parametrize("turn", [1, 2])
def test_every_test_has_a_private_cache(tmp_path_factory, turn):
    from archsim.cache import cache_root

    cache = os.environ.get("ARCHSIM_CACHE")
    assert cache, "ARCHSIM_CACHE is not set for the test"
    assert Path(cache).resolve().is_relative_to(tmp_path_factory.getbasetemp().resolve())
    assert cache_root().resolve().is_relative_to(Path(cache).resolve())
    assert cache not in _CACHES_SEEN
    _CACHES_SEEN.append(cache)


# ----------------------------------------------------------------------------- item 12

def test_checkpoint_mismatch_names_the_field_that_differs(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    out = tmp_path / "out"
    args = ["train", "--workload", wl, "--limit-train", 64, "--out", out, "--quiet"]
    assert cli(capsys, *args)[0] == 0
    (out / "train.json").unlink()  # leaves the checkpoint of seed 5
    rc, _, err = cli(capsys, *args, "--resume", "--seed", 6)
    assert rc == 2
    assert_one_line_error(err, "differs in: workload.training.seed")


def test_a_misspelled_required_key_gets_a_hint(tmp_path, capsys):
    data = yaml.safe_load(EDGE.read_text())
    data["pe_array"]["rowz"] = data["pe_array"].pop("rows")
    hw = tmp_path / "hw.yaml"
    hw.write_text(yaml.safe_dump(data, sort_keys=False))
    rc, _, err = cli(capsys, "simulate", "--workload", tiny_workload(tmp_path), "--hw", hw, "--out", tmp_path / "out")
    assert rc == 2
    assert_one_line_error(err, f"{hw}: pe_array.rows: ", "'rowz'")


@pytest.mark.parametrize("key,value", [("kbytes", 2), ("word_bits", 4096)])
def test_run_warns_when_an_sram_bank_is_outside_the_cacti_grid(tmp_path, capsys, key, value):
    data = yaml.safe_load(EDGE.read_text())
    data["sram"]["banks"][0][key] = value
    hw = tmp_path / "hw.yaml"
    hw.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "run", "--workload", tiny_workload(tmp_path), "--hw", hw, "--epochs", 1,
                     "--out", out, "--quiet")
    assert rc == 0, err
    assert any(line.startswith("archsim: warning:") and "extrapolated" in line for line in err.splitlines()), err
    warnings = json.loads((out / "result.json").read_text())["warnings"]
    assert any("extrapolated" in w for w in warnings)


def test_wage_progress_shows_the_learning_rate_as_lr_and_a_time_left(tmp_path, capsys):
    wl = tiny_workload(tmp_path)
    rc, _, err = cli(capsys, "train", "--workload", wl, "--limit-train", 64, "--out", tmp_path / "out")
    assert rc == 0
    [epoch_line] = [line for line in err.splitlines() if line.startswith("epoch 1/1:")]
    assert "lr 8" in epoch_line and "eta " not in epoch_line
    assert any(line.strip().startswith("epoch 1/1  batch") and line.endswith(" left") for line in err.splitlines())
