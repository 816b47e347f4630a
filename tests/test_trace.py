"""The trace of one training step: recorded as the algorithms run, complete, and JSON round-trippable."""
import json

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
