"""Tiles as runs: the tree of repetitions expands to exactly the per-tile lists, indexes them,
names their periods truthfully, and stays small however large the op."""
from __future__ import annotations

import random

import pytest
import yaml

from archsim.config.hardware import hardware_from_mapping
from archsim.hw.mapper import count_mapped_tiles, count_tiles, tile_mapping, tile_op
from archsim.hw.mapping import DIMS, ORDERS, Mapping, block_lengths, problem_of
from archsim.hw.runs import fixed_runs, mapping_runs
from archsim.trace import TensorAccess, TraceRecorder


def _hw(rng: random.Random, dataflow: str):
    data = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    data["pe_array"].update(rows=rng.randint(2, 9), cols=rng.randint(2, 9), dataflow=dataflow)
    data["sram"]["banks"] = [{"name": o, "kbytes": rng.choice([1, 2, 8, 64]), "word_bits": 64, "ports": 1,
                              "holds": [o]} for o in ("input", "weight", "output")]
    return hardware_from_mapping(data, "test.yaml")


def _op(rng: random.Random, m: int, n: int, k: int):
    conv = rng.random() < 0.4
    rec = TraceRecorder()
    a = max(1, m * k // 9) if conv else m * k
    rec.record("conv2d" if conv else "gemm", "l", "forward",
               [TensorAccess("l.x", a, rng.choice([2, 4, 8]), 0.0), TensorAccess("l.w", k * n, rng.choice([2, 8]), 0.0)],
               [TensorAccess("l.z", m * n, 32, 0.0)], m=m, n=n, k=k, acc_bits=rng.choice([24, 32]))
    return rec.trace("t", "wage", m, {}).ops[0]


@pytest.mark.parametrize("seed", range(40))
def test_the_runs_of_a_searched_mapping_expand_to_its_tiles(seed):
    rng = random.Random(seed)
    hw = _hw(rng, rng.choice(["os", "ws", "is"]))
    op = _op(rng, rng.randint(1, 70), rng.randint(1, 40), rng.randint(1, 40))
    pr = problem_of(op, hw, 8)
    units = (hw.array.rows, hw.array.cols, 1)
    lengths = {d: block_lengths(e, u, every=True) for d, e, u in zip(DIMS, pr.extent, units)}
    mapping = Mapping(rng.choice(ORDERS), tuple(rng.choice(lengths[d]) for d in DIMS),
                      tuple(o for o in ("input", "weight") if rng.random() < 0.3))
    result = rng.choice([pr.compulsory[2], max(1, pr.compulsory[2] // 4)])   # as is, or pooled on the way out
    fused = tuple(rng.choice([op.params["m"] * op.params["n"], max(1, op.params["m"] * op.params["n"] // 4)])
                  for _ in range(rng.randint(0, 2)))
    run = mapping_runs(op, hw, mapping, result, fused)
    tiles = tile_mapping(op, hw, mapping, result, fused)
    assert run.expand() == tiles
    assert run.length == len(tiles) == count_mapped_tiles(op, hw, mapping)
    for index in rng.sample(range(len(tiles)), min(30, len(tiles))):
        assert run.tile(index) == tiles[index]
        for start, period, end in run.spans(index):   # a repetition really repeats
            assert start <= index < end
            for x in (index - period, index + period):
                if start <= x < end:
                    assert tiles[x] == tiles[index]


@pytest.mark.parametrize("seed", range(25))
def test_the_runs_of_the_fixed_mapping_expand_to_its_tiles(seed):
    rng = random.Random(seed)
    hw = _hw(rng, rng.choice(["os", "ws", "is"]))
    op = _op(rng, rng.randint(1, 90), rng.randint(1, 40), rng.randint(1, 60))
    try:
        tiles = tile_op(op, hw)
    except ValueError:   # a bank too small for one minimal tile: no runs either
        with pytest.raises(ValueError):
            fixed_runs(op, hw)
        return
    run = fixed_runs(op, hw)
    assert run.expand() == tiles and run.length == count_tiles(op, hw)


def test_the_tree_stays_small_however_large_the_op():
    rng = random.Random(1)
    hw = _hw(rng, "ws")
    op = _op(random.Random(2), 4096, 4096, 4096)
    pr = problem_of(op, hw, 8)
    mapping = Mapping(("stream", "cols", "rows"), (4 * hw.array.rows, 2 * hw.array.cols, 100), ())
    run = mapping_runs(op, hw, mapping, pr.compulsory[2])
    assert run.length == count_mapped_tiles(op, hw, mapping) > 10_000_000
    assert run.nodes() < 400
    assert fixed_runs(op, hw).nodes() < 100
