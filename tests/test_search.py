"""`archsim sweep` with a `search:` section: an Optuna study (NSGA-II / TPE) in the sweep's SQLite
file, resumable, deterministic, evaluating points with the grid's machinery."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
import yaml

from archsim.cli import main
from archsim.dse import load
from archsim.dse.search import build_space, run_search, search_trials
from archsim.dse.spec import load_sweep
from archsim.dse.store import StoreError
from archsim.dse.sweep import run_sweep
from helpers import workload_dict, write_workload

ROOT = Path(__file__).resolve().parent.parent
AXES = {"pe_array.rows": [8, 16, 32], "pe_array.cols": {"same_as": "pe_array.rows"},
        "sram.banks[ifmap].kbytes": [64, 128], "dram.type": ["ddr4", "lpddr4"]}   # 12 points


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One training cache for the module: the tiny workload trains once, later tests reuse it."""
    return tmp_path_factory.mktemp("search-cache")


@pytest.fixture(autouse=True)
def shared_cache(cache, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(cache))


def write_spec(folder, trials=4, seed=3, method="nsga2", workloads=1, constraints=(), name="s.yaml"):
    wl = [str(write_workload(folder, workload_dict(input_shape=(28, 28, 1), seed=5 + i), f"w{i}.yaml"))
          for i in range(workloads)]
    spec = {"name": "search-test", "workloads": [{"file": w, "epochs": 1} for w in wl],
            "hardware": str(ROOT / "hwconfigs" / "array_16x16.yaml"),
            "axes": AXES, "constraints": list(constraints),
            "objectives": {"maximize": [], "minimize": ["training_energy_j", "area_mm2", "training_latency_s"]},
            "search": {"method": method, "trials": trials, "seed": seed}}
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_sweep(path)


def trials_of(out):
    return search_trials(out).sort_values("number")


def test_a_search_stores_rows_and_its_study_in_the_sweep_file(tmp_path):
    spec = write_spec(tmp_path, trials=5)
    summary = run_sweep(spec, tmp_path / "out")          # delegates to run_search
    assert summary.total == 5 and summary.skipped == 0 and sum(summary.by_status.values()) == 5
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        study = db.execute("SELECT value FROM sweep WHERE key = 'study'").fetchone()[0]
    assert {"points", "breakdowns", "studies", "trials"} <= tables
    assert study.startswith("nsga2-seed3-")
    trials = trials_of(tmp_path / "out")
    assert len(trials) == 5 and set(trials["state"]) <= {"COMPLETE", "PRUNED", "FAIL"}
    rows = load(tmp_path / "out").set_index("point_hash")
    assert set(trials["user_attrs_point_hash"]) == set(rows.index)     # every trial's point, once
    for _, t in trials.iterrows():
        row = rows.loc[t["user_attrs_point_hash"]]
        assert row["hardware"].startswith("array-16x16-")
        assert row["axis:pe_array.cols"] == row["axis:pe_array.rows"]    # the coupled axis follows
        if t["state"] == "COMPLETE":
            assert row["status"] == "done"
            assert t["values_training_energy_j"] == row["training_energy_j"]
            assert t["values_area_mm2"] == row["area_mm2"]


def test_resume_with_more_trials_continues_the_same_study(tmp_path):
    out = tmp_path / "out"
    run_search(write_spec(tmp_path, trials=4), out)
    first = trials_of(out)
    stamps = dict(sqlite3.connect(out / "results.sqlite").execute("SELECT point_hash, finished_at FROM points"))
    with pytest.raises(StoreError, match="--resume"):
        run_search(write_spec(tmp_path, trials=9), out)
    summary = run_search(write_spec(tmp_path, trials=9), out, resume=True)
    assert summary.skipped == 4 and sum(summary.by_status.values()) == 5
    again = trials_of(out)
    assert len(again) == 9 and again["number"].tolist() == list(range(9))
    assert again.head(4)["user_attrs_point_hash"].tolist() == first["user_attrs_point_hash"].tolist()
    with sqlite3.connect(out / "results.sqlite") as db:
        n, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT point_hash) FROM points").fetchone()
        after = dict(db.execute("SELECT point_hash, finished_at FROM points"))
        studies = db.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
    assert studies == 1
    assert n == distinct == again["user_attrs_point_hash"].nunique()
    assert all(after[h] == t for h, t in stamps.items())     # stored points were not evaluated again
    repeated = again[again["user_attrs_reused"]]
    assert summary.by_status.get("repeated", 0) == len(repeated[repeated["number"] >= 4])
    # the spec's trials already reached: nothing more to do
    assert sum(run_search(write_spec(tmp_path, trials=9), out, resume=True).by_status.values()) == 0


