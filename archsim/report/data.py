"""What a report reads: stored results only (a sweep's SQLite store, or ``archsim run`` folders).

:func:`load_results` gives one :class:`ReportData`: the points table (one row per point, the
columns of ``archsim.dse.load``), the long-form breakdowns, where each came from, and the
objectives to draw fronts with. Nothing is re-run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..dse import breakdowns as sweep_breakdowns
from ..dse import labels as sweep_labels
from ..dse import load as sweep_load
from ..dse.store import STORE_NAME, Store
from ..errors import ReportError
from ..outputs import digest

DEFAULT_MAXIMIZE = ("final_test_accuracy",)
DEFAULT_MINIMIZE = ("training_energy_j",)
LONG_COLUMNS = ["point_hash", "grp", "key", "value"]
LABEL_GROUPS = ("mapping_by_op", "loop_order_by_op", "resident_by_op")
BREAKDOWN_GROUPS = ("energy_j_per_step_by_component", "area_mm2_by_component", "cycles_per_step_by_phase",
                    "energy_j_per_step_by_phase", "cycles_per_step_by_op", "compute_cycles_by_op", "dram_cycles_by_op",
                    "shift_align_cycles_by_op", "sram_port_cycles_by_op", "macs_by_op", "dram_bytes_by_op",
                    "compulsory_dram_bytes_by_op", "dram_over_compulsory_by_op", "block_m_by_op", "block_n_by_op",
                    "block_k_by_op", "test_accuracy_by_epoch")


@dataclass
class ReportData:
    """Everything a report shows, from stored results."""

    points: pd.DataFrame
    breakdowns: pd.DataFrame
    sources: list[dict] = field(default_factory=list)
    maximize: tuple[str, ...] = DEFAULT_MAXIMIZE
    minimize: tuple[str, ...] = DEFAULT_MINIMIZE
    labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LONG_COLUMNS))
    """Per-op text labels in long form (the mapping, its loop order, resident operands)."""

    @property
    def done(self) -> pd.DataFrame:
        """The points that were priced and kept (status ``done``)."""
        return self.points[self.points["status"] == "done"]

    def name(self) -> str:
        return "-".join(s["name"] for s in self.sources)[:80] or "report"


def _run_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """One ``archsim run`` result as a one-row points table and its breakdowns."""
    data = json.loads((folder / "result.json").read_text())
    point = digest(data.get("identity") or {"folder": str(folder.resolve())}, 16)
    row = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    row.update({"point_hash": point, "status": "done", "error": "", "source": str(folder)})
    long = [(point, group, key, float(value)) for group in BREAKDOWN_GROUPS
            for key, value in (data.get(group) or {}).items()]
    if "test_accuracy_by_epoch" not in data:  # results written before the curve was a breakdown
        long += [(point, "test_accuracy_by_epoch", str(i + 1), float(a))
                 for i, a in enumerate(data.get("training", {}).get("test_accuracy_per_epoch", []))]
    labels = [(point, group, key, str(value)) for group in LABEL_GROUPS
              for key, value in (data.get(group) or {}).items()]
    return (pd.DataFrame([row]), pd.DataFrame(long, columns=LONG_COLUMNS),
            {"kind": "run", "path": str(folder), "name": folder.name, "workload": data.get("workload"),
             "hardware": data.get("hardware"), "labels": pd.DataFrame(labels, columns=LONG_COLUMNS)})


def _sweep_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    store = Store(folder)
    try:
        spec = store.spec()
    finally:
        store.close()
    points = sweep_load(folder)
    points["source"] = str(folder)
    inner = spec.get("spec", {})
    try:
        labels = sweep_labels(folder)
    except pd.errors.DatabaseError:  # a store written before per-op labels existed
        labels = pd.DataFrame(columns=LONG_COLUMNS)
    return points, sweep_breakdowns(folder), {"kind": "sweep", "path": str(folder), "name": inner.get("name", folder.name),
                                              "spec": inner, "file": spec.get("file"), "text": spec.get("text", ""),
                                              "labels": labels}


def load_results(folders: list[str | Path]) -> ReportData:
    """Points and breakdowns of every sweep or run folder given (concatenated, duplicates once)."""
    if not folders:
        raise ReportError("give one or more sweep or run folders")
    tables, longs, sources = [], [], []
    for f in map(Path, folders):
        if (f / STORE_NAME).is_file():
            t, b, s = _sweep_folder(f)
        elif (f / "result.json").is_file():
            try:
                t, b, s = _run_folder(f)
            except (OSError, ValueError) as exc:
                raise ReportError(f"{f / 'result.json'}: unreadable ({exc})") from None
        else:
            raise ReportError(f"{f}: neither a sweep ({STORE_NAME}) nor a run folder (result.json)")
        tables.append(t)
        longs.append(b)
        sources.append(s)
    points = pd.concat(tables, ignore_index=True, sort=False).drop_duplicates("point_hash", keep="first")
    long = pd.concat(longs, ignore_index=True).drop_duplicates(["point_hash", "grp", "key"])
    labels = pd.concat([s.pop("labels") for s in sources], ignore_index=True).drop_duplicates(
        ["point_hash", "grp", "key"])
    specs = [s["spec"] for s in sources if s["kind"] == "sweep"]
    maximize = tuple(specs[0].get("maximize", DEFAULT_MAXIMIZE)) if specs else DEFAULT_MAXIMIZE
    minimize = tuple(specs[0].get("minimize", DEFAULT_MINIMIZE)) if specs else DEFAULT_MINIMIZE
    return ReportData(points.reset_index(drop=True), long.reset_index(drop=True), sources, maximize, minimize,
                      labels.reset_index(drop=True))


__all__ = ["BREAKDOWN_GROUPS", "ReportData", "ReportError", "load_results"]
