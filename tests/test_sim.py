"""The SimPy accelerator model: exact MAC counts, closed-form compute, DRAM bounds, clear errors."""
import json
import re
import math

import pytest
import yaml

from archsim.cli import main
from archsim.config import ConfigError, load_workload
from archsim.config.hardware import load_hardware
from archsim.data import load_dataset
from archsim.hw.mapper import MapError, tile_op
from archsim.hw.sim import simulate
from archsim.hw.sim import plan_step, plan_tiles
from archsim.hw.systolic import pipelined_cycles, tile_cycles
from archsim.trace import TensorAccess, TraceRecorder
from archsim.train import record_trace


WIDE_BANKS = {"banks": [{"name": n, "kbytes": 32, "word_bits": 4096, "ports": 2, "holds": [h]}
                        for n, h in (("i", "input"), ("w", "weight"), ("o", "output"))]}


def _hw(tmp_path, **changes):
    data = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    for key, value in changes.items():
        section, _, leaf = key.partition(".")
        if leaf:
            data[section][leaf] = value
        else:
            data[section] = value
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_hardware(path)


def _gemm_trace(m, n, k, bits=(8, 8)):
    rec = TraceRecorder()
    rec.record("gemm", "l", "forward", [TensorAccess("l.x", m * k, bits[0], 0.0), TensorAccess("l.w", k * n, bits[1], 0.0)],
               [TensorAccess("l.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
    return rec.trace("t", "wage", m, {})


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("convention", ["archsim", "scalesim"])
@pytest.mark.parametrize("mapping", ["fixed", "energy", "latency"])
def test_compute_bound_gemm_costs_its_closed_form(tmp_path, dataflow, convention, mapping):
    """The simulated PE cycles of the executed tiles (the fixed mapping's or the search's) equal the
    per-tile reference: the pipelined closed form, or SCALE-Sim's folds back to back."""
    hw = _hw(tmp_path, sram=WIDE_BANKS, timing=convention, mapping=mapping,
             **{"pe_array.dataflow": dataflow, "dram.bytes_per_cycle": 4096, "dram.latency_cycles": 0})
    trace = _gemm_trace(40, 20, 24)
    timing, actions = simulate(trace, hw)
    tiles = plan_tiles(trace.ops[0], hw, plan_step(trace, hw)[0])
    assert len(tiles) > 1
    if convention == "scalesim":  # folds back to back, each at its full count
        compute = sum(tile_cycles(dataflow, t.m, t.n, t.k, 8, 8, "scalesim") for t in tiles)
    else:  # folds overlap through double-buffered stationary registers
        compute = pipelined_cycles(dataflow, [(t.m, t.n, t.k, t.new_stationary) for t in tiles])
        assert compute < sum(tile_cycles(dataflow, t.m, t.n, t.k, 8, 8) for t in tiles)
    assert timing.busy_cycles["pe_array"] == compute
    assert compute <= timing.cycles_per_step <= compute + 2 * math.ceil(max(t.input_bytes + t.weight_bytes for t in tiles)
                                                                         / 4096) + 10
    assert sum(actions.macs_by_width.values()) == 40 * 20 * 24


def test_pipelined_cycles_of_one_tile_is_its_isolated_count():
    for dataflow in ("ws", "os", "is"):
        assert pipelined_cycles(dataflow, [(5, 7, 3, True)]) == tile_cycles(dataflow, 5, 7, 3, 8, 8)
    # WS, two folds sharing nothing: the second preload (3 rows) hides under the first stream (5)
    assert pipelined_cycles("ws", [(5, 7, 3, True), (5, 7, 3, True)]) == 3 + 5 + 5 + (3 + 7 - 2)
    # a preload longer than the previous stream is exposed by the difference
    assert pipelined_cycles("ws", [(2, 7, 6, True), (2, 7, 6, True)]) == 6 + 2 + (6 - 2) + 2 + (6 + 7 - 2)


def test_dram_bound_gemm_takes_at_least_bytes_over_bandwidth(tmp_path):
    hw = _hw(tmp_path, **{"dram.bytes_per_cycle": 1})
    timing, actions = simulate(_gemm_trace(256, 64, 64), hw)
    moved = actions.dram_read_bytes + actions.dram_write_bytes
    assert moved >= 256 * 64 + 64 * 64 + 256 * 64 * 4
    assert timing.cycles_per_step >= moved / 1
    assert timing.ops[0].bound == "dram"


def test_mac_counts_equal_the_trace_for_a_real_step(tmp_path):
    trace = record_trace(load_workload("workloads/vgg_small_wage.yaml"), load_dataset(), batch_size=4)
    for name in ("edge_8x8", "array_16x16", "tpu_32x32"):
        timing, actions = simulate(trace, load_hardware(f"hwconfigs/{name}.yaml"))
        assert sum(actions.macs_by_width.values()) == sum(op.macs for op in trace.ops)
        assert sum(timing.phases().values()) == timing.cycles_per_step
        assert actions.random_bits == sum(op.params.get("random_bits", 0) * op.reads[0].elements
                                          for op in trace.ops if op.params.get("op") == "stochastic_round")


def test_scalesim_convention_matches_its_per_fold_formula(tmp_path):
    hw = _hw(tmp_path, timing="scalesim", sram=WIDE_BANKS, **{"dram.bytes_per_cycle": 4096, "dram.latency_cycles": 0})
    timing, _ = simulate(_gemm_trace(64, 64, 64), hw)
    assert timing.busy_cycles["pe_array"] == 8 * 8 * (2 * 8 + 8 + 64 - 2)  # WS: folds·(2R + C + T − 2)


def test_narrow_single_port_sram_bounds_the_tiles(tmp_path):
    narrow = {"banks": [{"name": n, "kbytes": 32, "word_bits": 8, "ports": 1, "holds": [h]}
                        for n, h in (("i", "input"), ("w", "weight"), ("o", "output"))]}
    fast = simulate(_gemm_trace(64, 64, 64), _hw(tmp_path, sram=WIDE_BANKS, **{"dram.bytes_per_cycle": 4096}))[0]
    slow = simulate(_gemm_trace(64, 64, 64), _hw(tmp_path, sram=narrow, **{"dram.bytes_per_cycle": 4096}))[0]
    assert slow.ops[0].bound == "sram_ports" and slow.cycles_per_step > fast.cycles_per_step
    # the output bank alone moves 64·64 outputs of 4 bytes per K-fold through one 1-byte port
    assert slow.ops[0].sram_port_cycles >= 64 * 64 * 4 * 8


def test_sram_that_cannot_hold_a_minimal_tile_is_a_clear_error(tmp_path):
    banks = [{"name": "in", "kbytes": 1, "holds": ["input"]}, {"name": "w", "kbytes": 1, "holds": ["weight"]},
             {"name": "out", "kbytes": 1, "holds": ["output"]}]
    hw = _hw(tmp_path, sram={"banks": banks}, **{"pe_array.rows": 64, "pe_array.cols": 64})
    with pytest.raises(MapError, match=r"l/forward/gemm/0: bank 'w' \(1 KiB.*minimal weight tile of 64x64x1"):
        simulate(_gemm_trace(64, 64, 4096), hw)


def test_missing_shift_align_capability_is_named(tmp_path):
    hw = _hw(tmp_path, **{"shift_align.ops": ["shift", "round", "saturate", "compare"]})
    trace = record_trace(load_workload("workloads/lenet5_wage.yaml"), load_dataset(), batch_size=2)
    with pytest.raises(MapError, match="lacks 'stochastic_round'"):
        simulate(trace, hw)


@pytest.mark.parametrize("change,key", [({"pe_array.rows": 0}, "pe_array.rows"),
                                        ({"pe_array.dataflow": "rs"}, "pe_array.dataflow"),
                                        ({"dram.bytes_per_cycle": -4}, "dram.bytes_per_cycle"),
                                        ({"sram": {"banks": [{"name": "a", "kbytes": 4, "holds": ["input"]}]}},
                                         "sram.banks"),
                                        ({"pe_array.datatype": "bf16"}, "pe_array.datatype"),
                                        ({"numerics": [{"algorithm": "wage"}, {"algorithm": "wage"}]},
                                         "numerics[1].algorithm"),
                                        ({"pe_array.operand_bits": 8, "numerics": [{"algorithm": "nitro_d", "k_w": 16}]},
                                         "numerics[0].k_w"),
                                        ({"numerics": []}, "numerics"),
                                        ({"mapping": "fastest"}, "mapping")])
def test_bad_hardware_configs(tmp_path, change, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        _hw(tmp_path, **change)


def test_simulate_command_writes_simulate_json(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--workload", "workloads/mlp2_nitro.yaml", "--hw", "hwconfigs/nitro_16x16.yaml",
                 "--batch", "8", "--out", str(out)]) == 0
    result = json.loads((out / "simulate.json").read_text())
    for key in ("cycles_per_step", "phases", "components", "ops", "actions"):
        assert key in result
    assert "local_head" in result["phases"]
    trace_file = tmp_path / "t.json"
    assert main(["trace", "--workload", "workloads/mlp2_nitro.yaml", "--batch", "8", "--out", str(trace_file)]) == 0
    assert main(["simulate", "--trace", str(trace_file), "--hw", "hwconfigs/nitro_16x16.yaml",
                 "--out", str(tmp_path / "sim2")]) == 0
    again = json.loads((tmp_path / "sim2" / "simulate.json").read_text())
    assert again["cycles_per_step"] == result["cycles_per_step"]  # deterministic, recorded or loaded
    capsys.readouterr()
    wage_only = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    wage_only["numerics"] = wage_only["numerics"][:1]
    (tmp_path / "wage_only.yaml").write_text(yaml.safe_dump(wage_only))
    assert main(["simulate", "--workload", "workloads/mlp2_nitro.yaml", "--hw", str(tmp_path / "wage_only.yaml")]) == 2
    assert "wage_only.yaml: numerics: expected a datapath for nitro_d" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "archsim-trace", "version": 99}))
    assert main(["simulate", "--trace", str(bad), "--hw", "hwconfigs/edge_8x8.yaml"]) == 2


