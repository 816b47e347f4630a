"""Paper studies in a report: bit-width studies with their seed spread beside a paper's table,
and integer-vs-float32 pairs on the same silicon beside an op-count model.

Everything is computed from the stored points and breakdowns; published values come only from
the sweep spec's ``reference`` section (e.g. ``reference.test_error_pct["numerics.k_g"]``), and
are drawn and tabulated as such, never mixed into archsim's numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .data import ReportData
from .figures import _axis_columns, _base_hardware, datapath_label

STUDY_WIDTHS = {"numerics.k_g": "k_G", "numerics.k_e": "k_E", "numerics.k_w": "k_W", "numerics.k_a": "k_A"}
"""The numeric widths a bit-width study varies, in the order WAGE's paper studies them."""
ENERGY_PREFIX = "energy_mj_per_step:"
"""A width table's column of the energy per step on one base accelerator: prefix + base name."""


@dataclass(frozen=True)
class StudyTable:
    """One table of a study: written as ``<name>.csv`` and shown on the page."""

    name: str
    title: str
    caption: str
    table: pd.DataFrame


def reference(data: ReportData) -> dict:
    """The first sweep spec's ``reference`` section (published values), or {}."""
    for s in data.sources:
        ref = (s.get("spec") or {}).get("reference") or {}
        if ref:
            return ref
    return {}


def _int_points(data: ReportData) -> pd.DataFrame:
    done = data.done
    if "pe_array.datatype" in done.columns:
        done = done[done["pe_array.datatype"].astype(str) != "fp32"]
    return done.copy()


# --- bit-width studies --------------------------------------------------------------------------
def is_width_study(data: ReportData) -> bool:
    """A bit-width study: one workload whose widths vary, with seeds swept or a paper's errors to
    compare with (other sweeps keep the plain bit-width figure)."""
    done = _int_points(data)
    if done.empty or done["workload"].nunique() != 1:
        return False
    seeds = "axis:seed" in done.columns and done["axis:seed"].nunique() > 1
    return seeds or bool(reference(data).get("test_error_pct"))


def width_slices(data: ReportData) -> dict[str, pd.DataFrame]:
    """For each width varied within a workload: the integer points where every other width is at
    its most common value (so a k_G study is not mixed with the k_E study's points); empty unless
    :func:`is_width_study`."""
    if not is_width_study(data):
        return {}
    done = _int_points(data)
    cols = [c for c in STUDY_WIDTHS if c in done.columns and done[c].notna().any()]
    out = {}
    for col in cols:
        mask = pd.Series(True, index=done.index)
        for other in cols:
            if other != col:
                mode = done[other].mode()
                mask &= done[other] == mode.iloc[0] if not mode.empty else True
        s = done[mask]
        if s[col].nunique() > 1 and s["final_test_accuracy"].notna().any():
            out[col] = s
    return out


def _per_training(s: pd.DataFrame, col: str) -> pd.DataFrame:
    """One accuracy per distinct training (a hardware point never changes a bit-true training)."""
    key = "group_key" if "group_key" in s.columns else "point_hash"
    return s.drop_duplicates(key)[[col, "final_test_accuracy", "workload"]]


def width_table(data: ReportData, col: str, s: pd.DataFrame) -> pd.DataFrame:
    """One row per width: test error over seeds (mean, std, min, max, n), the paper's error, and
    the energy per step on each base accelerator."""
    ref = (reference(data).get("test_error_pct") or {}).get(col) or {}
    ref = {int(k): float(v) for k, v in ref.items()}
    runs = _per_training(s, col)
    rows = []
    energies = s.assign(base=s["hardware"].map(_base_hardware)).pivot_table(index=col, columns="base",
                                                                   values="energy_j_per_step", aggfunc="median")
    for k, g in runs.groupby(col):
        err = 100 * (1 - g["final_test_accuracy"].astype(float))
        row = {STUDY_WIDTHS[col]: int(k), "seeds": len(err), "error_pct_mean": err.mean(),
               "error_pct_std": err.std(ddof=0), "error_pct_min": err.min(), "error_pct_max": err.max(),
               "paper_error_pct": ref.get(int(k), math.nan)}
        for base in energies.columns:
            row[f"{ENERGY_PREFIX}{base}"] = energies.loc[k, base] * 1e3
        rows.append(row)
    return pd.DataFrame(rows)