@pytest.mark.parametrize("method", ["nsga2", "tpe"])
def test_same_seed_same_points(tmp_path, method):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir(), b.mkdir()
    run_search(write_spec(a, trials=8, method=method), a / "out")
    run_search(write_spec(b, trials=8, method=method), b / "out")
    seq_a = trials_of(a / "out")["user_attrs_point_hash"].tolist()
    assert seq_a == trials_of(b / "out")["user_attrs_point_hash"].tolist()
    assert len(set(seq_a)) > 3     # it does explore


def test_dropped_points_are_pruned_and_still_stored(tmp_path):
    spec = write_spec(tmp_path, trials=10, seed=1, constraints=["area_mm2 <= 0.45"])
    run_search(spec, tmp_path / "out")
    trials = trials_of(tmp_path / "out")
    rows = load(tmp_path / "out").set_index("point_hash")
    status = rows.loc[trials["user_attrs_point_hash"], "status"].tolist()
    assert "dropped" in status and "done" in status
    for state, s in zip(trials["state"], status):
        assert state == {"done": "COMPLETE", "dropped": "PRUNED", "infeasible": "PRUNED"}[s]


def test_several_workloads_are_one_categorical_dimension(tmp_path):
    spec = write_spec(tmp_path, trials=6, workloads=2)
    dims = {d.name: d for d in build_space(spec).dimensions}
    assert not dims["workload"].ordinal and len(dims["workload"].values) == 2
    assert dims["pe_array.rows"].ordinal and not dims["dram.type"].ordinal
    assert "pe_array.cols" not in dims                     # coupled: follows pe_array.rows
    run_search(spec, tmp_path / "out")
    trials = trials_of(tmp_path / "out")
    rows = load(tmp_path / "out").set_index("point_hash")
    assert trials["params_workload"].isin(dims["workload"].values).all()
    assert set(rows["workload_file"]) <= {str(e.path) for e in spec.workloads}


def test_the_cli_runs_a_search_and_force_starts_over(tmp_path, capsys):
    write_spec(tmp_path, trials=3)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "Pareto front" in capsys.readouterr().out
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(out), "--workers", "1", "--quiet", "--force"]) == 0
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'results.sqlite'}")
    summaries = optuna.get_all_study_summaries(storage)
    assert len(summaries) == 1 and summaries[0].n_trials == 3
    storage.engine.dispose()


def test_failed_points_fail_their_trials_and_are_retried(tmp_path, monkeypatch):
    out = tmp_path / "out"

    import archsim.dse.sweep as sweep_module

    working = sweep_module.price_step

    def broken(*args, **kwargs):
        raise RuntimeError("simulator bug")

    monkeypatch.setattr(sweep_module, "price_step", broken)
    run_search(write_spec(tmp_path, trials=3), out)
    trials = trials_of(out)
    assert set(trials["state"]) == {"FAIL"} and set(trials["user_attrs_status"]) == {"failed"}
    assert set(load(out)["status"]) == {"failed"}
    monkeypatch.setattr(sweep_module, "price_step", working)
    failed = set(trials["user_attrs_point_hash"])
    run_search(write_spec(tmp_path, trials=15), out, resume=True)
    later = trials_of(out).iloc[3:]
    again = later[later["user_attrs_point_hash"].isin(failed)]
    assert len(again) > 0                                          # (12 points, 12 more trials)
    first = again.drop_duplicates("user_attrs_point_hash")
    assert not first["user_attrs_reused"].any() and set(first["state"]) == {"COMPLETE"}   # evaluated again
    assert (load(out).set_index("point_hash").loc[list(first["user_attrs_point_hash"]), "status"] == "done").all()


def test_batches_on_dask_give_the_points_of_the_same_batches_run_serially(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    summary = run_search(write_spec(a, trials=6, method="tpe"), a / "out", workers=2)     # LocalCluster
    run_search(write_spec(b, trials=6, method="tpe"), b / "out", batch=2)                 # in-process
    assert sum(summary.by_status.values()) == 6
    dask, serial = trials_of(a / "out"), trials_of(b / "out")
    assert dask["user_attrs_point_hash"].tolist() == serial["user_attrs_point_hash"].tolist()
    assert load(a / "out")["status"].eq("done").all()
