"""The trace of one training step: recorded as the algorithms run, complete, and JSON round-trippable."""
import copy
import json
import re
from pathlib import Path

import pytest

from archsim.cli import main
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.trace import Trace, TraceError
from archsim.train import record_trace


def _expected_macs(spec, batch):
    """Σ M·N·K per phase from the workload geometry alone."""
    from archsim.config import layer_output_shapes
    shapes = layer_output_shapes(spec.layers, spec.input_shape)
    fwd, first, in_shape = [], None, tuple(spec.input_shape)
    for layer, out in zip(spec.layers, shapes):
        if layer.kind == "conv":
            fwd.append((layer.name, batch * out[0] * out[1] * layer.kernel ** 2 * in_shape[2] * out[2]))
        elif layer.kind == "fc":
            n_in = 1
            for d in in_shape:
                n_in *= d
            fwd.append((layer.name, batch * n_in * out[0]))
        in_shape = out
    first = fwd[0][1]
    total = sum(m for _, m in fwd)
    return {"forward": total, "weight_grad": total, "input_grad": total - first}


def test_wage_trace_counts_every_mac_and_round_trips(tmp_path):
    spec = load_workload("workloads/lenet5_wage.yaml")
    data = load_dataset()
    trace = record_trace(spec, data, batch_size=8)
    assert trace.macs_by_phase() == _expected_macs(spec, 8)
    kinds = {op.kind for op in trace.ops}
    assert {"conv2d", "gemm", "eltwise", "reduce", "pool", "update"} <= kinds
    sr = [op for op in trace.ops if op.params.get("op") == "stochastic_round"]
    assert len(sr) == 4 and all(op.params["random_bits"] == 16 for op in sr)
    for op in trace.ops:
        for t in op.reads + op.writes:
            assert t.elements > 0 and 1 <= t.bits <= 64 and 0.0 <= t.zero_fraction <= 1.0
    conv1 = next(op for op in trace.ops if op.layer == "conv1" and op.kind == "conv2d")
    assert conv1.params["kernel"] == 5 and conv1.reads[0].bits == 8 and conv1.reads[1].bits == 2
    assert conv1.reads[0].zero_fraction == (data.train_images[:8] == 128).mean()  # measured: inputs are x - 128
    path = tmp_path / "t.json"
    trace.save(path)
    again = Trace.load(path)
    assert again.to_json() == trace.to_json()


def test_nitro_trace_has_local_heads_and_no_forward_input_gradients():
    spec = load_workload("workloads/mlp2_nitro.yaml")
    trace = record_trace(spec, load_dataset(), batch_size=16)
    macs = trace.macs_by_phase()
    assert macs["forward"] == 16 * (784 * 200 + 200 * 100 + 100 * 50 + 50 * 10)
    assert macs["local_head"] == 16 * (200 + 100 + 50) * 10 * 3  # forward, weight and input gradient of each head
    assert "input_grad" not in macs  # no error crosses a block
    divides = [op for op in trace.ops if op.params.get("op") == "divide_clip"]
    assert {op.params["divisor"] for op in divides} >= {256 * 784, 256 * 200, 256 * 50}


def test_foreign_or_old_traces_are_refused(tmp_path):
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"format": "archsim-trace", "version": 0, "ops": []}))
    with pytest.raises(TraceError, match="version 0"):
        Trace.load(bad)
    bad.write_text("{}")
    with pytest.raises(TraceError, match="not an archsim trace"):
        Trace.load(bad)


def test_trace_command(tmp_path, capsys):
    out = tmp_path / "trace.json"
    assert main(["trace", "--workload", "workloads/mlp2_nitro.yaml", "--batch", "4", "--out", str(out)]) == 0
    assert "MACs by phase" in capsys.readouterr().out and Trace.load(out).batch == 4


# ----- a trace file is validated completely on load -------------------------------------------
WORKLOADS = sorted(Path("workloads").glob("*.yaml"))