def test_an_operand_that_fits_its_bank_crosses_dram_once(tmp_path):
    """Folds reuse a resident operand from SRAM; one too big for its bank is fetched per fold."""
    big = {"banks": [{"name": n, "kbytes": 64, "word_bits": 256, "ports": 2, "holds": [h]}
                     for n, h in (("i", "input"), ("w", "weight"), ("o", "output"))]}
    trace = _gemm_trace(64, 40, 48)  # OS on 8x8: 8 row folds x 5 column folds
    hw = _hw(tmp_path, sram=big, mapping="fixed", **{"pe_array.dataflow": "os"})
    _, actions = simulate(trace, hw)
    assert actions.dram_read_bytes == 64 * 48 + 48 * 40
    small = {"banks": [{"name": n, "kbytes": 2 if h == "input" else 64, "word_bits": 256, "ports": 2, "holds": [h]}
                       for n, h in (("i", "input"), ("w", "weight"), ("o", "output"))]}
    _, refetched = simulate(trace, _hw(tmp_path, sram=small, mapping="fixed", **{"pe_array.dataflow": "os"}))
    assert refetched.dram_read_bytes == 5 * 64 * 48 + 48 * 40  # the input once per column fold


def test_requantisation_after_a_gemm_runs_on_the_write_back_path(tmp_path):
    """The element-wise op that consumes a GEMM's whole result is applied on the way out: the
    8-bit result leaves instead of the 32-bit sums, and the op costs no pass of its own."""
    rec = TraceRecorder()
    m, n, k = 64, 40, 48
    rec.record("gemm", "l", "forward", [TensorAccess("l.x", m * k, 8, 0.0), TensorAccess("l.w", k * n, 2, 0.0)],
               [TensorAccess("l.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
    rec.record("eltwise", "a", "forward", [TensorAccess("a.z", m * n, 32, 0.0)], [TensorAccess("a.y", m * n, 8, 0.0)],
               op="shift_round_clip", shift=3, rounding="half_even")
    trace = rec.trace("t", "wage", m, {})
    fused_t, fused = simulate(trace, _hw(tmp_path, mapping="fixed"))  # the fixed mapping: no on-chip reuse
    apart_t, apart = simulate(trace, _hw(tmp_path, mapping="fixed", **{"shift_align.on_writeback": False}))
    assert fused.dram_write_bytes == m * n and apart.dram_write_bytes == 4 * m * n
    assert fused.shift_align_ops == apart.shift_align_ops == {"shift_round_clip:32": m * n}
    assert fused_t.ops[1].bound == "fused" and fused_t.ops[1].cycles == 0
    assert fused_t.cycles_per_step < apart_t.cycles_per_step


def test_per_op_dram_bytes_sum_to_the_step_and_never_undercut_the_compulsory_bytes():
    from archsim.hw.sim import compulsory_dram_bytes  # noqa: F401  (public: the bound reports use)
    for hw_file, workload, algorithm, batch in (("hwconfigs/array_16x16.yaml", "workloads/lenet5_wage.yaml", "wage", 16),
                                                 ("hwconfigs/tpu_32x32.yaml", "workloads/mlp2_nitro.yaml", "nitro_d", 64)):
        hw = load_hardware(hw_file)
        trace = record_trace(load_workload(workload), load_dataset(), hw.numerics_for(algorithm), batch)
        timing, actions = simulate(trace, hw)
        assert sum(o.dram_read_bytes for o in timing.ops) == actions.dram_read_bytes
        assert sum(o.dram_write_bytes for o in timing.ops) == actions.dram_write_bytes
        gemms = [o for o in timing.ops if o.kind in ("gemm", "conv2d")]
        assert gemms and any(o.compulsory_dram_bytes > 0 for o in gemms)  # 0: operands and result all on chip
        assert all(o.dram_read_bytes + o.dram_write_bytes >= o.compulsory_dram_bytes for o in gemms)
        if hw_file.endswith("tpu_32x32.yaml"):  # 2 MiB banks hold every MLP operand: exactly the bound
            assert all(o.dram_read_bytes + o.dram_write_bytes == o.compulsory_dram_bytes for o in gemms)
