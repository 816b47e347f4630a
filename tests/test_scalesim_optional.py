"""Optional: archsim's SCALE-Sim counting mode against the real SCALE-Sim 3.0 (PyPI ``scalesim``).

Skipped unless ``scalesim`` is importable; the project's own venv does not install it.
To run it, use a separate venv (SCALE-Sim 3.0.0 crashes with numpy >= 2.4):

    python3.11 -m venv /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim "numpy<2.4" pytest hypothesis pyyaml simpy
    PYTHONPATH=. /tmp/ssvenv/bin/python -m pytest tests/test_scalesim_optional.py

SCALE-Sim runs tiny GEMM layers (``-i gemm`` topology) and conv layers (its own
im2col, no padding) on 4x4, 8x8 and 8x16 arrays in the three dataflows, with SRAMs that
hold every operand and a high DRAM bandwidth, so that it reports no stalls. Its
COMPUTE_REPORT.csv "Total Cycles" must equal :func:`scalesim_gemm_cycles` exactly.
"""
from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

pytest.importorskip("scalesim")

from archsim.hw.scalesim_driver import run_scalesim
from archsim.hw.systolic import DATAFLOWS, scalesim_gemm_cycles


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


if _version(importlib.metadata.version("scalesim")) <= (3, 0, 0) and _version(np.__version__) >= (2, 4):
    pytest.skip("scalesim 3.0.0 crashes with numpy >= 2.4 (int() of a 1-element array, SCALE-Sim#160); "
                "install numpy<2.4 next to it", allow_module_level=True)

# SCALE-Sim 3.0.0 converts 1-element arrays with int(), deprecated since numpy 1.25
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:scalesim.*")

ARRAYS = [(4, 4), (8, 8), (8, 16)]

# (name, M, N, K): partial folds in each mapped dimension, degenerate M/N/K = 1, one exact fit
GEMM_LAYERS = [
    ("square8", 8, 8, 8),
    ("tall", 20, 5, 7),
    ("wide", 3, 19, 6),
    ("deep", 6, 4, 33),
    ("ragged", 13, 11, 9),
    ("gemv_m1", 1, 12, 10),
    ("outer_k1", 9, 10, 1),
    ("matvec_n1", 10, 1, 12),
]

# (name, IFMAP H, IFMAP W, filter H, filter W, channels, filters, stride): SCALE-Sim's conv
# mode, no padding; as a GEMM M = output pixels, N = filters, K = filter H * W * channels
CONV_LAYERS = [
    ("conv3x3", 8, 8, 3, 3, 2, 4, 1),
    ("conv3x3_s2", 9, 9, 3, 3, 1, 3, 2),
    ("conv2x3_rect", 6, 7, 2, 3, 3, 5, 1),
    ("fc_as_conv", 1, 1, 1, 1, 20, 10, 1),
]

# run_scalesim's defaults: 64 kB per operand (every operand here is < 1 kB, so all of it is
# prefetched) and 64 words/cycle for ifmap, filter and the ofmap drain: no stalls


def conv_as_gemm(h: int, w: int, r: int, s: int, c: int, nf: int, stride: int) -> tuple[int, int, int]:
    """(M, N, K) of a no-padding convolution in SCALE-Sim's im2col view."""
    out_h, out_w = (h - r) // stride + 1, (w - s) // stride + 1
    return out_h * out_w, nf, r * s * c


@pytest.mark.parametrize("rows,cols", ARRAYS, ids=[f"{r}x{c}" for r, c in ARRAYS])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_scalesim_total_cycles_match_closed_form(dataflow, rows, cols, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = []  # (layer name, (M, N, K), SCALE-Sim report row)
    gemm_report = run_scalesim(tmp_path / "gemm", dataflow, rows, cols,
                               [f"{name}, {m}, {n}, {k}" for name, m, n, k in GEMM_LAYERS], gemm=True)
    assert len(gemm_report) == len(GEMM_LAYERS)
    cases += [(name, (m, n, k), rep) for (name, m, n, k), rep in zip(GEMM_LAYERS, gemm_report)]
    conv_report = run_scalesim(tmp_path / "conv", dataflow, rows, cols,
                               [", ".join(map(str, layer)) for layer in CONV_LAYERS], gemm=False)
    assert len(conv_report) == len(CONV_LAYERS)
    cases += [(layer[0], conv_as_gemm(*layer[1:]), rep) for layer, rep in zip(CONV_LAYERS, conv_report)]

    mismatches = []
    for name, (m, n, k), rep in cases:
        got, stalls = int(rep["Total Cycles"]), int(rep["Stall Cycles"])
        want = scalesim_gemm_cycles(dataflow, m, n, k, rows, cols)
        if got != want or stalls != 0:
            mismatches.append(f"{name} M={m} N={n} K={k}: SCALE-Sim {got} cycles, {stalls} stalls; "
                              f"archsim {want}")
    assert not mismatches, f"{dataflow} {rows}x{cols}:\n" + "\n".join(mismatches)