@pytest.fixture(scope="module")
def lenet_json():
    """A real LeNet-5 (WAGE) trace as the JSON dict a file holds: gemm, conv2d and every other kind."""
    trace = record_trace(load_workload("workloads/lenet5_wage.yaml"), load_dataset(), batch_size=2)
    return json.loads(json.dumps(trace.to_json()))


def _index(data, kind):
    return next(i for i, op in enumerate(data["ops"]) if op["kind"] == kind)


def _refused(tmp_path, data, field_pattern, name="bad.json"):
    """Write ``data``, load it; the TraceError is one line naming the file and the field."""
    path = tmp_path / name
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError) as info:
        Trace.load(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and len(msg) < 400, msg
    assert re.search(field_pattern, msg), msg
    return msg


def _bad_op(data, kind, change):
    bad = copy.deepcopy(data)
    i = _index(bad, kind)
    change(bad["ops"][i])
    return bad, i, re.escape(f"ops[{i}] ({bad['ops'][i]['name']})")


def test_an_unknown_op_kind_is_refused_not_dropped(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "eltwise", lambda op: op.update(kind="fft"))
    msg = _refused(tmp_path, bad, where + r"\.kind: expected an op kind")
    assert "got 'fft'" in msg


def test_negative_elements_are_refused(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "eltwise", lambda op: op["reads"][0].update(elements=-5))
    assert "got -5" in _refused(tmp_path, bad, where + r"\.reads\[0\]\.elements: expected a non-negative int")


def test_negative_bits_are_refused(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "pool", lambda op: op["writes"][0].update(bits=-8))
    assert "got -8" in _refused(tmp_path, bad, where + r"\.writes\[0\]\.bits: expected an int in 1\.\.64")


@pytest.mark.parametrize("value", [2.5, -0.1, "0.5", None])
def test_a_zero_fraction_outside_0_1_is_refused(tmp_path, lenet_json, value):
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op["reads"][1].update(zero_fraction=value))
    _refused(tmp_path, bad, where + r"\.reads\[1\]\.zero_fraction: expected a finite number in \[0, 1\], got ")


def test_a_nan_zero_fraction_is_refused(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op["reads"][1].update(zero_fraction=float("nan")))
    _refused(tmp_path, bad, where + r"\.reads\[1\]\.zero_fraction: .* got nan")  # json writes NaN, and reads it


def test_an_unknown_phase_is_refused(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "reduce", lambda op: op.update(phase="sideways"))
    assert "got 'sideways'" in _refused(tmp_path, bad, where + r"\.phase: expected a phase")


@pytest.mark.parametrize("kind", ["gemm", "conv2d"])
@pytest.mark.parametrize("key, value", [("m", 0), ("n", -3), ("k", 2.0), ("acc_bits", 65)])
def test_bad_gemm_extents_are_refused(tmp_path, lenet_json, kind, key, value):
    bad, i, where = _bad_op(lenet_json, kind, lambda op: op["params"].update({key: value}))
    assert f"got {value!r}" in _refused(tmp_path, bad, where + rf"\.params\.{key}: expected ")


def test_gemm_tensor_sizes_must_agree_with_m_n_k(tmp_path, lenet_json):
    m, n, k = (lenet_json["ops"][_index(lenet_json, "gemm")]["params"][x] for x in "mnk")
    for j, (access, expected) in enumerate((("reads[0]", m * k), ("reads[1]", k * n), ("writes[0]", m * n))):
        direction, idx = access[:-3], int(access[-2])
        bad, i, where = _bad_op(lenet_json, "gemm",
                                lambda op: op[direction][idx].update(elements=expected + 1))
        msg = _refused(tmp_path, bad, where + re.escape(f".{access}.elements: expected ") + r".* = " + str(expected),
                       f"bad{j}.json")
        assert f"got {expected + 1}" in msg