def kw_ka_grid(data: ReportData) -> pd.DataFrame | None:
    """Test accuracy (%) of every k_W × k_A pair at the most common k_G and k_E (a table)."""
    done = _int_points(data)
    need = ["numerics.k_w", "numerics.k_a", "numerics.k_g", "numerics.k_e"]
    if not is_width_study(data) or not all(c in done.columns and done[c].notna().any() for c in need):
        return None
    for c in ("numerics.k_g", "numerics.k_e"):
        done = done[done[c] == done[c].mode().iloc[0]]
    if done["numerics.k_w"].nunique() < 2 or done["numerics.k_a"].nunique() < 2:
        return None
    runs = done.drop_duplicates("group_key" if "group_key" in done.columns else "point_hash")
    grid = runs.pivot_table(index="numerics.k_w", columns="numerics.k_a", values="final_test_accuracy",
                            aggfunc="mean") * 100
    grid.index = [f"k_W = {int(v)}" for v in grid.index]
    grid.columns = [f"k_A = {int(v)}" for v in grid.columns]
    return grid.reset_index(names="test accuracy %")


def _slope_verdict(t: pd.DataFrame, name: str) -> str:
    """Where the error curve is flat: the widths within 1 point of the best mean, and whether the
    error rises again above them."""
    m = t.set_index(name)["error_pct_mean"].dropna()
    if m.empty:
        return ""
    best = m.min()
    near = [int(k) for k in m.index if m[k] <= best + 1.0]
    text = (f"{name}: error {m.iloc[0]:.1f} % at {name} = {int(m.index[0])}, best {best:.1f} % at {name} = "
            f"{int(m.idxmin())}; within 1 point of the best at {name} = {', '.join(map(str, near))}")
    above = m[m.index > max(near)]
    if not above.empty:
        text += f"; above that the error rises again, to {above.iloc[-1]:.1f} % at {name} = {int(above.index[-1])}"
    return text


