"""archsim report from a small stored sweep (and a run folder): figures, CSVs that agree with the store, the page."""
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import archsim.dse as dse
from archsim.cli import main
from archsim.report.build import build_report
from helpers import workload_dict, write_workload

ROOT = Path(__file__).resolve().parent.parent


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A finished 8-point sweep (two datapaths, a varied k_g) and one archsim run folder."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: the per-test private cache is not active yet
        mp.setenv("ARCHSIM_CACHE", str(root / "cache"))
        yield _store(root)


def _store(root):
    wl = write_workload(root, workload_dict(input_shape=(28, 28, 1), batch_size=64, epochs=2))
    spec = root / "s.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "tiny", "workloads": [str(wl)], "hardware": str(ROOT / "hwconfigs" / "edge_8x8.yaml"),
        "axes": {"pe_array.rows": [8, 16], "pe_array.cols": {"same_as": "pe_array.rows"},
                 "dram.type": ["ddr4", "lpddr4"], "numerics[wage].k_g": [6, 8]},
        "objectives": {"maximize": ["final_test_accuracy"], "minimize": ["training_energy_j", "area_mm2"]}}))
    assert main(["sweep", str(spec), "--out", str(root / "sweep"), "--workers", "1", "--quiet"]) == 0
    assert main(["run", "--workload", str(wl), "--hw", str(ROOT / "hwconfigs" / "array_16x16.yaml"),
                 "--out", str(root / "run"), "--quiet"]) == 0
    return root


def test_report_figures_tables_and_page_from_a_stored_sweep(stored, tmp_path):
    out = tmp_path / "rep"
    report = build_report([stored / "sweep"], out)
    names = {f.name for f in report.figures}
    assert {"accuracy_vs_energy", "latency_vs_area", "energy_vs_area", "energy_by_component", "energy_by_phase",
            "cycles_by_phase", "op_bounds", "roofline", "bit_widths", "training_curves"} <= names
    for f in report.figures:
        assert f.png.stat().st_size > 1000 and f.svg.stat().st_size > 1000
        assert _png_size(f.png) == (f.width_px, f.height_px)
        assert f.width_px >= 600 and f.height_px >= 300
    store = dse.load(stored / "sweep")
    points = pd.read_csv(out / "points.csv")
    assert len(points) == len(store) == 8
    merged = points.merge(store, on="point_hash", suffixes=("_csv", "_db"))
    for col in ("final_test_accuracy", "training_energy_j", "area_mm2", "cycles_per_step", "numerics.k_g"):
        assert np.allclose(merged[f"{col}_csv"], merged[f"{col}_db"], rtol=1e-12), col
    front = pd.read_csv(out / "pareto.csv")
    assert set(front.point_hash) == set(dse.pareto(store, maximize=["final_test_accuracy"],
                                                   minimize=["training_energy_j", "area_mm2"]).point_hash)
    by_component = pd.read_csv(out / "by_component.csv")
    sums = by_component.groupby("point_hash")["energy_j_per_step"].sum()
    assert np.allclose(sums.loc[store.point_hash], store.set_index("point_hash").energy_j_per_step, rtol=1e-9)
    assert {"pe_array", "sram.input", "sram.weight", "sram.output", "dram"} <= set(by_component.component)
    by_phase = pd.read_csv(out / "by_phase.csv")
    cycles = by_phase.groupby("point_hash")["cycles_per_step"].sum()
    assert (cycles.loc[store.point_hash].to_numpy() == store.cycles_per_step.to_numpy()).all()
    mappings = pd.read_csv(out / "mappings.csv", keep_default_na=False)
    assert set(mappings.point_hash) == set(store.point_hash)
    assert {"searched", "fixed"} >= set(mappings["mapping"]) and "searched" in set(mappings["mapping"])
    assert (mappings.dram_bytes == mappings.dram_over_compulsory * mappings.compulsory_dram_bytes).where(
        mappings.compulsory_dram_bytes > 0, True).all() or np.allclose(
        mappings.dram_bytes[mappings.compulsory_dram_bytes > 0],
        (mappings.dram_over_compulsory * mappings.compulsory_dram_bytes)[mappings.compulsory_dram_bytes > 0])
    assert mappings.loop_order.str.fullmatch(r"[mnk]>[mnk]>[mnk]").all()
    page = (out / "index.html").read_text()
    assert "Findings" in page and "Best accuracy" in page and page.count("<img") == len(report.figures)


def test_runs_and_sweeps_report_together(stored, tmp_path):
    report = build_report([stored / "sweep", stored / "run"], tmp_path / "rep")
    points = pd.read_csv(tmp_path / "rep" / "points.csv")
    assert len(points) == 9 and report.points == 9
    run = points[points.source == str(stored / "run")].iloc[0]
    assert run["pe_array.rows"] == 16 and run["dram.type"] == "ddr4"  # a run's result has the sweep's columns


def test_the_report_command_never_overwrites_without_force(stored, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(stored / "sweep"), "--out", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    assert main(["report", str(stored / "sweep"), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(stored / "sweep"), "--out", str(out), "--force"]) == 0
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "neither a sweep" in capsys.readouterr().err