def test_conv_tensor_sizes_and_geometry_must_agree_with_m_n_k(tmp_path, lenet_json):
    conv = lenet_json["ops"][_index(lenet_json, "conv2d")]
    p = conv["params"]
    assert p["product"] == "forward"
    x = p["batch"] * p["in_h"] * p["in_w"] * p["in_c"]  # the un-expanded input, not m·k
    assert conv["reads"][0]["elements"] == x != p["m"] * p["k"]
    bad, i, where = _bad_op(lenet_json, "conv2d", lambda op: op["reads"][0].update(elements=p["m"] * p["k"]))
    _refused(tmp_path, bad, where + re.escape(".reads[0].elements: expected batch*in_h*in_w*in_c") + rf".* = {x}")
    bad, i, where = _bad_op(lenet_json, "conv2d", lambda op: op["params"].update(m=p["m"] * 2))
    _refused(tmp_path, bad, where + re.escape(".params.m: expected batch*out_h*out_w = ") + str(p["m"]))
    bad, i, where = _bad_op(lenet_json, "conv2d", lambda op: op["params"].update(out_h=p["out_h"] + 1))
    _refused(tmp_path, bad, where + re.escape(".params.out_h: expected (in_h + 2*padding - kernel)"))
    bad, i, where = _bad_op(lenet_json, "conv2d", lambda op: op["writes"][0].update(elements=7))
    _refused(tmp_path, bad, where + re.escape(".writes[0].elements: expected m*n"))


def test_element_wise_sizes_must_agree(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "eltwise", lambda op: op["writes"][0].update(elements=3))
    _refused(tmp_path, bad, where + re.escape(".writes[0].elements: expected reads[0].elements"))
    bad, i, where = _bad_op(lenet_json, "update", lambda op: op["reads"][1].update(elements=3))
    _refused(tmp_path, bad, where + re.escape(".reads[1].elements: expected reads[0].elements"))
    bad, i, where = _bad_op(lenet_json, "pool",
                            lambda op: op["writes"][0].update(elements=op["reads"][0]["elements"] + 1))
    _refused(tmp_path, bad, where + re.escape(".writes[0].elements: expected "))


@pytest.mark.parametrize("workload", ["../../x", "a/b", "..", ".hidden", "a\\b", "a\nb", "", "x" * 200, 5])
def test_a_workload_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, lenet_json, workload):
    bad = {**lenet_json, "workload": workload}
    _refused(tmp_path, bad, r": workload: expected a plain workload name usable in a folder name")


