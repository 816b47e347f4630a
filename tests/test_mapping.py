"""The mapping search: exact against brute force, never worse than the fixed mapping, executed
byte for byte by the simulator, and the on-chip placement of tensors across ops."""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import yaml

from archsim.config.hardware import hardware_from_mapping, load_hardware
from archsim.config.workload import load_workload
from archsim.cost.model import CostModel
from archsim.data import load_dataset
from archsim.hw.mapper import MapError, fixed_mapping, tile_mapping
from archsim.hw.mapping import (DIMS, ORDERS, OBJECTIVES, Mapping, best_mapping, block_lengths, evaluate,
                                problem_of)
from archsim.hw.placement import tensor_links
from archsim.hw.sim import SIMULATIONS, default_energies, place_step, plan_step, plan_tiles, simulate
from archsim.hw.systolic import pipelined_cycles, tile_cycles
from archsim.train import record_trace
from archsim.trace import TensorAccess, TraceRecorder

SHIPPED = ("array_16x16", "edge_8x8", "tpu_32x32", "nitro_16x16", "fp32_16x16")


def _hw(**changes):
    """edge_8x8 with top-level keys, banks (``kbytes``, ``word_bits``) or ``dram.*`` changed."""
    data = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    for key, value in changes.items():
        if key == "kbytes":
            data["sram"]["banks"] = [{"name": o, "kbytes": kb, "word_bits": 256, "ports": 2, "holds": [o]}
                                     for o, kb in zip(("input", "weight", "output"), value)]
        elif "." in key:
            section, leaf = key.split(".")
            data[section][leaf] = value
        else:
            data[key] = value
    return hardware_from_mapping(data, "test.yaml")


