"""Sweep specs to points: key paths, ranges, coupling, sampling, identities."""
from pathlib import Path

import pytest
import yaml

from archsim.config import ConfigError
from archsim.config.hardware import load_hardware
from archsim.dse.points import expand, set_path
from archsim.dse.spec import load_sweep

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "hwconfigs" / "array_16x16.yaml"
WAGE = ROOT / "workloads" / "lenet5_wage.yaml"
NITRO = ROOT / "workloads" / "mlp2_nitro.yaml"


def _spec(tmp_path, axes, name="s.yaml", **extra):
    data = {"workloads": [str(WAGE)], "hardware": str(BASE), "axes": axes, **extra}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_sweep(path)


def test_set_path_selects_banks_by_name_or_index_and_datapaths_by_algorithm():
    data = load_hardware(BASE).to_dict()
    set_path(data, "sram.banks[ofmap].kbytes", 512)
    set_path(data, "sram.banks[0].ports", 2)
    set_path(data, "numerics[nitro_d].k_w", 12)
    set_path(data, "numerics.random_bits", 8)
    assert data["sram"]["banks"][2]["kbytes"] == 512 and data["sram"]["banks"][0]["ports"] == 2
    assert [d["k_w"] for d in data["numerics"]] == [2, 12]
    assert [d["random_bits"] for d in data["numerics"]] == [8, 8]
    for bad, why in (("sram.banks[nope].kbytes", "no entry named 'nope'"), ("pe_array.rows.x", "not a mapping"),
                     ("sram.banks[7].kbytes", "out of range"), ("memory.size", "no key 'memory'")):
        with pytest.raises(KeyError, match=why):
            set_path(load_hardware(BASE).to_dict(), bad, 1)


def test_ranges_coupling_and_the_grid(tmp_path):
    spec = _spec(tmp_path, {"pe_array.rows": {"log2": [8, 32]}, "pe_array.cols": {"same_as": "pe_array.rows"},
                            "sram.banks[ofmap].kbytes": {"same_as": "pe_array.rows", "times": 16},
                            "clock_mhz": {"range": [400, 800, 200]}})
    points = expand(spec)
    assert len(points) == 3 * 3
    for p in points:
        a = p.hardware.array
        assert a.rows == a.cols and p.hardware.bank_for("output").kbytes == 16 * a.rows
    assert sorted({p.hardware.clock_mhz for p in points}) == [400, 600, 800]
    assert len({p.point_hash for p in points}) == 9 and len({p.hardware.name for p in points}) == 9


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_sampling_is_seeded_and_stays_on_the_axes(tmp_path, method):
    axes = {"pe_array.rows": [8, 16, 32, 64], "clock_mhz": {"range": [100, 1000, 100]}}
    one = expand(_spec(tmp_path, axes, "a.yaml", sampling={"method": method, "samples": 12, "seed": 3}))
    two = expand(_spec(tmp_path, axes, "b.yaml", sampling={"method": method, "samples": 12, "seed": 3}))
    other = expand(_spec(tmp_path, axes, "c.yaml", sampling={"method": method, "samples": 12, "seed": 4}))
    assert [p.point_hash for p in one] == [p.point_hash for p in two]
    assert [p.point_hash for p in one] != [p.point_hash for p in other]
    assert {p.hardware.array.rows for p in one} <= {8, 16, 32, 64}
    if method == "latin_hypercube":  # every stratum of every axis is used: 12 samples over 4 rows, 3 each
        rows = [dict(p.values)["pe_array.rows"] for p in one]
        assert sorted(rows.count(r) for r in (8, 16, 32, 64)) == [3, 3, 3, 3]


def test_identity_ignores_axis_order_and_number_spelling(tmp_path):
    a = expand(_spec(tmp_path, {"clock_mhz": [700], "pe_array.rows": [16]}, "a.yaml"))
    b = expand(_spec(tmp_path, {"pe_array.rows": [16], "clock_mhz": [700.0]}, "b.yaml"))
    c = expand(_spec(tmp_path, {}, "c.yaml"))  # the base point itself
    assert a[0].point_hash == b[0].point_hash == c[0].point_hash


def test_identical_points_are_evaluated_once(tmp_path):
    assert len(expand(_spec(tmp_path, {"pe_array.rows": [16, 16, 16]}))) == 1


def test_a_point_per_workload_each_on_its_datapath(tmp_path):
    spec = _spec(tmp_path, {"numerics[wage].k_g": [6, 8]}, workloads=[str(WAGE), str(NITRO)])
    points = expand(spec)
    wage = {p.hardware.numerics_for("wage").k_g for p in points if p.workload.algorithm == "wage"}
    assert wage == {6, 8} and len(points) == 4


@pytest.mark.parametrize("axes,where", [
    ({"pe_array.rows": [0, 8]}, "axes.pe_array.rows"),
    ({"pe_array.dataflow": ["xs"]}, "axes.pe_array.dataflow"),
    ({"pe_array.rowz": [8]}, "axes.pe_array.rowz"),
    ({"clock_mhz": {"range": [10, 5, 1]}}, "axes.clock_mhz.range"),
    ({"pe_array.cols": {"same_as": "pe_array.rows"}}, "axes.pe_array.cols.same_as"),
])
def test_a_bad_axis_names_the_spec_file_and_the_axis(tmp_path, axes, where):
    with pytest.raises(ConfigError) as info:
        expand(_spec(tmp_path, axes))
    assert str(tmp_path / "s.yaml") in str(info.value) and where in str(info.value)


def test_the_mapping_objective_is_an_axis(tmp_path):
    """A sweep can compare mappings of the same hardware: ``mapping`` is a hardware key like any other."""
    points = expand(_spec(tmp_path, {"mapping": ["fixed", "energy", "edp"]}))
    assert sorted(p.hardware.mapping for p in points) == ["edp", "energy", "fixed"]
    assert len({p.point_hash for p in points}) == 3
    with pytest.raises(ConfigError, match="mapping"):
        expand(_spec(tmp_path, {"mapping": ["fastest"]}, "bad.yaml"))