def test_simulate_never_writes_outside_its_output_folder(tmp_path, lenet_json, capsys, monkeypatch):
    path = tmp_path / "deep" / "er" / "t.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**lenet_json, "workload": "../../x"}))
    hw = Path("hwconfigs/array_16x16.yaml").resolve()
    monkeypatch.chdir(tmp_path / "deep" / "er")
    assert main(["simulate", "--hw", str(hw), "--trace", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archsim: error: ") and "workload: expected a plain workload name" in err
    assert err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["deep"]
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["er"]
    assert not list(tmp_path.rglob("simulate.json"))


def test_a_non_utf8_file_is_refused(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format": "archsim-trace", "workload": "caf\xe9"}')
    with pytest.raises(TraceError, match=r"latin1\.json: not UTF-8 text \(byte 0xe9 at offset 44\)"):
        Trace.load(path)


def test_unreadable_json_is_one_clean_line(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TraceError, match="nested too deeply"):
        Trace.load(deep)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ')
    with pytest.raises(TraceError, match=r"not valid JSON \(Expecting value at line 1, column 12\)"):
        Trace.load(broken)
    big = tmp_path / "big.json"
    with open(big, "wb") as f:  # sparse: no disk space used
        f.truncate((512 << 20) + 1)
    with pytest.raises(TraceError, match="too large for a trace"):
        Trace.load(big)


def test_unknown_fields_are_refused(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op.update(colour="red"))
    _refused(tmp_path, bad, where + r"\.colour: expected no such field \(an op has kind, name")
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op["reads"][0].update(dtype="int8"))
    _refused(tmp_path, bad, where + r"\.reads\[0\]\.dtype: expected no such field \(a tensor access has")
    # a misspelt parameter would silently count no random bits
    bad, i, where = _bad_op(lenet_json, "eltwise", lambda op: op["params"].update(random_bit=16))
    _refused(tmp_path, bad, where + r"\.params\.random_bit: expected no such field")
    _refused(tmp_path, {**lenet_json, "extra": 1}, r": extra: expected no such field \(a trace has")


def test_unit_ops_must_be_known_and_complete(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "eltwise", lambda op: op["params"].update(op="fft"))
    _refused(tmp_path, bad, where + r"\.params\.op: expected an eltwise operation .* got 'fft'")
    bad, i, where = _bad_op(lenet_json, "reduce", lambda op: op["params"].pop("op"))
    _refused(tmp_path, bad, where + r"\.params\.op: expected a reduce operation .* got nothing")
    sr = next(i for i, op in enumerate(lenet_json["ops"]) if op["params"].get("op") == "stochastic_round")
    bad = copy.deepcopy(lenet_json)
    del bad["ops"][sr]["params"]["random_bits"]
    _refused(tmp_path, bad, re.escape(f"ops[{sr}] ({bad['ops'][sr]['name']}).params.random_bits: expected an int"))
    bad, i, where = _bad_op(lenet_json, "reduce", lambda op: op.update(writes=[op["reads"][0]]))
    _refused(tmp_path, bad, where + r"\.writes: expected a list of 0 tensors")


def test_top_level_fields_are_checked(tmp_path, lenet_json):
    for key, value, expected in (("batch", 0, "a positive int"), ("batch", True, "a positive int"),
                                 ("algorithm", "", "the algorithm name"), ("numerics", [], "a mapping"),
                                 ("ops", [], "a non-empty list"), ("ops", {}, "a non-empty list")):
        _refused(tmp_path, {**lenet_json, key: value}, rf": {key}: expected {expected}")
    _refused(tmp_path, {**lenet_json, "ops": [5]}, r": ops\[0\]: expected an op \(a JSON object\), got 5")
    bad = copy.deepcopy(lenet_json)
    bad["ops"][1]["name"] = bad["ops"][0]["name"]
    _refused(tmp_path, bad, r": ops\[1\]\.name: expected a name unique within the trace \(ops\[0\] has it\)")


def test_huge_values_never_flood_the_message(tmp_path, lenet_json):
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op["reads"][0].update(elements=list(range(100_000))))
    assert len(_refused(tmp_path, bad, where + r"\.reads\[0\]\.elements: expected")) < 300
    bad, i, where = _bad_op(lenet_json, "gemm", lambda op: op.update(layer="x" * 1_000_000))
    assert len(_refused(tmp_path, bad, where + r"\.layer: expected")) < 300


def test_the_known_op_names_are_those_of_the_cost_table_and_the_unit():
    from archsim.config.workload import ROUNDING
    from archsim.cost.table import CostTable
    from archsim.hw.sim import UNIT_CAPABILITY
    from archsim.trace import ROUNDING_MODES, UNIT_OPS
    names = [name for ops in UNIT_OPS.values() for name in ops]
    assert sorted(names) == sorted(CostTable.load().data["shift_align_ops"]) == sorted(UNIT_CAPABILITY)
    assert sorted(ROUNDING_MODES) == sorted(ROUNDING)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_real_traces_of_every_shipped_workload_round_trip(tmp_path, monkeypatch, workload):
    import time
    # one recorded step at batch 2 is small; keep the host's free memory out of this test
    monkeypatch.setenv("ARCHSIM_MEMORY_BYTES", str(1 << 50))
    trace = record_trace(load_workload(workload), load_dataset(), batch_size=2)
    path = tmp_path / "t.json"
    trace.save(path)
    start = time.perf_counter()
    again = Trace.load(path)
    assert time.perf_counter() - start < 0.5  # validation is a few ms
    assert again.to_json() == trace.to_json()
    again.at_width(32)  # what a float32 datapath simulates
