"""The report's figures (archsim.report.figures), on small synthetic results (no sweep is run):
every figure is written as a PNG of its declared size and an SVG that parses, captions say how
to read it, figures without data are skipped, and the same data give byte-identical files."""
from __future__ import annotations

import struct
import zlib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from archsim.report.data import ReportData, ReportError  # noqa: E402
from archsim.report.figures import Figure, colours_for, datapath_label, write_figures  # noqa: E402

ALL = ["accuracy_vs_energy", "latency_vs_area", "energy_vs_area", "energy_by_component", "energy_by_phase",
       "cycles_by_phase", "op_bounds", "roofline", "tradeoff_front", "bit_widths", "training_curves"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

WAGE_OPS = [  # (op, macs per unit, main unit)
    ("conv1/forward/conv2d/0", 8e7, "compute"), ("conv1/forward/shift_round_clip/1", 0, "shift_align"),
    ("fc3/forward/gemm/2", 2e7, "sram_port"), ("fc3/loss/subtract_target/3", 0, "shift_align"),
    ("fc3/input_grad/gemm/4", 2e7, "dram"), ("fc3/weight_grad/gemm/5", 2e7, "sram_port"),
    ("conv1/weight_grad/conv2d/6", 8e7, "compute"), ("fc3/update/stochastic_round/7", 0, "dram"),
]
NITRO_OPS = [
    ("fc1/forward/gemm/0", 1e7, "sram_port"), ("fc1/forward/nitro_relu/1", 0, "shift_align"),
    ("fc1_head/local_head/gemm/2", 1e5, "compute"), ("out/loss/subtract_target/3", 0, "shift_align"),
    ("fc1/weight_grad/gemm/4", 1e7, "dram"), ("fc1/update/divide_decay_subtract/5", 0, "dram"),
]
UNITS = {"compute": "compute_cycles_by_op", "dram": "dram_cycles_by_op", "shift_align": "shift_align_cycles_by_op",
         "sram_port": "sram_port_cycles_by_op"}


def synthetic(k_g_values=(4, 8), with_breakdowns: bool = True, copies: int = 1, seed: int = 0) -> ReportData:
    """Two algorithms on two hardware families and three array sizes, WAGE trained at each k_g,
    one failed point; breakdowns per component, phase and op, and per-epoch accuracy curves."""
    rng = np.random.default_rng(seed)
    rows, long = [], []
    i = 0
    trainings = [("lenet5-wage", "wage", 2, 8, kg, 8) for kg in k_g_values] + [("mlp2-nitro", "nitro_d", 16, 8, 32, 8)]
    for workload, alg, kw, ka, kg, ke in trainings:
        final = {"wage": 0.6 + 0.03 * kg, "nitro_d": 0.7}[alg]
        for family, dataflow in (("array-16x16", "os"), ("edge-8x8", "ws")):
            for size in (8, 16, 32):
                for copy in range(copies):
                    i += 1
                    h = f"{zlib.crc32(str(i).encode()):08x}{i:08x}"
                    scale = (kg / 8) * (32 / size) * (1 + 0.1 * copy + 0.05 * rng.random())
                    e_step = (0.05 if alg == "wage" else 0.002) * scale
                    area = 0.1 + 0.0006 * size * size + (0.05 if family == "edge-8x8" else 0.0) + 0.01 * copy
                    rows.append({
                        "point_hash": h, "status": "done", "workload": workload, "algorithm": alg,
                        "hardware": f"{family}-{h[:8]}", "group_key": f"{workload}-{kg}",
                        "pe_array.rows": size, "pe_array.cols": size, "pe_array.dataflow": dataflow,
                        "pe_array.datatype": "int", "pe_array.operand_bits": 16, "dram.bytes_per_cycle": 16,
                        "numerics.k_w": kw, "numerics.k_a": ka, "numerics.k_g": kg, "numerics.k_e": ke,
                        "numerics.accumulator_bits": 32, "axis:pe_array.rows": size, "axis:pe_array.cols": size,
                        "final_test_accuracy": final, "best_test_accuracy": final, "epochs": 3, "batch": 128,
                        "cycles_per_step": 1e6 * scale, "latency_s_per_epoch": 3.0 * scale,
                        "energy_j_per_step": e_step, "training_energy_j": e_step * 96, "area_mm2": area,
                    })
                    if not with_breakdowns:
                        continue
                    comps = {"pe_array": 0.2, "sram.input": 0.1, "sram.weight": 0.1, "sram.output": 0.05,
                             "dram": 0.5, "shift_align": 0.04, "random": 0.01}
                    long += [(h, "energy_j_per_step_by_component", k, v * e_step) for k, v in comps.items()]
                    phases = {"forward": 0.3, "input_grad": 0.25, "weight_grad": 0.35, "loss": 0.01, "update": 0.09}
                    if alg == "nitro_d":
                        phases = {"forward": 0.3, "local_head": 0.1, "weight_grad": 0.4, "loss": 0.01, "update": 0.19}
                    long += [(h, "energy_j_per_step_by_phase", k, v * e_step) for k, v in phases.items()]
                    long += [(h, "cycles_per_step_by_phase", k, v * 1e6 * scale) for k, v in phases.items()]
                    for op, macs, unit in (WAGE_OPS if alg == "wage" else NITRO_OPS):
                        busy = {u: 0.0 for u in UNITS}
                        base = macs / (size * size) if macs else 5e3
                        busy[unit] = base * 1.5
                        for other in UNITS:
                            if other != unit and macs:
                                busy[other] = base * rng.uniform(0.2, 0.9)
                        long.append((h, "cycles_per_step_by_op", op, sum(busy.values()) * 0.8))
                        long += [(h, UNITS[u], op, v) for u, v in busy.items()]
                        if macs:
                            long.append((h, "macs_by_op", op, macs))
                    epochs = [final * f for f in (0.5, 0.8, 1.0)] if alg == "wage" else [0.1, 0.4, final]
                    long += [(h, "test_accuracy_by_epoch", str(e + 1), a) for e, a in enumerate(epochs)]
    rows.append({"point_hash": "f" * 16, "status": "failed", "workload": "lenet5-wage", "algorithm": "wage",
                 "hardware": "array-16x16-ffffffff", "final_test_accuracy": np.nan, "training_energy_j": np.nan})
    points = pd.DataFrame(rows)
    breakdowns = pd.DataFrame(long, columns=["point_hash", "grp", "key", "value"])
    return ReportData(points, breakdowns, [{"kind": "sweep", "name": "synthetic", "path": "-"}],
                      ("final_test_accuracy",), ("training_energy_j", "area_mm2"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, list[Figure]]:
    out = tmp_path_factory.mktemp("report")
    return out, write_figures(synthetic(), out)


def test_every_figure_is_written(written):
    out, figures = written
    assert [f.name for f in figures] == ALL
    for f in figures:
        assert f.png == out / "figures" / f"{f.name}.png" and f.svg == out / "figures" / f"{f.name}.svg"
        assert f.title.strip() and len(f.caption.strip()) > 40 and f.caption.rstrip().endswith(".")
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        [f"{n}.png" for n in ALL] + [f"{n}.svg" for n in ALL])   # no temporary file left behind


def test_png_of_declared_size_and_svg_parses(written):
    from matplotlib.image import imread
    _, figures = written
    for f in figures:
        data = f.png.read_bytes()
        assert png_size(data) == (f.width_px, f.height_px), f.name
        assert imread(f.png).shape[:2] == (f.height_px, f.width_px)
        assert b"Software" not in data and b"matplotlib" not in data.lower()
        root = ET.fromstring(f.svg.read_bytes())
        assert root.tag.endswith("svg")
        assert b"<dc:date>" not in f.svg.read_bytes()
    sizes = {f.name: (f.width_px, f.height_px) for f in figures}
    assert sizes["accuracy_vs_energy"] == (990, 550)


def test_same_data_same_bytes(written, tmp_path):
    _, first = written
    second = write_figures(synthetic(), tmp_path)
    assert [f.name for f in second] == [f.name for f in first]
    for a, b in zip(first, second):
        assert a.png.read_bytes() == b.png.read_bytes(), a.name
        assert a.svg.read_bytes() == b.svg.read_bytes(), a.name
        assert (a.title, a.caption, a.width_px, a.height_px) == (b.title, b.caption, b.width_px, b.height_px)


def test_figures_without_data_are_skipped(tmp_path):
    # one k_g only: nothing varied; no breakdowns: no bars, no per-point figures, no curves
    figures = write_figures(synthetic(k_g_values=(8,), with_breakdowns=False), tmp_path)
    assert [f.name for f in figures] == ["accuracy_vs_energy", "latency_vs_area", "energy_vs_area", "tradeoff_front"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        f"{f.name}.{ext}" for f in figures for ext in ("png", "svg"))


def test_no_priced_point_gives_no_figure(tmp_path):
    data = synthetic(with_breakdowns=False)
    data.points["status"] = "failed"
    assert write_figures(data, tmp_path) == []
    assert not (tmp_path / "figures").exists()


def test_chosen_point(written, tmp_path):
    from archsim.report import figures as F
    _, figures = written
    data = synthetic()
    done = data.done
    # default: the front point with the best accuracy (WAGE k_g=8), then the least energy
    best = done[done["numerics.k_g"] == 8].sort_values("training_energy_j").iloc[0]
    for name in ("cycles_by_phase", "op_bounds", "roofline"):
        assert f"lenet5-wage on {best['hardware']}" in {f.name: f for f in figures}[name].caption
    other = done[done["algorithm"] == "nitro_d"].iloc[2]
    for ref in (other["point_hash"], other["point_hash"][:9], other["hardware"]):
        assert F._choose_point(F._context(data, ref))["point_hash"] == other["point_hash"]
    first = done["point_hash"].str[0].value_counts()
    shared = first.index[first > 1][0]          # a one-character prefix of several hashes
    with pytest.raises(ReportError, match="no priced point"):
        write_figures(data, tmp_path, point="nonexistent")
    with pytest.raises(ReportError, match="matches"):
        write_figures(data, tmp_path, point=shared)


def test_labels_and_colours():
    assert datapath_label({"algorithm": "wage", "pe_array.datatype": "int", "numerics.k_w": 2, "numerics.k_a": 8,
                           "numerics.k_g": 8, "numerics.k_e": 8}) == "WAGE 2-8-8-8"
    assert datapath_label({"algorithm": "nitro_d", "numerics.k_w": 16, "numerics.k_a": 8, "numerics.k_g": 32,
                           "numerics.k_e": 8}) == "NITRO-D"
    assert datapath_label({"algorithm": "wage", "pe_array.datatype": "fp32", "numerics.k_w": 2}) == "float32"
    a = colours_for(["WAGE 2-8-8-8", "NITRO-D", "WAGE 2-8-4-8", "WAGE 2-8-6-8"])
    b = colours_for(["WAGE 2-8-4-8", "NITRO-D", "WAGE 2-8-8-8"])
    assert a["WAGE 2-8-8-8"] == b["WAGE 2-8-8-8"] and a["NITRO-D"] == b["NITRO-D"]
    assert len(set(a.values())) == len(a)
