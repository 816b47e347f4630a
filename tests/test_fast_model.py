"""The fast model (tiles as runs, periodic jumps) against the per-tile reference: every number
equal — cycles, per-op cycles and bounds, busy cycles per component, every action count — on
every shipped workload × config, both timing conventions, and on random small configs."""
from __future__ import annotations

import random
from dataclasses import asdict
from functools import lru_cache

import pytest
import yaml

from archsim.config.hardware import hardware_from_mapping, load_hardware
from archsim.config.workload import load_workload
from archsim.data import load_dataset
from archsim.hw.mapper import MapError
from archsim.hw.sim import simulate
from archsim.train import record_trace
from archsim.trace import TensorAccess, TraceRecorder

SHIPPED = ("array_16x16", "edge_8x8", "tpu_32x32", "nitro_16x16", "fp32_16x16")
BATCH = {"lenet5_wage": 4, "mlp2_nitro": 16, "mlp3_nitro": 8, "vgg_small_wage": 1, "vgg8b_nitro": 1}


@lru_cache(maxsize=None)
def _trace(workload: str, hw_name: str):
    spec = load_workload(f"workloads/{workload}.yaml")
    hw = load_hardware(f"hwconfigs/{hw_name}.yaml")
    if spec.algorithm not in hw.algorithms:
        return None
    return record_trace(spec, load_dataset(), hw.numerics_for(spec.algorithm), BATCH[workload])


def _numbers(result):
    timing, actions = result
    out = asdict(timing)
    events = out.pop("events")
    return out, actions.to_json(), events


def _assert_same(hw, trace):
    fast = _numbers(simulate(trace, hw, memo=False, model="runs", max_tiles=None))
    slow = _numbers(simulate(trace, hw, memo=False, model="tiles", max_tiles=None))
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]
    assert fast[2] <= slow[2]
    return fast[2], slow[2]


@pytest.mark.parametrize("workload", sorted(BATCH))
@pytest.mark.parametrize("hw_name", SHIPPED)
def test_the_fast_model_equals_the_per_tile_reference_on_shipped_configs(workload, hw_name):
    trace = _trace(workload, hw_name)
    if trace is None:
        pytest.skip(f"{hw_name} does not run {workload}'s algorithm")
    base = load_hardware(f"hwconfigs/{hw_name}.yaml").to_dict()
    events = []
    # the per-tile reference is slow on the larger networks (VGG8B on edge_8x8: 8 s per simulation);
    # benchmarks/bench_simulate.py compares every pair at full size under both mappings and timings
    timings = ("archsim",) if (workload, hw_name) == ("vgg8b_nitro", "edge_8x8") else ("archsim", "scalesim")
    for timing in timings:
        for mapping in ("energy", "fixed") if workload in ("lenet5_wage", "mlp2_nitro") else ("energy",):
            events.append(_assert_same(hardware_from_mapping({**base, "timing": timing, "mapping": mapping},
                                                             f"{hw_name}.yaml"), trace))
    fast, slow = map(sum, zip(*events))
    assert fast < slow  # the runs really were jumped over


def _random_hw(rng: random.Random):
    data = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    data["pe_array"].update(rows=rng.randint(2, 12), cols=rng.randint(2, 12),
                            dataflow=rng.choice(["os", "ws", "is"]))
    data["sram"]["banks"] = [{"name": o, "kbytes": rng.choice([2, 4, 16, 64]), "word_bits": rng.choice([32, 64, 256]),
                              "ports": rng.randint(1, 2), "holds": [o]} for o in ("input", "weight", "output")]
    data["dram"]["bytes_per_cycle"] = rng.choice([1, 4, 16, 64])
    data["dram"]["latency_cycles"] = rng.choice([0, 7, 100])
    data["timing"] = rng.choice(["archsim", "scalesim"])
    data["mapping"] = rng.choice(["energy", "latency", "edp", "fixed"])
    return hardware_from_mapping(data, "random.yaml")


def _small_trace(rng: random.Random):
    """A convolution and two GEMMs of random small shapes, with a requantisation after the first."""
    rec = TraceRecorder()
    for i in range(3):
        m, n, k = rng.randint(8, 300), rng.randint(2, 40), rng.randint(4, 200)
        conv = i == 0
        rec.record("conv2d" if conv else "gemm", f"l{i}", "forward",
                   [TensorAccess(f"l{i}.x", max(1, m * k // 9) if conv else m * k, rng.choice([2, 8]), 0.2),
                    TensorAccess(f"l{i}.w", k * n, rng.choice([2, 8]), 0.0)],
                   [TensorAccess(f"l{i}.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
        if i == 0:
            rec.record("eltwise", f"l{i}", "forward", [TensorAccess(f"l{i}.z", m * n, 32, 0.0)],
                       [TensorAccess(f"l{i}.a", m * n, 8, 0.0)], op="shift_round_clip")
    return rec.trace("random", "wage", 8, {})


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_model_equals_the_per_tile_reference_on_random_small_configs(seed):
    rng = random.Random(seed)
    hw = _random_hw(rng)
    try:
        _assert_same(hw, _small_trace(rng))
    except MapError:
        pytest.skip("a bank too small for one minimal tile")
