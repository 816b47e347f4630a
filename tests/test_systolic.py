"""Systolic-array timing: the cycle-level functional model and the closed forms agree exactly."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from archsim.hw.functional import simulate_tile
from archsim.hw.systolic import DATAFLOWS, folds, map_tile, scalesim_gemm_cycles, tile_cycles


@st.composite
def tiles(draw):
    rows, cols = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    dataflow = draw(st.sampled_from(DATAFLOWS))
    # draw the mapped extents so that the tile fits, then translate back to M, N, K
    r, c, t = draw(st.integers(1, rows)), draw(st.integers(1, cols)), draw(st.integers(1, 12))
    m, n, k = {"os": (r, c, t), "ws": (t, c, r), "is": (c, t, r)}[dataflow]
    return dataflow, rows, cols, m, n, k


@given(tiles(), st.integers(0, 2 ** 32 - 1))
def test_functional_model_matches_closed_form_and_computes_exactly(tile, seed):
    dataflow, rows, cols, m, n, k = tile
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    c, cycles = simulate_tile(dataflow, a, b, rows, cols)
    assert c.tolist() == ref.matmul(a.tolist(), b.tolist())
    assert cycles == tile_cycles(dataflow, m, n, k, rows, cols)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_full_tiles_match_the_published_systolic_formulas(dataflow):
    rows, cols, t = 8, 6, 11
    m, n, k = {"os": (rows, cols, t), "ws": (t, cols, rows), "is": (cols, t, rows)}[dataflow]
    want = rows + cols + t - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    assert tile_cycles(dataflow, m, n, k, rows, cols) == want
    assert tile_cycles(dataflow, m, n, k, rows, cols, "scalesim") == want


def test_scalesim_totals_for_gemm_64_cubed_on_8x16():
    # SCALE-Sim 3.0.0's reported Total Cycles (measured, see docs/scalesim.md)
    assert scalesim_gemm_cycles("os", 64, 64, 64, 8, 16) == 2751
    assert scalesim_gemm_cycles("ws", 64, 64, 64, 8, 16) == 3007
    assert scalesim_gemm_cycles("is", 64, 64, 64, 8, 16) == 3007
    assert folds("ws", 64, 64, 64, 8, 16) == 8 * 4


def test_partial_tiles_cost_less_than_scalesim_charges():
    assert tile_cycles("ws", 10, 3, 2, 8, 8) < tile_cycles("ws", 10, 3, 2, 8, 8, "scalesim")
    assert map_tile("is", 5, 7, 3).cols == 5


def test_tile_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="needs 9x4 PEs"):
        tile_cycles("ws", 3, 4, 9, 8, 8)