# --- integer vs float32 pairs -------------------------------------------------------------------
def datapath_pairs(data: ReportData) -> pd.DataFrame | None:
    """Each integer point beside the float32 point of the same silicon (same workload, base
    hardware and other axes): energy, memory, DRAM traffic and the op-count model's view."""
    done = data.done
    if "pe_array.datatype" not in done.columns or done["pe_array.datatype"].nunique() < 2:
        return None
    axes = [c for c in done.columns if c.startswith("axis:") and c != "axis:pe_array.datatype"]
    b = data.breakdowns
    bd = b[b["grp"].isin(["memory_bytes_by_kind", "opcount_model", "dram_bytes_by_op",
                          "energy_j_per_step_by_component"])].copy()
    bd["value"] = pd.to_numeric(bd["value"], errors="coerce")
    dram = bd[bd["grp"] == "dram_bytes_by_op"].groupby("point_hash")["value"].sum()
    comp = bd[bd["grp"] == "energy_j_per_step_by_component"].pivot_table(index="point_hash", columns="key",
                                                                         values="value", aggfunc="sum")
    opc = bd[bd["grp"] == "opcount_model"].pivot_table(index="point_hash", columns="key", values="value")
    d = done.assign(base=done["hardware"].map(_base_hardware))
    keys = ["workload", "base", *axes]
    d["_key"] = [" | ".join(map(str, r)) for r in d[keys].itertuples(index=False, name=None)]
    rows = []
    for _, g in d.groupby("_key", sort=True):
        i = g[g["pe_array.datatype"].astype(str) == "int"]
        f = g[g["pe_array.datatype"].astype(str) == "fp32"]
        if i.empty or f.empty:
            continue
        i, f = i.iloc[0], f.iloc[0]
        ei, ef = float(i["energy_j_per_step"]), float(f["energy_j_per_step"])
        # stores written before archsim counted training memory have no such column: NaN
        mi, mf = (float(x.get("training_memory_bytes", math.nan)) for x in (i, f))
        row = {"workload": i["workload"], "hardware": i["base"],
               **{a.removeprefix("axis:"): i[a] for a in axes if d[a].notna().any()},
               "int_energy_mj": ei * 1e3, "fp32_energy_mj": ef * 1e3, "energy_saving_pct": 100 * (1 - ei / ef),
               "int_memory_mb": mi / 1e6, "fp32_memory_mb": mf / 1e6, "memory_saving_pct": 100 * (1 - mi / mf),
               "int_dram_mb": dram.get(i["point_hash"], math.nan) / 1e6,
               "fp32_dram_mb": dram.get(f["point_hash"], math.nan) / 1e6}
        sram = [c for c in comp.columns if c.startswith("sram.")]
        for dt, p in (("int", i), ("fp32", f)):
            if p["point_hash"] not in comp.index:
                continue  # no component breakdown stored for this point
            by = comp.loc[p["point_hash"]]
            for part in ("pe_array", "dram"):
                if part in comp.columns:
                    row[f"{dt}_{part}_mj"] = by[part] * 1e3
            row[f"{dt}_sram_mj"] = by[sram].sum() * 1e3
        if i["point_hash"] in opc.index:
            o = opc.loc[i["point_hash"]]
            row.update({
                "same_ops_saving_pct": 100 * (1 - o["same_ops_int_energy_j"] / o["same_ops_fp32_energy_j"]),
                "notebook_int_energy_mj": o["notebook_nitro_energy_j"] * 1e3,
                "notebook_fp32_bp_energy_mj": o["notebook_fp32_bp_energy_j"] * 1e3,
                "notebook_energy_saving_pct": 100 * (1 - o["notebook_nitro_energy_j"] / o["notebook_fp32_bp_energy_j"]),
                "notebook_int_memory_mb": o["notebook_nitro_memory_bytes"] / 1e6,
                "notebook_fp32_bp_memory_mb": o["notebook_fp32_bp_memory_bytes"] / 1e6,
                "notebook_memory_saving_pct": 100 * (1 - o["notebook_nitro_memory_bytes"]
                                                     / o["notebook_fp32_bp_memory_bytes"])})
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


# --- algorithms and datapaths side by side ----------------------------------------------------------
def series_label(row) -> str:
    """``workload · datapath`` of a point: the unit the trade-off study compares."""
    return f"{row.get('workload', '')} · {datapath_label(row)}"


def series_table(data: ReportData) -> pd.DataFrame | None:
    """Per workload · datapath: the accuracy, the training budget, and the training energy over the
    hardware points (least, median, most, and the point that reaches the least)."""
    done = data.done
    if done.empty or done["final_test_accuracy"].isna().all() or "pe_array.datatype" not in done.columns:
        return None
    d = done.assign(series=[series_label(r) for r in done.to_dict("records")])
    if d["series"].nunique() < 2:
        return None
    axes = [c for c in _axis_columns(d) if c != "axis:pe_array.datatype"]
    rows = []
    for name, g in d.groupby("series", sort=True):
        best = g.loc[g["training_energy_j"].idxmin()]
        rows.append({"series": name, "final_test_accuracy_pct": 100 * g["final_test_accuracy"].mean(),
                     "epochs": int(g["epochs"].iloc[0]), "points": len(g),
                     "training_energy_j_min": g["training_energy_j"].min(),
                     "training_energy_j_median": g["training_energy_j"].median(),
                     "training_energy_j_max": g["training_energy_j"].max(),
                     "least_energy_point": ", ".join(f"{a.removeprefix('axis:')}={best[a]}" for a in axes),
                     "training_wall_s": g["training_wall_s"].max() if "training_wall_s" in g else math.nan})
    return pd.DataFrame(rows)