def _gemm(m, n, k, bits=(8, 8), conv=False):
    rec = TraceRecorder()
    a = m * k if not conv else max(1, m * k // 9)   # a convolution's input is im2col-expanded 9x
    rec.record("conv2d" if conv else "gemm", "l", "forward",
               [TensorAccess("l.x", a, bits[0], 0.0), TensorAccess("l.w", k * n, bits[1], 0.0)],
               [TensorAccess("l.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
    return rec.trace("t", "wage", m, {})


def _primary(choice, objective):
    return choice.estimate.energy_pj if objective == "latency" else choice.estimate.objective


@pytest.mark.parametrize("seed", range(12))
def test_the_search_equals_a_brute_force_enumeration_on_small_shapes(seed):
    """Keeping only the smallest block of each block count loses nothing: every block length
    enumerated gives the same optimum, for every dataflow, timing convention and objective."""
    rng = random.Random(seed)
    m, n, k = rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 60)
    hw = _hw(kbytes=[rng.choice([1, 2, 4]) for _ in range(3)], timing=rng.choice(["archsim", "scalesim"]),
             **{"pe_array.dataflow": rng.choice(["os", "ws", "is"]), "pe_array.rows": rng.choice([2, 4, 8]),
                "pe_array.cols": rng.choice([2, 4, 8])})
    op = _gemm(m, n, k, conv=rng.random() < 0.3).ops[0]
    pr = problem_of(op, hw, 32, m_multiple=rng.choice([1, 1, 3, 6]))   # blocks of whole pooling windows
    energies = default_energies(hw)
    for objective in OBJECTIVES:
        fast = best_mapping(pr, energies, objective, fixed_mapping(op, hw))
        brute = best_mapping(pr, energies, objective, fixed_mapping(op, hw), every=True)
        assert brute.candidates > fast.candidates or brute.candidates == fast.candidates
        assert _primary(fast, objective) == pytest.approx(_primary(brute, objective), rel=1e-12)
        assert fast.estimate.cycles == pytest.approx(brute.estimate.cycles, rel=0.011)


def test_block_lengths_keep_the_smallest_length_of_every_count():
    assert block_lengths(10, 1) == [1, 2, 3, 4, 5, 10]
    assert block_lengths(40, 8) == [8, 16, 24, 40]          # 5, 3, 2 and 1 blocks; 32 gives 2 blocks too
    assert block_lengths(5, 8) == [5]
    assert block_lengths(40, 8, every=True) == [8, 16, 24, 32, 40]


@pytest.mark.parametrize("seed", range(20))
def test_the_tiles_of_a_mapping_move_exactly_the_bytes_the_search_counts(seed):
    """Whatever the loop order, blocks and residency, the tiles the simulator executes read and write
    exactly the DRAM bytes the search's estimate counts (operands, spilled partial sums, results)."""
    rng = random.Random(seed)
    df = rng.choice(["os", "ws", "is"])
    hw = _hw(kbytes=[64, 64, 64], **{"pe_array.dataflow": df})
    m, n, k = rng.randint(1, 50), rng.randint(1, 50), rng.randint(1, 50)
    op = _gemm(m, n, k, bits=(rng.choice([2, 4, 8]), rng.choice([2, 8])), conv=rng.random() < 0.4).ops[0]
    pr = problem_of(op, hw, 8)
    lengths = {d: block_lengths(e, u, every=True) for d, e, u in zip(DIMS, pr.extent, (8, 8, 1))}
    mapping = Mapping(rng.choice(ORDERS), tuple(rng.choice(lengths[d]) for d in DIMS),
                      tuple(o for o in ("input", "weight") if rng.random() < 0.3))
    tiles = tile_mapping(op, hw, mapping, pr.compulsory[2])
    values = evaluate(pr, default_energies(hw), "energy", mapping.order, mapping.resident,
                      {d: np.array([t]) for d, t in zip(DIMS, mapping.tile)})
    read = sum(t.input_fetch_bytes + t.weight_fetch_bytes + t.output_fetch_bytes for t in tiles)
    write = sum(t.spill_bytes + (t.result_bytes or 0) for t in tiles)
    assert (read, write) == (int(values[1][0]), int(values[2][0]))
    assert sum(t.m * t.n * t.k for t in tiles) == m * n * k
    assert sum(t.last_partial for t in tiles) and sum(t.m * t.n for t in tiles if t.last_partial) == m * n


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_an_op_whose_operands_fit_moves_exactly_the_compulsory_bytes(dataflow):
    """Each operand fits its bank once but not in half of it (the fixed mapping's residency test):
    the search keeps them whole and reaches the bound, which the fixed mapping misses."""
    hw = _hw(kbytes=[8, 8, 64], **{"pe_array.dataflow": dataflow})
    trace = _gemm(100, 60, 70)
    timing, _ = simulate(trace, hw)
    fixed, _ = simulate(trace, hardware_from_mapping({**hw.to_dict(), "mapping": "fixed"}, "x"))
    op = timing.ops[0]
    assert op.compulsory_dram_bytes == 100 * 70 + 70 * 60 + 4 * 100 * 60
    assert op.mapping == "searched" and op.dram_read_bytes + op.dram_write_bytes == op.compulsory_dram_bytes
    assert fixed.ops[0].dram_read_bytes + fixed.ops[0].dram_write_bytes > op.compulsory_dram_bytes


def _real_trace(workload, algorithm, hw, batch):
    return record_trace(load_workload(workload), load_dataset(), hw.numerics_for(algorithm), batch)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_search_is_never_worse_than_the_fixed_mapping(name):
    """In the simulation of a real step on every shipped config: the energy-mapped step moves no more
    DRAM bytes and costs no more energy than the fixed mapping (per op on the estimate: below)."""
    base = load_hardware(f"hwconfigs/{name}.yaml")
    algorithm = base.algorithms[0]
    workload = "workloads/lenet5_wage.yaml" if algorithm == "wage" else "workloads/mlp2_nitro.yaml"
    trace = _real_trace(workload, algorithm, base, 16)
    results = {}
    for objective in ("fixed",) + OBJECTIVES:
        hw = hardware_from_mapping({**base.to_dict(), "mapping": objective}, name)
        if objective != "fixed":
            for plan in plan_step(trace, hw).values():   # every op went through the search
                assert plan.estimate is not None
        if objective in ("fixed", "energy"):   # simulated: the default against the baseline
            timing, actions = simulate(trace, hw)
            results[objective] = (timing, CostModel(hw).price(timing, actions).energy_pj)
    fixed_timing, fixed_energy = results["fixed"]
    energy_timing, energy = results["energy"]
    assert energy <= fixed_energy

    def dram(timing):
        return sum(o.dram_read_bytes + o.dram_write_bytes for o in timing.ops)
    assert dram(energy_timing) <= dram(fixed_timing)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_the_choice_is_no_worse_than_fixed_on_the_estimate(objective):
    hw = _hw(kbytes=[2, 2, 4], mapping=objective)
    energies = default_energies(hw)
    for m, n, k in itertools.product((7, 33), (5, 40), (3, 64)):
        op = _gemm(m, n, k).ops[0]
        choice = best_mapping(problem_of(op, hw, 32), energies, objective, fixed_mapping(op, hw))
        if objective == "latency":
            assert choice.estimate.cycles <= choice.fixed_estimate.cycles
        else:
            assert choice.estimate.objective <= choice.fixed_estimate.objective


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_the_simulated_cycles_of_a_cut_mapping_follow_the_per_tile_reference(dataflow):
    """Small banks force several blocks; with DRAM and SRAM ports too fast to stall, the PE array's
    busy cycles are the pipelined closed form of exactly the tiles the search's mapping makes."""
    hw = _hw(kbytes=[1, 1, 4 if dataflow == "is" else 2], **{"pe_array.dataflow": dataflow, "dram.bytes_per_cycle": 4096,
                                  "dram.latency_cycles": 0})
    hw = hardware_from_mapping({**hw.to_dict(), "sram": {"banks": [
        {**b, "word_bits": 4096} for b in hw.to_dict()["sram"]["banks"]]}}, "test.yaml")
    trace = _gemm(40, 36, 90)
    plan = plan_step(trace, hw)[0]
    tiles = plan_tiles(trace.ops[0], hw, plan)
    assert plan.searched and len(tiles) > 6
    timing, _ = simulate(trace, hw)
    assert timing.busy_cycles["pe_array"] == pipelined_cycles(dataflow, [(t.m, t.n, t.k, t.new_stationary)
                                                                          for t in tiles])
    assert timing.busy_cycles["pe_array"] < sum(tile_cycles(dataflow, t.m, t.n, t.k, 8, 8) for t in tiles)


def test_lenet5_step_on_array_16x16_moves_at_most_half_of_the_fixed_mappings_dram_bytes():
    hw = load_hardware("hwconfigs/array_16x16.yaml")
    trace = _real_trace("workloads/lenet5_wage.yaml", "wage", hw, 128)
    _, searched = simulate(trace, hw)
    _, fixed = simulate(trace, hardware_from_mapping({**hw.to_dict(), "mapping": "fixed"}, "x"))
    assert fixed.dram_read_bytes + fixed.dram_write_bytes == 229_387_354   # the figure the issue started from
    assert searched.dram_read_bytes + searched.dram_write_bytes <= 229_387_354 / 2


def test_tensor_names_link_producers_to_consumers():
    hw = load_hardware("hwconfigs/array_16x16.yaml")
    trace = _real_trace("workloads/lenet5_wage.yaml", "wage", hw, 4)
    links = dict(zip((op.name for op in trace.ops), tensor_links(trace.ops)))
    assert links["pool1/forward/max/2"][0] == ["conv1.z"]
    assert links["conv2/forward/conv2d/5"][0] == ["act1.a", "conv2.w"]
    assert links["conv2/weight_grad/conv2d/25"][0] == ["act1.a", "pool2.dx"]   # the stashed activation
    assert links["conv1/weight_grad/conv2d/30"][0] == ["conv1.x", "pool1.dx"]  # the batch comes from outside
    assert links["fc4/update/subtract_clip/42"][0] == ["fc4.w_stored", "fc4.dw_q"]


def _chain(m, n, k):
    """A GEMM, an element-wise requantisation of its result, a second GEMM on that, and a late
    reuse of the first GEMM's input (as a weight gradient reuses a forward activation)."""
    rec = TraceRecorder()
    rec.record("gemm", "l1", "forward", [TensorAccess("l1.x", m * k, 8, 0.0), TensorAccess("l1.w", k * n, 8, 0.0)],
               [TensorAccess("l1.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
    rec.record("reduce", "a1", "forward", [TensorAccess("a1.z", m * n, 32, 0.0)], [], op="max_abs")
    rec.record("eltwise", "a1", "forward", [TensorAccess("a1.z", m * n, 32, 0.0)], [TensorAccess("a1.a", m * n, 8, 0.0)],
               op="shift_round_clip", shift=3, rounding="half_even")
    rec.record("gemm", "l2", "forward", [TensorAccess("l2.x", m * n, 8, 0.0), TensorAccess("l2.w", n * 8, 8, 0.0)],
               [TensorAccess("l2.z", m * 8, 32, 0.0)], m=m, n=8, k=n, acc_bits=32)
    rec.record("gemm", "l1", "weight_grad", [TensorAccess("l1.x", m * k, 8, 0.0), TensorAccess("l2.z", m * 8, 32, 0.0)],
               [TensorAccess("l1.dw", k * 8, 32, 0.0)], m=k, n=8, k=m, acc_bits=32)
    return rec.trace("t", "wage", m, {})


def test_results_that_fit_stay_on_chip_for_their_consumers():
    trace = _chain(64, 32, 48)
    hw = _hw(kbytes=[64, 64, 64])
    timing, actions = simulate(trace, hw)
    _, fixed = simulate(trace, hardware_from_mapping({**hw.to_dict(), "mapping": "fixed"}, "x"))
    ops = {o.name: o for o in timing.ops}
    assert ops["l1/forward/gemm/0"].dram_write_bytes == 0            # its 32-bit result stays for a1
    assert ops["a1/forward/shift_round_clip/2"].dram_read_bytes == 0
    assert ops["l2/forward/gemm/3"].dram_read_bytes == 32 * 8        # only its weight comes from DRAM
    assert ops["l1/weight_grad/gemm/4"].dram_read_bytes == 0          # l1.x was kept from the forward GEMM
    assert actions.dram_read_bytes + actions.dram_write_bytes < fixed.dram_read_bytes + fixed.dram_write_bytes


def test_a_tensor_needed_later_that_loses_its_place_is_stashed_once_and_read_back_once():
    trace = _chain(64, 32, 48)
    hw = _hw(kbytes=[4, 4, 9])   # the 8 KiB result fits; the 3 KiB activation must make room for it
    timing, actions = simulate(trace, hw)
    ops = {o.name: o for o in timing.ops}
    x_bytes = 64 * 48
    stashed = sum(o.dram_write_bytes for o in timing.ops) - 64 * 8 * 4 - 48 * 8 * 4   # minus results that leave
    assert ops["l1/weight_grad/gemm/4"].dram_read_bytes >= x_bytes or stashed >= x_bytes
    assert actions.dram_read_bytes + actions.dram_write_bytes <= (
        sum(o.compulsory_dram_bytes for o in timing.ops) + sum(o.dram_read_bytes + o.dram_write_bytes
                                                              for o in timing.ops if o.kind not in ("gemm",)))


@pytest.mark.parametrize("name", ["array_16x16", "nitro_16x16", "tpu_32x32"])
def test_any_mapping_does_the_same_work(name):
    """Mapping and placement change where data moves, never what is computed: MACs, shift/align
    operations (fused on a write-back or not) and random bits are those of the fixed mapping."""
    base = load_hardware(f"hwconfigs/{name}.yaml")
    trace = _real_trace("workloads/lenet5_wage.yaml", "wage", base, 8)
    counts = []
    for objective in ("fixed", "energy", "latency"):
        _, actions = simulate(trace, hardware_from_mapping({**base.to_dict(), "mapping": objective}, name))
        counts.append((dict(actions.macs_by_width), dict(actions.shift_align_ops), actions.random_bits))
    assert counts[0] == counts[1] == counts[2]


def test_a_convolution_pools_and_requantises_on_its_write_back():
    """With blocks of whole pooling windows the pooling and the ReLU-shift after it run on the way
    out: only the pooled 8-bit activations leave, the two ops show as fused."""
    hw = load_hardware("hwconfigs/array_16x16.yaml")
    trace = _real_trace("workloads/lenet5_wage.yaml", "wage", hw, 8)
    timing, _ = simulate(trace, hw)
    ops = {o.name: o for o in timing.ops}
    conv1 = ops["conv1/forward/conv2d/1"]
    assert ops["pool1/forward/max/2"].bound == "fused" and ops["act1/forward/relu_shift_round_clip/3"].bound == "fused"
    pooled = next(op for op in trace.ops if op.name == "act1/forward/relu_shift_round_clip/3").writes[0]
    assert conv1.block["m"] % (2 * 28) == 0
    assert conv1.dram_write_bytes in (0, pooled.elements * pooled.bits // 8)   # kept on chip, or pooled 8-bit
    fixed, _ = simulate(trace, hardware_from_mapping({**hw.to_dict(), "mapping": "fixed"}, "x"))
    assert {o.name: o for o in fixed.ops}["pool1/forward/max/2"].bound != "fused"


def _state_trace(weights):
    """A step whose stored weights are read first (quantised for the forward GEMM) and updated last."""
    rec = TraceRecorder()
    rec.record("eltwise", "l", "forward", [TensorAccess("l.w_stored", weights, 8, 0.0)],
               [TensorAccess("l.w", weights, 8, 0.0)], op="shift_round_clip", shift=1, rounding="half_even")
    rec.record("gemm", "l", "forward", [TensorAccess("l.x", 64 * 32, 8, 0.0), TensorAccess("l.w", weights, 8, 0.0)],
               [TensorAccess("l.z", 64 * (weights // 32), 32, 0.0)], m=64, n=weights // 32, k=32, acc_bits=32)
    rec.record("update", "l", "update", [TensorAccess("l.w_stored", weights, 8, 0.0),
                                         TensorAccess("l.dw_q", weights, 8, 0.0)],
               [TensorAccess("l.w_stored", weights, 8, 0.0)], op="subtract_clip", limit=64)
    return rec.trace("t", "wage", 64, {})


@pytest.mark.parametrize("weight_kbytes, crosses", [(64, False), (1, True)])
def test_stored_weights_stay_on_chip_across_steps_when_they_fit(weight_kbytes, crosses):
    """The steady state of training: weights that fit their bank for the whole step never cross
    DRAM; weights that do not are read by the step's first op and written by the update."""
    weights = 32 * 64   # 2 KiB
    trace = _state_trace(weights)
    timing, _ = simulate(trace, _hw(kbytes=[64, weight_kbytes, 64]))
    ops = {o.name: o for o in timing.ops}
    first, update = ops["l/forward/shift_round_clip/0"], ops["l/update/subtract_clip/2"]
    assert (first.dram_read_bytes, update.dram_write_bytes) == ((weights, weights) if crosses else (0, 0))


def test_points_that_differ_only_in_prices_share_one_simulation():
    """Clock, node, DRAM type and zero gating only price a step: with the same plans the memoised
    simulation is exactly a fresh one; a change that moves data (a bank size) simulates again."""
    base = load_hardware("hwconfigs/tpu_32x32.yaml")
    trace = _real_trace("workloads/lenet5_wage.yaml", "wage", base, 8)
    simulate(trace, base)
    base_plans = {i: (p.mapping, p.searched) for i, p in plan_step(trace, base).items()}
    shared = 0
    for change in ({"clock_mhz": 500.0}, {"technology_nm": 28}, {"dram": {**base.to_dict()["dram"], "type": "ddr4"}},
                   {"pe_array": {**base.to_dict()["pe_array"], "zero_gating": True}}):
        hw = hardware_from_mapping({**base.to_dict(), **change}, "x")
        hits = SIMULATIONS.hits
        memoised = simulate(trace, hw)
        same_plans = {i: (p.mapping, p.searched) for i, p in plan_step(trace, hw).items()} == base_plans
        assert SIMULATIONS.hits == hits + same_plans   # a hit exactly when the prices chose the same plans
        shared += same_plans
        fresh = simulate(trace, hw, memo=False)
        assert memoised[0] == fresh[0] and memoised[1].to_json() == fresh[1].to_json()
    assert shared >= 2
    bigger = hardware_from_mapping({**base.to_dict(), "sram": {"banks": [
        {**b, "kbytes": b["kbytes"] // 2} for b in base.to_dict()["sram"]["banks"]]}}, "x")
    misses = SIMULATIONS.misses
    simulate(trace, bigger)
    assert SIMULATIONS.misses == misses + 1


def test_a_result_read_again_later_is_not_consumed_on_the_write_back():
    """Fusing the requantisation into the GEMM's write-back would never write the 32-bit result;
    when a later op reads that result too, the requantisation runs as its own pass."""
    rec = TraceRecorder()
    m, n, k = 32, 16, 24
    rec.record("gemm", "l", "forward", [TensorAccess("l.x", m * k, 8, 0.0), TensorAccess("l.w", k * n, 8, 0.0)],
               [TensorAccess("l.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=32)
    rec.record("eltwise", "a", "forward", [TensorAccess("a.z", m * n, 32, 0.0)], [TensorAccess("a.y", m * n, 8, 0.0)],
               op="shift_round_clip", shift=3, rounding="half_even")
    rec.record("reduce", "l", "forward", [TensorAccess("l.z", m * n, 32, 0.0)], [], op="max_abs")
    trace = rec.trace("t", "wage", m, {})
    for mapping in ("fixed", "energy"):
        timing, _ = simulate(trace, _hw(kbytes=[64, 64, 64], mapping=mapping))
        assert timing.ops[1].bound != "fused", mapping
    _, no_reuse = simulate(_gemm(m, n, k), _hw(kbytes=[64, 64, 64]))   # sanity: a lone GEMM still simulates
    assert no_reuse.dram_write_bytes == 4 * m * n


@pytest.mark.parametrize("workload, hw_name, batch", [("lenet5_wage", "edge_8x8", 4), ("lenet5_wage", "fp32_16x16", 4),
                                                      ("mlp2_nitro", "nitro_16x16", 4), ("vgg_small_wage", "edge_8x8", 2)])
def test_what_is_kept_on_chip_always_fits_beside_the_working_set(workload, hw_name, batch):
    """At every op the tensors kept on chip plus the op's working set fit each bank (an op's own
    on-chip operands leave, stashed, when its mapping needs the room)."""
    hw = load_hardware(f"hwconfigs/{hw_name}.yaml")
    spec = load_workload(f"workloads/{workload}.yaml")
    trace = record_trace(spec, load_dataset(), None if hw.array.datatype == "fp32" else hw.numerics_for(spec.algorithm),
                         batch)
    if hw.array.datatype == "fp32":
        trace = trace.at_width(32)
    _, placed, working = place_step(trace, hw, plan_step(trace, hw))
    capacity = {b.name: b.capacity_bytes for b in hw.banks}
    for i, p in placed.items():
        for bank, kept in p.kept_bytes.items():
            assert kept + min(working[i].get(bank, 0), capacity[bank]) <= capacity[bank] or kept == 0, (i, bank)


def test_state_that_ends_the_step_on_chip_without_starting_there_is_written_through():
    """A stored weight that the step reads from DRAM and then keeps and updates on chip would be lost
    to the next step, which starts without it: its update writes it to DRAM. Every state tensor
    either starts and ends on chip or reaches DRAM (small banks make both cases occur)."""
    base = load_hardware("hwconfigs/nitro_16x16.yaml")
    hw = hardware_from_mapping({**base.to_dict(), "sram": {"banks": [
        {**b, "kbytes": 16} for b in base.to_dict()["sram"]["banks"]]}}, "x")
    trace = _real_trace("workloads/mlp2_nitro.yaml", "nitro_d", hw, 4)
    placement, placed, _ = place_step(trace, hw, plan_step(trace, hw))
    outcomes = set()
    for t in placement.state:
        started = t in placement.start
        ended = t in placement.kept and t in placed[placement.last_write[t]].writes_on_chip
        assert ended <= started, t     # never only on chip at the end unless the next step starts with it
        outcomes.add((started, ended))
    assert len(outcomes) >= 2


def test_updated_weights_are_never_linked_to_another_layer():
    hw = load_hardware("hwconfigs/nitro_16x16.yaml")
    for workload in ("mlp2_nitro", "mlp3_nitro"):
        spec = load_workload(f"workloads/{workload}.yaml")
        trace = record_trace(spec, load_dataset(), hw.numerics_for(spec.algorithm), 1)
        for op, (reads, _) in zip(trace.ops, tensor_links(trace.ops)):
            for t, identity in zip(op.reads, reads):
                if t.tensor.endswith(".w") or t.tensor.endswith(".w_stored"):
                    assert identity.split(".")[0] == t.tensor.split(".")[0], (op.name, t.tensor, identity)


def test_the_search_maps_an_op_the_fixed_mapping_cannot_hold():
    """A 4 KiB weight bank holds the whole 64x64 weight once, but not two minimal 64x64 tiles: the
    fixed mapping refuses the op, the search maps it."""
    hw = _hw(kbytes=[8, 4, 8], **{"pe_array.rows": 64, "pe_array.cols": 64, "pe_array.dataflow": "ws"})
    trace = _gemm(16, 64, 64)
    timing, _ = simulate(trace, hw)
    assert timing.ops[0].mapping == "searched"
    with pytest.raises(MapError, match="cannot hold one minimal weight tile"):
        simulate(trace, hardware_from_mapping({**hw.to_dict(), "mapping": "fixed"}, "x"))
