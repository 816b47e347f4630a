"""Fault injection, the quick version of benchmarks/fault_inject.py: SIGKILL `trace` and `train` at
random moments and require every file to be absent, the old complete version or a new complete one,
and the reruns to end equal to an uninterrupted run. Plus checks that the checker does see damage."""
from __future__ import annotations

import importlib.util
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    name = "archsim_fault_inject"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "fault_inject.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fi = _load()


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))  # the subprocesses' cache, private too
    return tmp_path


def _check(report, kills):
    assert report.counts["partial"] == 0, report.problems
    assert report.kills == kills, report.problems
    assert report.problems == []
    assert report.recovery == "ok"


def test_kills_of_trace_and_train_leave_no_partial_file(work):
    specs = [fi.trace_spec(work, "mlp2_nitro.yaml"), fi.train_spec(work, "mlp2_nitro.yaml", epochs=2, limit_train=256)]
    reports = fi.run_suite(specs, kills=3, seed=1, logs=work / "logs")
    for report in reports:
        _check(report, 3)
    trace, train = reports
    assert sum(trace.counts.values()) >= 3          # trace.json looked at after every attempt
    assert sum(train.counts.values()) >= 3 * 3      # checkpoint.npz, weights.npz, train.json
    assert any("already holds" in n for n in train.notes)  # `train --resume` over a finished result: exit 0


# --- the checker itself must see a damaged file, or the test above proves nothing

def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _state(inode, data):
    return fi.FileState(inode, data)


def test_classify_sees_partial_files():
    js = json.dumps({"a": 1, "b": [1, 2, 3]}).encode()
    npz = _npz_bytes(w=np.arange(1000), meta=np.frombuffer(b'{"x": 1}', dtype=np.uint8))
    csv = b"x,y\n1,2\n"
    base = {"r.json": _state(1, js), "w.npz": _state(2, npz), "r.csv": _state(3, csv), ".lock": _state(4, b"")}
    expect = fi.Expect(base)
    same = fi.classify(base, base, expect)
    assert {rel: oc for rel, (oc, _) in same.items()} == {"r.json": "old", "w.npz": "old", "r.csv": "old",
                                                           ".lock": "old"}
    replaced = {"r.json": _state(11, json.dumps({"a": 2, "b": []}).encode()), "w.npz": _state(12, npz),
                "r.csv": _state(13, b"x,y\n3,4\n")}
    got = fi.classify(base, replaced, expect)
    assert [got[r][0] for r in ("r.json", "w.npz", "r.csv", ".lock")] == ["new", "new", "new", "absent"]
    assert got["w.npz"][1] == "same bytes"
    damaged = {"r.json": _state(21, js[:-3]), "w.npz": _state(22, npz[: len(npz) // 2]),
               "r.csv": _state(23, b"x,y\n"), ".lock": _state(24, b"x"),
               "other.json": _state(25, js), "extra.bin": _state(26, b"")}
    got = fi.classify(base, damaged, expect)
    assert {rel: oc for rel, (oc, _) in got.items()} == {rel: "partial" for rel in damaged}
    in_place = fi.classify(base, {"r.json": _state(1, json.dumps({"a": 3, "b": 0}).encode())}, expect)
    assert in_place["r.json"] == ("partial", "modified in place")
    # a JSON missing one of the baseline's top-level keys is not complete
    assert fi.classify(base, {"r.json": _state(31, b'{"a": 1}')}, expect)["r.json"][0] == "partial"


def test_differences_ignore_timing_only():
    a = {"r.json": _state(1, json.dumps({"acc": 0.5, "wall_s": 1.0, "epochs": [{"seconds": 2}]}).encode()),
         "c.npz": _state(2, _npz_bytes(w=np.arange(4), meta=np.frombuffer(b'{"train_seconds": 1, "e": 2}', np.uint8)))}
    b = {"r.json": _state(3, json.dumps({"acc": 0.5, "wall_s": 9.0, "epochs": [{"seconds": 7}]}).encode()),
         "c.npz": _state(4, _npz_bytes(w=np.arange(4), meta=np.frombuffer(b'{"train_seconds": 5, "e": 2}', np.uint8)))}
    assert fi.differences(a, b, fi.TIMING_KEYS) == []
    c = dict(b, **{"r.json": _state(5, json.dumps({"acc": 0.6, "wall_s": 1.0, "epochs": [{"seconds": 2}]}).encode())})
    assert fi.differences(a, c, fi.TIMING_KEYS) == ["r.json: differs from the baseline"]


def test_kill_moments_are_seeded_and_biased_to_the_end():
    moments = [fi.kill_moment(random.Random(7), 10.0) for _ in range(3)]
    assert len(set(moments)) == 1
    rng = random.Random(0)
    draws = [fi.kill_moment(rng, 10.0) for _ in range(2000)]
    assert 0 <= min(draws) and max(draws) <= 10.5
    assert 0.5 < sum(d >= 8.0 for d in draws) / len(draws) < 0.7  # half near the end plus uniform's share