# --- what the page and the CSVs get ---------------------------------------------------------------
def study_tables(data: ReportData) -> list[StudyTable]:
    """Every study table the data allow."""
    out = []
    src = reference(data).get("source", "")
    for col, s in width_slices(data).items():
        name = STUDY_WIDTHS[col]
        t = width_table(data, col, s)
        cap = (f"Test error (100 − final test accuracy) over the seeds of each {name}, every other width at its most "
               f"common value, and the energy of one training step on each base accelerator (median over seeds).")
        if t["paper_error_pct"].notna().any():
            cap += f" paper_error_pct is the published value ({src})." if src else " paper_error_pct is published."
        out.append(StudyTable(f"study_{name.lower()}", f"{name} study", cap, t))
    grid = kw_ka_grid(data)
    if grid is not None:
        out.append(StudyTable("study_kw_ka", "k_W × k_A", "Mean final test accuracy (%) over seeds of every "
                              "weight × activation width pair, k_G and k_E at their most common value.", grid))
    series = series_table(data)
    if series is not None:
        out.append(StudyTable("study_series", "Workloads and datapaths side by side",
                              "Per workload and datapath: the trained accuracy (the hardware never changes a "
                              "bit-true training), the training length, and the whole training's energy over the "
                              "hardware points, with the axes of the point that needs the least.", series))
    pairs = datapath_pairs(data)
    if pairs is not None:
        out.append(StudyTable("study_int_vs_fp32", "Integer vs float32 on the same silicon",
                              "Each integer point beside the float32 datapath of the same array and memories: "
                              "archsim's simulated energy per step (by component) and training memory, DRAM traffic, "
                              "and, for NITRO-D, the authors' op-count model: the notebook's counting (NITRO-D vs "
                              "float32 backprop) and its per-op prices on exactly the ops archsim simulates "
                              "(same_ops).", pairs))
    return out


def study_findings(data: ReportData, tables: list[StudyTable]) -> list[str]:
    """Sentences for the page's findings, from the study tables."""
    out = []
    ref = reference(data)
    for st in tables:
        t = st.table
        if st.name in ("study_k_g", "study_k_e"):
            name = st.title.split()[0]
            out.append(_slope_verdict(t, name) + ".")
            if t["paper_error_pct"].notna().any():
                p = t.set_index(name)["paper_error_pct"].dropna()
                out.append(f"Paper ({ref.get('source', 'published')}): {name} = {int(p.index[0])} gives "
                           f"{p.iloc[0]:.1f} % error, the best {p.min():.2f} % at {name} = {int(p.idxmin())}.")
        elif st.name == "study_int_vs_fp32":
            for wl, g in t.groupby("workload"):
                text = (f"{wl}: the integer datapath saves {g['energy_saving_pct'].min():.1f}–"
                        f"{g['energy_saving_pct'].max():.1f} % of the float32 step energy and "
                        f"{g['memory_saving_pct'].iloc[0]:.1f} % of the training memory on the same silicon")
                if "notebook_energy_saving_pct" in g and g["notebook_energy_saving_pct"].notna().any():
                    text += (f"; the authors' op-count model says {g['notebook_energy_saving_pct'].iloc[0]:.1f} % "
                             f"energy and {g['notebook_memory_saving_pct'].iloc[0]:.1f} % memory against float32 "
                             f"backprop, {g['same_ops_saving_pct'].iloc[0]:.1f} % energy on the same ops")
                out.append(text + ".")
    return out


def write_study_tables(tables: list[StudyTable], out_dir: Path) -> dict[str, Path]:
    """Each study table as CSV next to the report's other tables."""
    import io

    from ..fileio import write_text
    paths = {}
    for st in tables:
        buf = io.StringIO()
        st.table.to_csv(buf, index=False)
        paths[st.name] = write_text(Path(out_dir) / f"{st.name}.csv", buf.getvalue())
    return paths


__all__ = ["ENERGY_PREFIX", "STUDY_WIDTHS", "StudyTable", "datapath_pairs", "is_width_study", "series_label", "series_table", "kw_ka_grid", "reference", "study_findings",
           "study_tables", "width_slices", "width_table", "write_study_tables"]
