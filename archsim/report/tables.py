"""The report's tables (pandas → CSV) and its headline findings, in words generated from the data."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..dse.pareto import pareto
from ..fileio import write_text
from .data import ReportData

HIDDEN_COLUMNS = ("config_json",)
"""Too long for a table (the resolved config stays in the store)."""
PAGE_COLUMNS = ("workload", "hardware", "status", "final_test_accuracy", "training_energy_j", "energy_j_per_step",
                "latency_s_per_epoch", "area_mm2", "avg_power_w", "tops_per_w", "pe_array.rows", "pe_array.cols",
                "pe_array.dataflow", "dram.type", "technology_nm", "clock_mhz", "numerics.k_w", "numerics.k_a",
                "numerics.k_g", "numerics.k_e")
"""The points table of the page: identity, headline results, the usual knobs (all columns are in the CSV)."""


def front(data: ReportData) -> pd.DataFrame:
    """The Pareto front of the report's objectives among the priced points."""
    done = data.done
    objectives = [c for c in (*data.maximize, *data.minimize) if c in done.columns]
    if done.empty or not objectives:
        return done.iloc[0:0]
    return pareto(done, minimize=[c for c in data.minimize if c in done.columns],
                  maximize=[c for c in data.maximize if c in done.columns])


def _long(data: ReportData, groups: dict[str, str], key_name: str) -> pd.DataFrame:
    """Breakdown groups side by side in long form: point, workload, hardware, key, one column per group."""
    b = data.breakdowns[data.breakdowns["grp"].isin(list(groups))]
    wide = b.pivot_table(index=["point_hash", "key"], columns="grp", values="value", aggfunc="first").reset_index()
    wide = wide.rename(columns={"key": key_name, **groups})
    ids = data.points[["point_hash", "workload", "hardware"]]
    out = ids.merge(wide, on="point_hash", how="inner")
    return out.sort_values(["point_hash", key_name]).reset_index(drop=True)


def mappings(data: ReportData) -> pd.DataFrame:
    """Per point and GEMM/conv op: the mapping (searched or fixed), its loop order, block sizes and
    resident operands, the DRAM bytes against the compulsory bytes and their ratio."""
    numeric = _long(data, {"block_m_by_op": "block_m", "block_n_by_op": "block_n", "block_k_by_op": "block_k",
                           "dram_bytes_by_op": "dram_bytes", "compulsory_dram_bytes_by_op": "compulsory_dram_bytes",
                           "dram_over_compulsory_by_op": "dram_over_compulsory"}, "op")
    if "block_m" not in numeric.columns:
        return numeric.iloc[0:0]
    numeric = numeric[numeric["block_m"].notna()]
    if data.labels.empty:
        return numeric
    words = data.labels.pivot_table(index=["point_hash", "key"], columns="grp", values="value",
                                    aggfunc="first").reset_index().rename(columns={
        "key": "op", "mapping_by_op": "mapping", "loop_order_by_op": "loop_order", "resident_by_op": "resident"})
    out = numeric.merge(words, on=["point_hash", "op"], how="left")
    first = ["point_hash", "workload", "hardware", "op", "mapping", "loop_order"]
    return out[[c for c in first if c in out.columns] + [c for c in out.columns if c not in first]]


def tables(data: ReportData) -> dict[str, pd.DataFrame]:
    """points (all, every parameter and result), pareto, by_component and by_phase (long form), and
    the per-op mappings."""
    points = data.points.drop(columns=[c for c in HIDDEN_COLUMNS if c in data.points.columns])
    return {
        "points": points,
        "pareto": front(data).drop(columns=[c for c in HIDDEN_COLUMNS if c in data.points.columns]),
        "by_component": _long(data, {"energy_j_per_step_by_component": "energy_j_per_step",
                                     "area_mm2_by_component": "area_mm2"}, "component"),
        "by_phase": _long(data, {"cycles_per_step_by_phase": "cycles_per_step",
                                 "energy_j_per_step_by_phase": "energy_j_per_step"}, "phase"),
        "mappings": mappings(data),
    }


def write_tables(data: ReportData, out_dir: Path) -> dict[str, Path]:
    """Every table as ``out_dir/<name>.csv`` (atomically); returns the paths."""
    paths = {}
    for name, df in tables(data).items():
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        paths[name] = write_text(Path(out_dir) / f"{name}.csv", buf.getvalue())
    return paths


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _point(row: pd.Series) -> str:
    return f"{row['workload']} on {row['hardware']}"


def findings(data: ReportData) -> list[str]:
    """The headline findings as sentences: counts, best accuracy, least energy, the front, the spread."""
    p, done = data.points, data.done
    counts = p["status"].value_counts().to_dict()
    out = [f"{len(p)} points: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "."]
    if done.empty:
        return out + ["No point was priced; the store's error column says why."]
    acc, energy = "final_test_accuracy", "training_energy_j"
    if done[acc].isna().all():  # untrained points (epochs 0): prices only
        cheap = done.loc[done["energy_j_per_step"].idxmin()]
        return out + [f"No point was trained (0 epochs): the step is priced only. Least energy per step: "
                      f"{cheap['energy_j_per_step']:.3g} J ({_point(cheap)}); area from {done['area_mm2'].min():.3g} "
                      f"to {done['area_mm2'].max():.3g} mm²."]
    best = done.loc[done[acc].idxmax()]
    cheap = done.loc[done[energy].idxmin()]
    out.append(f"Best accuracy: {_pct(best[acc])} ({_point(best)}), at {best[energy]:.3g} J of training energy "
               f"and {best['area_mm2']:.3g} mm².")
    out.append(f"Least training energy: {cheap[energy]:.3g} J ({_point(cheap)}), at {_pct(cheap[acc])} accuracy.")
    spread = done[energy].max() / max(done[energy].min(), 1e-30)
    out.append(f"Training energy spans {spread:.3g}× across the priced points; area from "
               f"{done['area_mm2'].min():.3g} to {done['area_mm2'].max():.3g} mm².")
    f = front(data)
    objectives = ", ".join([f"maximize {m}" for m in data.maximize] + [f"minimize {m}" for m in data.minimize])
    out.append(f"The Pareto front ({objectives}) has {len(f)} of {len(done)} priced points.")
    if "algorithm" in done.columns and done["algorithm"].nunique() > 1:
        for alg, g in done.groupby("algorithm"):
            b = g.loc[g[acc].idxmax()]
            out.append(f"{alg}: best {_pct(b[acc])}, least energy {g[energy].min():.3g} J over {len(g)} points.")
    return out


__all__ = ["PAGE_COLUMNS", "findings", "front", "tables", "write_tables"]
