"""Paper studies: unions of grids, seed axes, several base configs, untrained (price-only) points,
the training-memory count, the NITRO-D authors' op-count model, and the study tables of a report."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from archsim.config import ConfigError, load_workload
from archsim.config.hardware import load_hardware
from archsim.cost.opcount import notebook_model, same_ops_energy_j
from archsim.data import load_dataset
from archsim.dse import breakdowns, load
from archsim.dse.points import expand
from archsim.dse.spec import load_sweep
from archsim.dse.sweep import run_sweep
from archsim.report.build import build_report
from archsim.report.data import ReportData
from archsim.report.studies import kw_ka_grid, width_slices, width_table
from archsim.run import training_memory_bytes
from archsim.train import record_trace

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "hwconfigs"
WAGE = ROOT / "workloads" / "lenet5_wage.yaml"
MLP2 = ROOT / "workloads" / "mlp2_nitro.yaml"


def _spec(tmp_path: Path, name: str = "s.yaml", **data) -> Path:
    data = {"workloads": [str(WAGE)], "hardware": str(HW / "array_16x16.yaml"), **data}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_union_of_grids_with_seed_axes_on_several_base_configs(tmp_path):
    spec = load_sweep(_spec(tmp_path, hardware=[str(HW / "edge_8x8.yaml"), str(HW / "tpu_32x32.yaml")],
                            axes={"dram.type": ["ddr4"]},
                            grids=[{"numerics[wage].k_g": [6, 8], "seed": [1, 2]},
                                   {"numerics[wage].k_e": [6, 8]}]))
    points = expand(spec)
    # per base: k_g grid 2 x 2, k_e grid 2 (k_e = 8 at seed 1 is the k_g = 8, seed 1 point): 5 distinct
    assert len(points) == 2 * 5
    seen = {(p.hardware.name.rsplit("-", 1)[0], p.hardware.numerics_for("wage").k_g,
             p.hardware.numerics_for("wage").k_e, p.workload.training.seed) for p in points}
    assert ("edge-8x8", 6, 8, 2) in seen and ("tpu-32x32", 8, 6, 1) in seen and ("tpu-32x32", 6, 6, 1) not in seen
    assert all(dict(p.values)["dram.type"] == "ddr4" for p in points)


@pytest.mark.parametrize("extra, key_path", [
    ({"grids": [{"pe_array.rows": [8]}], "axes": {"pe_array.rows": [16]}}, "grids[0].pe_array.rows"),
    ({"grids": []}, "grids"),
    ({"axes": {"seed": [1, "two"]}}, "axes.seed"),
    ({"axes": {"seed": [1, 2]}, "search": {"method": "tpe", "trials": 3}}, "axes.seed"),
    ({"grids": [{"pe_array.rows": [8]}], "search": {"method": "tpe", "trials": 3}}, "grids"),
    ({"hardware": [str(HW / "edge_8x8.yaml"), "nope.yaml"]}, "hardware[1]"),
    ({"reference": [1, 2]}, "reference"),
])
def test_study_spec_mistakes_name_the_key(tmp_path, extra, key_path):
    with pytest.raises(ConfigError) as err:
        load_sweep(_spec(tmp_path, **extra))
    assert err.value.key_path == key_path


@pytest.fixture(scope="module")
def mini():
    return load_dataset("fashion_mnist", "mini")


def _nitro_workload(tmp_path: Path, widths: list[int]) -> Path:
    data = yaml.safe_load(MLP2.read_text())
    data["network"]["layers"] = [{"type": "fc", "name": f"fc{i + 1}", "out_features": w} for i, w in enumerate(widths)]
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("widths, nitro_mj, fp_mj, nitro_mb, fp_mb", [
    ([100, 50, 10], 0.0527, 0.0747, 0.544, 0.891),                 # the notebook's printed MLP1 ...
    ([200, 100, 50, 10], 0.114, 0.162, 1.069, 1.649),              # ... MLP2 ...
    ([1024, 1024, 1024, 10], 1.813, 2.675, 10.3, 40.1),            # ... and MLP3 (Adam on the float side)
])
def test_the_op_count_model_reproduces_the_authors_notebook(tmp_path, mini, widths, nitro_mj, fp_mj, nitro_mb, fp_mb):
    w = load_workload(_nitro_workload(tmp_path, widths))
    hw = load_hardware(HW / "nitro_16x16.yaml")
    trace = record_trace(w, mini, hw.numerics_for("nitro_d"), 64)
    nitro, fp = notebook_model(trace, nitro=True), notebook_model(trace, nitro=False)
    digits = lambda x: 3 - int(math.floor(math.log10(abs(x)))) - 1  # noqa: E731  (as printed: 3-4 figures)
    for got, want in ((nitro.energy_j * 1e3, nitro_mj), (fp.energy_j * 1e3, fp_mj),
                      (nitro.memory_bytes / 1e6, nitro_mb), (fp.memory_bytes / 1e6, fp_mb)):
        assert round(got, digits(want)) == pytest.approx(want, abs=10 ** -digits(want) * 1.01)
    # the same prices on the ops of the trace: one multiply and one add per MAC, 2 + 2 per weight update
    macs = sum(op.macs for op in trace.ops)
    params = sum(op.reads[0].elements for op in trace.ops if op.kind == "update")
    assert same_ops_energy_j(trace, "int") == pytest.approx((macs + 2 * params) * 3.2e-12)
    assert same_ops_energy_j(trace, "fp32") == pytest.approx((macs + 2 * params) * 4.6e-12)


def test_training_memory_counts_weights_kept_activations_and_the_largest_gradient(mini):
    w = load_workload(MLP2)
    trace = record_trace(w, mini, load_hardware(HW / "nitro_16x16.yaml").numerics_for("nitro_d"), 64)
    params = 784 * 200 + 200 * 100 + 100 * 50 + 50 * 10 + 10 * (200 + 100 + 50)       # heads included
    m = training_memory_bytes(trace)
    assert m == {"weights": params * 2, "activations": 64 * (784 + 200 + 100 + 50), "gradient_peak": 784 * 200 * 4}
    wide = training_memory_bytes(trace.at_width(32))
    assert wide == {"weights": params * 4, "activations": 64 * (784 + 200 + 100 + 50) * 4,
                    "gradient_peak": 784 * 200 * 4}


def test_an_untrained_sweep_pairs_int_and_fp32_and_resume_recomputes_nothing(tmp_path):
    spec_path = _spec(tmp_path, workloads=[{"file": str(MLP2), "epochs": 0}], hardware=str(HW / "nitro_16x16.yaml"),
                      dataset="mini", axes={"pe_array.datatype": ["int", "fp32"]},
                      objectives={"minimize": ["energy_j_per_step", "training_memory_bytes"]})
    spec = load_sweep(spec_path)
    first = run_sweep(spec, tmp_path / "out")
    assert first.by_status == {"done": 2}
    df = load(tmp_path / "out")
    assert df["final_test_accuracy"].isna().all() and (df["training_energy_j"] == 0).all()
    assert (df["training_wall_s"] == 0).all()
    again = run_sweep(spec, tmp_path / "out", resume=True)
    assert again.skipped == again.total == 2 and again.by_status == {}
    b = breakdowns(tmp_path / "out")
    assert set(b[b["grp"] == "opcount_model"]["key"]) >= {"notebook_nitro_energy_j", "same_ops_fp32_energy_j"}
    report = build_report([tmp_path / "out"], tmp_path / "report")
    pairs = pd.read_csv(tmp_path / "report" / "study_int_vs_fp32.csv")
    assert len(pairs) == 1
    row = pairs.iloc[0]
    i, f = df[df["pe_array.datatype"] == "int"].iloc[0], df[df["pe_array.datatype"] == "fp32"].iloc[0]
    assert row["energy_saving_pct"] == pytest.approx(100 * (1 - i["energy_j_per_step"] / f["energy_j_per_step"]))
    assert row["memory_saving_pct"] == pytest.approx(100 * (1 - 1071376 / 1660704))
    assert row["notebook_energy_saving_pct"] == pytest.approx(100 * (1 - 0.1143841044 / 0.1624343956))
    assert any(fig.name == "int_vs_fp32" for fig in report.figures)
    assert "Integer vs float32 on the same silicon" in report.index.read_text()


def _study_points() -> ReportData:
    """Points as a store holds them: a k_G study (1 seed), a k_E study (2 seeds) on 2 accelerators."""
    rows = []
    acc = {("g", 4): [0.30], ("e", 4): [0.80, 0.84], ("e", 8): [0.88, 0.86]}   # 2-8-8-8 is in the k_E grid
    for (which, k), accs in acc.items():
        for seed, a in enumerate(accs, start=1):
            for hw, energy in (("edge-8x8", 2e-3), ("tpu-32x32", 1e-3)):
                kg, ke = (k, 8) if which == "g" else (8, k)
                rows.append({"point_hash": f"{which}{k}{seed}{hw}", "status": "done", "workload": "w",
                             "hardware": f"{hw}-0123abcd", "group_key": f"{which}{k}s{seed}",
                             "numerics.k_w": 2, "numerics.k_a": 8, "numerics.k_g": kg, "numerics.k_e": ke,
                             "final_test_accuracy": a, "energy_j_per_step": energy * k / 8,
                             "pe_array.datatype": "int", "axis:seed": seed})
    points = pd.DataFrame(rows).drop_duplicates("point_hash")
    ref = {"source": "paper", "test_error_pct": {"numerics.k_g": {"4": 28.2, "8": 6.78}}}
    return ReportData(points, pd.DataFrame(columns=["point_hash", "grp", "key", "value"]),
                      [{"kind": "sweep", "name": "s", "path": "", "spec": {"reference": ref}}])


def test_width_study_tables_slice_the_grids_and_spread_over_seeds():
    data = _study_points()
    slices = width_slices(data)
    assert set(slices) == {"numerics.k_g", "numerics.k_e"}
    kg = width_table(data, "numerics.k_g", slices["numerics.k_g"]).set_index("k_G")
    assert kg.loc[4, "error_pct_mean"] == pytest.approx(70.0) and kg.loc[4, "paper_error_pct"] == 28.2
    assert kg.loc[8, "seeds"] == 2 and kg.loc[8, "error_pct_mean"] == pytest.approx(13.0)  # the shared 2-8-8-8
    assert kg.loc[4, "energy_mj_per_step:edge-8x8"] == pytest.approx(1.0)
    ke = width_table(data, "numerics.k_e", slices["numerics.k_e"]).set_index("k_E")
    assert ke.loc[4, "seeds"] == 2 and ke.loc[4, "error_pct_mean"] == pytest.approx(18.0)
    assert ke.loc[4, "error_pct_min"] == pytest.approx(16.0) and ke.loc[4, "error_pct_max"] == pytest.approx(20.0)
    assert math.isnan(ke.loc[4, "paper_error_pct"])
    assert kw_ka_grid(data) is None    # k_W and k_A were not varied


def test_the_series_table_compares_workloads_and_datapaths_over_the_hardware():
    rows = []
    for wl, alg, dt, acc in (("m", "wage", "int", 0.87), ("m", "wage", "fp32", 0.88), ("m", "nitro_d", "int", 0.86)):
        for rows_, energy in ((8, 3.0), (16, 1.0), (32, 2.0)):
            rows.append({"point_hash": f"{alg}{dt}{rows_}", "status": "done", "workload": f"{wl}-{alg}",
                         "algorithm": alg, "pe_array.datatype": dt, "hardware": f"hw-{rows_:08x}",
                         "axis:pe_array.rows": rows_, "final_test_accuracy": acc, "epochs": 10,
                         "training_energy_j": energy * (4 if dt == "fp32" else 1), "training_wall_s": 5.0,
                         **({"numerics.k_w": 2, "numerics.k_a": 8, "numerics.k_g": 8, "numerics.k_e": 8}
                            if alg == "wage" else {})})
    data = ReportData(pd.DataFrame(rows), pd.DataFrame(columns=["point_hash", "grp", "key", "value"]), [])
    from archsim.report.studies import series_table
    t = series_table(data).set_index("series")
    assert list(t.index) == ["m-nitro_d · NITRO-D", "m-wage · WAGE 2-8-8-8", "m-wage · float32"]
    wage = t.loc["m-wage · WAGE 2-8-8-8"]
    assert wage["final_test_accuracy_pct"] == pytest.approx(87.0) and wage["points"] == 3
    assert (wage["training_energy_j_min"], wage["training_energy_j_median"], wage["training_energy_j_max"]) == (1, 2, 3)
    assert wage["least_energy_point"] == "pe_array.rows=16"
    assert t.loc["m-wage · float32", "training_energy_j_min"] == 4.0


def test_int_and_fp32_pairs_from_a_store_without_memory_columns():
    """A store written before the training memory was counted still pairs its points (memory NaN)."""
    rows = [{"point_hash": f"p{dt}", "status": "done", "workload": "w", "algorithm": "wage", "hardware": "hw-01234567",
             "pe_array.datatype": dt, "axis:pe_array.datatype": dt, "energy_j_per_step": e,
             "final_test_accuracy": 0.8, "training_energy_j": e, "epochs": 1}
            for dt, e in (("int", 1e-3), ("fp32", 4e-3))]
    from archsim.report.studies import datapath_pairs
    pairs = datapath_pairs(ReportData(pd.DataFrame(rows), pd.DataFrame(columns=["point_hash", "grp", "key", "value"]),
                                      []))
    assert len(pairs) == 1 and pairs["energy_saving_pct"].iloc[0] == pytest.approx(75.0)
    assert math.isnan(pairs["memory_saving_pct"].iloc[0])


def test_the_kw_ka_grid_averages_seeds_at_the_common_k_g_and_k_e():
    rows = []
    for kw, ka, accs in ((2, 4, [0.80, 0.82]), (2, 8, [0.84]), (4, 4, [0.70]), (4, 8, [0.86])):
        for seed, a in enumerate(accs, start=1):
            rows.append({"point_hash": f"{kw}{ka}{seed}", "status": "done", "workload": "w", "hardware": "hw-0123abcd",
                         "group_key": f"{kw}{ka}{seed}", "numerics.k_w": kw, "numerics.k_a": ka, "numerics.k_g": 8,
                         "numerics.k_e": 8, "final_test_accuracy": a, "energy_j_per_step": 1e-3,
                         "pe_array.datatype": "int", "axis:seed": seed})
    rows.append({**rows[0], "point_hash": "other", "group_key": "other", "numerics.k_g": 6, "final_test_accuracy": 0.1})
    data = ReportData(pd.DataFrame(rows), pd.DataFrame(columns=["point_hash", "grp", "key", "value"]), [])
    grid = kw_ka_grid(data).set_index("test accuracy %")
    assert grid.loc["k_W = 2", "k_A = 4"] == pytest.approx(81.0) and grid.loc["k_W = 4", "k_A = 8"] == pytest.approx(86.0)
    assert grid.shape == (2, 2)
