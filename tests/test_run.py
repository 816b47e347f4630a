"""`archsim run`: accuracy beside latency, energy and area; training cached by its numeric key."""
import csv
import dataclasses
import json

import pytest
import yaml

from archsim.cli import main
from archsim.config.hardware import load_hardware
from archsim.data import load_dataset
import archsim.run as run_module
from archsim.run import run
from archsim.train import build_model
from helpers import tiny_spec, workload_dict, write_workload

TINY_28 = {"input_shape": (28, 28, 1)}


@pytest.fixture
def small_data():
    data = load_dataset()
    return dataclasses.replace(data, train_images=data.train_images[:96], train_labels=data.train_labels[:96],
                               test_images=data.test_images[:64], test_labels=data.test_labels[:64])


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))


def test_changing_only_the_array_reuses_the_cached_training(tmp_path, small_data, monkeypatch):
    spec = tiny_spec(tmp_path, **TINY_28)
    hw = load_hardware("hwconfigs/edge_8x8.yaml")
    first = run(spec, hw, small_data)
    assert not first.training_reused
    calls = []
    monkeypatch.setattr("archsim.run.train", lambda *a, **k: calls.append(1))  # must not be called again
    bigger = dataclasses.replace(hw, array=dataclasses.replace(hw.array, rows=16, cols=16), clock_mhz=800)
    second = run(spec, bigger, small_data)
    assert second.training_reused and not calls
    assert second.training.to_json() == first.training.to_json()
    assert second.timing.cycles_per_step != first.timing.cycles_per_step
    assert second.cost.area_mm2 > first.cost.area_mm2


def test_changing_the_numerics_retrains(tmp_path, small_data):
    spec = tiny_spec(tmp_path, **TINY_28)
    hw = load_hardware("hwconfigs/edge_8x8.yaml")
    run(spec, hw, small_data)
    other = dataclasses.replace(hw, datapaths=(("wage", dataclasses.replace(hw.numerics, k_a=6)),))
    assert not run(spec, other, small_data).training_reused
    assert run(spec, other, small_data).training_reused


def test_result_numbers_are_consistent(tmp_path, small_data):
    spec = tiny_spec(tmp_path, **TINY_28)
    result = run(spec, load_hardware("hwconfigs/tpu_32x32.yaml"), small_data)
    s = result.summary()
    assert s["steps_per_epoch"] == 24  # 96 images / batch 4
    assert s["latency_s_per_epoch"] == pytest.approx(24 * s["cycles_per_step"] / 940e6)
    assert s["training_energy_j"] == pytest.approx(s["epochs"] * 24 * s["energy_j_per_step"])
    assert s["avg_power_w"] == pytest.approx(s["energy_j_per_step"] / s["latency_s_per_step"])
    b = result.breakdowns()
    assert sum(b["energy_j_per_step_by_component"].values()) == pytest.approx(s["energy_j_per_step"])
    assert sum(b["energy_j_per_step_by_phase"].values()) == pytest.approx(s["energy_j_per_step"])
    assert sum(b["cycles_per_step_by_phase"].values()) == s["cycles_per_step"]
    assert sum(b["area_mm2_by_component"].values()) == pytest.approx(s["area_mm2"])
    assert all(v > 0 for v in s.values() if isinstance(v, float) and v != s["final_test_accuracy"])


def test_run_command_writes_json_and_one_row_csv(tmp_path, capsys):
    wl = write_workload(tmp_path, workload_dict(**TINY_28, batch_size=64))
    out = tmp_path / "out"
    assert main(["run", "--workload", str(wl), "--hw", "hwconfigs/edge_8x8.yaml", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "training done" in printed and "TOPS/W" in printed and "mm²" in printed
    result = json.loads((out / "result.json").read_text())
    rows = list(csv.DictReader(open(out / "result.csv")))
    assert len(rows) == 1
    for key in ("final_test_accuracy", "best_test_accuracy", "cycles_per_step", "latency_s_per_epoch",
                "training_latency_s", "energy_j_per_step", "energy_j_per_epoch", "training_energy_j", "area_mm2",
                "avg_power_w", "tops_per_w", "energy_j_per_step_by_component.dram", "area_mm2_by_component.pe_array",
                "cycles_per_step_by_phase.forward", "energy_j_per_step_by_phase.weight_grad"):
        assert key in rows[0], key
    assert float(rows[0]["energy_j_per_step"]) == pytest.approx(result["energy_j_per_step"])
    before = (out / "result.json").read_bytes()
    # another hardware point into the same folder is refused, the finished result untouched
    assert main(["run", "--workload", str(wl), "--hw", "hwconfigs/array_16x16.yaml", "--out", str(out),
                 "--quiet"]) == 2
    assert "another configuration" in capsys.readouterr().err
    assert (out / "result.json").read_bytes() == before
    # the same point again: reported as done, nothing recomputed or rewritten
    assert main(["run", "--workload", str(wl), "--hw", "hwconfigs/edge_8x8.yaml", "--out", str(out), "--quiet"]) == 0
    assert "already holds this configuration" in capsys.readouterr().out
    assert (out / "result.json").read_bytes() == before
    # --force replaces it; the training is reused from the cache
    assert main(["run", "--workload", str(wl), "--hw", "hwconfigs/array_16x16.yaml", "--out", str(out),
                 "--quiet", "--force"]) == 0
    assert "reused from the cache" in capsys.readouterr().out
    assert json.loads((out / "result.json").read_text())["hardware"] == "array-16x16"


@pytest.mark.parametrize("change,expected", [({"technology_nm": 10}, "technology_nm: technology node 10 nm"),
                                             ({"dram": {"type": "gddr6", "bytes_per_cycle": 8}}, "dram.type: DRAM type 'gddr6'")])
def test_hardware_the_cost_model_cannot_price_is_a_clear_error(tmp_path, capsys, change, expected):
    data = yaml.safe_load(open("hwconfigs/edge_8x8.yaml"))
    data.update(change)
    hw = tmp_path / "hw.yaml"
    hw.write_text(yaml.safe_dump(data))
    wl = write_workload(tmp_path, workload_dict(**TINY_28))
    assert main(["run", "--workload", str(wl), "--hw", str(hw), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(hw) in err and expected in err and "known" in err and "Traceback" not in err


def test_the_priced_step_is_taken_with_the_trained_weights(tmp_path, small_data, monkeypatch):
    seen = []
    real = run_module.record_trace
    monkeypatch.setattr(run_module, "record_trace", lambda *a, **k: seen.append(k.get("state")) or real(*a, **k))
    spec = tiny_spec(tmp_path, **TINY_28)
    result = run(spec, load_hardware("hwconfigs/edge_8x8.yaml"), small_data)
    assert seen[-1] is not None  # the first, untrained, step only checks that the point maps
    assert result.training.epochs_run == 1
    model = build_model(spec, "int", load_hardware("hwconfigs/edge_8x8.yaml").numerics)
    model.load_state(seen[-1])
    assert any((a != b).any() for a, b in zip(model.weights().values(),
                                              build_model(spec, "int").weights().values()))
