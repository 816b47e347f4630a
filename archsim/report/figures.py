"""The report's figures (matplotlib, Agg canvas): PNG and SVG of each, from stored results only.

:func:`write_figures` draws every figure the data allows into ``out_dir/figures/`` and returns a
:class:`Figure` for each one written; a figure without data is skipped, never an error:

* ``accuracy_vs_energy``: final test accuracy against training energy, with the Pareto front
  (maximise accuracy, minimise energy) as a step line and dominated points faded.
* ``latency_vs_area``, ``energy_vs_area``: latency per epoch and energy per step against area,
  each with its two-objective front per workload.
* ``energy_by_component``, ``energy_by_phase``: stacked bars of the energy per step of (at most
  12 of) the front points of the report's objectives, one panel per workload.
* ``cycles_by_phase``, ``op_bounds``, ``roofline``: one point (``point``, or by default the front
  point with the best accuracy, then the least energy): its cycles per phase split by what bounds
  each op, each op's cycles coloured by its bound, and its ops on a roofline.
* ``bit_widths``: accuracy and training energy against each bit width the sweep varied.
* ``training_curves``: test accuracy per epoch of each distinct training.

Colours follow the datapath label (``WAGE 2-8-8-8``, ``NITRO-D``, ``float32``: :func:`datapath_label`)
through a fixed palette; markers follow the hardware family (the hardware name without its
``-<hash>``, with the dataflow when several are present). Axes are logarithmic where the values
span more than 1.5 decades.

Output is deterministic: the same data give byte-identical files (no dates or versions in the
metadata, a fixed SVG hash salt). Figures are drawn on an explicit Agg canvas
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``): nothing touches pyplot or the process-wide
backend, so no display is needed and an interactive session importing archsim keeps its own.
Every file goes through :func:`archsim.fileio.write_bytes` (atomic).
"""
from __future__ import annotations

import io
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as _MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator

from ..dse.pareto import pareto_mask
from ..fileio import write_bytes
from .data import ReportData, ReportError
from .tables import front as report_front

DPI = 110
FIGURES_DIR = "figures"
LOG_SPAN = 10 ** 1.5
"""An axis is logarithmic when its positive values span more than this ratio (1.5 decades)."""
MAX_BARS = 12
MAX_OPS = 25
MAX_CURVES = 12
FADED = 0.25

RC = {
    "svg.hashsalt": "archsim-report",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}

PALETTE = {
    "WAGE 2-8-8-8": "#1f77b4", "WAGE": "#1f77b4",
    "NITRO-D": "#d62728",
    "float32": "#555555",
}
"""Fixed colours of the usual datapaths; any other label gets one of :data:`EXTRA_COLOURS`."""
EXTRA_COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7b4173",
                 "#637939", "#8c6d31", "#9edae5", "#31a354", "#756bb1", "#a55194", "#393b79", "#f7b6d2")
"""Distinct from the fixed colours above (no second red, blue or grey)."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")
COMPONENT_ORDER = ("pe_array", "sram.input", "sram.weight", "sram.output", "dram", "shift_align", "random")
COMPONENT_COLOURS = {"pe_array": "#4c72b0", "sram.input": "#8fb3de", "sram.weight": "#55a868", "sram.output": "#a6d49f",
                     "dram": "#c44e52", "shift_align": "#dd8452", "random": "#8172b3", "overhead": "#b0b0b0"}
PHASE_ORDER = ("forward", "input_grad", "weight_grad", "local_head", "loss", "update")
PHASE_COLOURS = {"forward": "#4c72b0", "input_grad": "#dd8452", "weight_grad": "#55a868", "local_head": "#8172b3",
                 "loss": "#c44e52", "update": "#937860"}
BOUNDS = ("compute", "dram", "shift_align", "sram_port")
BOUND_GROUPS = {"compute": "compute_cycles_by_op", "dram": "dram_cycles_by_op",
                "shift_align": "shift_align_cycles_by_op", "sram_port": "sram_port_cycles_by_op"}
BOUND_COLOURS = {"compute": "#4c72b0", "dram": "#c44e52", "shift_align": "#dd8452", "sram_port": "#55a868",
                 "none": "#b0b0b0"}
BOUND_LABELS = {"compute": "compute-bound (PE array)", "dram": "DRAM-bound", "shift_align": "shift/align-bound",
                "sram_port": "SRAM-port-bound", "none": "no busy unit"}
WIDTH_COLUMNS = {
    "numerics.k_w": "k_W: weight bits", "numerics.k_a": "k_A: activation bits",
    "numerics.k_g": "k_G: gradient bits", "numerics.k_e": "k_E: error bits",
    "numerics.accumulator_bits": "accumulator bits (numerics)",
    "pe_array.operand_bits": "PE operand bits", "pe_array.accumulator_bits": "PE accumulator bits",
}
_HASH_SUFFIX = re.compile(r"-[0-9a-f]{6,}$")


@dataclass(frozen=True)
class Figure:
    """One written figure: ``png`` and ``svg`` are inside ``out_dir/figures``."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    width_px: int
    height_px: int


# ----------------------------------------------------------------------------------------------
# labels, colours, markers


def _int(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if math.isfinite(f) and f == int(f) else f"{f:g}"


def datapath_label(row: pd.Series | dict) -> str:
    """The datapath a point trains with: ``WAGE 2-8-8-8`` (k_W-k_A-k_G-k_E), ``NITRO-D`` (its default
    widths; ``NITRO-D 16-8-16-8`` otherwise) or ``float32`` (a float32 PE array)."""
    get = row.get
    alg = str(get("algorithm", "") or "")
    if str(get("pe_array.datatype", "int")) == "fp32":
        return "float32" if alg in ("wage", "") else f"float32 {_algorithm_name(alg)}"
    widths = [get(f"numerics.{k}") for k in ("k_w", "k_a", "k_g", "k_e")]
    known = all(w is not None and not (isinstance(w, float) and math.isnan(w)) for w in widths)
    text = "-".join(_int(w) for w in widths) if known else ""
    if alg == "nitro_d":
        return "NITRO-D" if not known or text == "16-8-32-8" else f"NITRO-D {text}"
    return f"{_algorithm_name(alg)} {text}".strip()


def _algorithm_name(alg: str) -> str:
    return {"wage": "WAGE", "nitro_d": "NITRO-D"}.get(alg, alg or "?")


def _family_label(row: pd.Series | dict) -> str:
    """The datapath family (for lines that vary the widths): WAGE, NITRO-D, float32."""
    if str(row.get("pe_array.datatype", "int")) == "fp32":
        return "float32"
    return _algorithm_name(str(row.get("algorithm", "") or ""))


def natural_key(text: str) -> list:
    """Sort key reading digit runs as numbers: ``WAGE 2-8-4-8`` before ``WAGE 2-8-12-8``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(text)) if t]


def colours_for(labels: Sequence[str]) -> dict[str, str]:
    """A colour per label (in natural order): the fixed palette, else a stable pick (by CRC of the
    label) among the extra colours that no other label of this set holds."""
    out: dict[str, str] = {}
    used = set()
    ordered = sorted(set(labels), key=natural_key)
    for label in ordered:
        if label in PALETTE:
            out[label] = PALETTE[label]
            used.add(PALETTE[label])
    for label in ordered:
        if label in out:
            continue
        start = zlib.crc32(label.encode()) % len(EXTRA_COLOURS)
        for i in range(len(EXTRA_COLOURS)):
            c = EXTRA_COLOURS[(start + i) % len(EXTRA_COLOURS)]
            if c not in used:
                break
        else:
            c = EXTRA_COLOURS[start]
        out[label] = c
        used.add(c)
    return {label: out[label] for label in ordered}


def _base_hardware(name: str) -> str:
    return _HASH_SUFFIX.sub("", str(name))


def _families(done: pd.DataFrame) -> pd.Series:
    base = done["hardware"].map(_base_hardware) if "hardware" in done.columns else pd.Series("hardware", done.index)
    if "pe_array.dataflow" in done.columns and done["pe_array.dataflow"].nunique() > 1:
        base = base + " (" + done["pe_array.dataflow"].astype(str) + ")"
    return base


def _short_axis(path: str) -> str:
    """``sram.banks[ifmap].kbytes`` → ``ifmap.kbytes``, ``pe_array.rows`` → ``rows``, ``dram.type`` stays."""
    path = path.removeprefix("axis:")
    m = re.fullmatch(r".*\[([^\]]+)\]\.?(.*)", path)
    if m:
        return f"{m.group(1)}.{m.group(2)}" if m.group(2) else m.group(1)
    parts = path.split(".")
    if len(parts) > 1 and parts[-1] in ("type", "name", "kbytes", "bits", "ports", "lanes"):
        return ".".join(parts[-2:])
    return parts[-1]


def _axis_columns(done: pd.DataFrame) -> list[str]:
    """The swept axes that tell the points apart (an axis equal to an earlier one is left out)."""
    cols = []
    for c in (c for c in done.columns if c.startswith("axis:")):
        v = done[c].astype(str).tolist()
        if len(set(v)) > 1 and not any(done[o].astype(str).tolist() == v for o in cols):
            cols.append(c)
    return cols


def _describe_points(rows: pd.DataFrame, axes: list[str], datapath: bool) -> list[str]:
    """Bar labels: the hardware name, then the swept values that differ (and the datapath if asked)."""
    out = []
    for _, r in rows.iterrows():
        head = str(r.get("hardware", r["point_hash"]))
        extra = ", ".join(([str(r["_label"])] if datapath else []) + [f"{_short_axis(a)}={_int(r[a])}" for a in axes])
        out.append(f"{head}\n{extra}" if extra else head)
    return out


# ----------------------------------------------------------------------------------------------
# drawing helpers


def _si(value: float) -> str:
    """``6.63e6`` → ``6.63 M`` (k, M, G, T; three significant digits)."""
    v = float(value)
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.3g} {suffix}"
    return f"{v:.3g}"


def _si_axis(ax, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _pos: "0" if v == 0 else _si(v))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _new(width_in: float, height_in: float, nrows: int = 1, ncols: int = 1, **kw):
    fig = _MplFigure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _positive(values) -> np.ndarray:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return v[np.isfinite(v) & (v > 0)]


def _wide_span(values) -> bool:
    v = _positive(values)
    return len(v) > 1 and v.max() / v.min() > LOG_SPAN


def _log_label(v: float, plain: bool) -> str:
    if not (v > 0 and math.isfinite(v)):
        return ""
    if plain:
        return f"{v:g}"
    e = math.log10(v)
    return f"$10^{{{round(e)}}}$" if abs(e - round(e)) < 1e-9 else ""


def _scale(ax, axis: str, values) -> bool:
    """Make ``axis`` ("x"/"y") logarithmic when ``values`` span more than 1.5 decades; plain numbers
    (``0.01``, ``3``) label it, with the 2s and 5s labelled too while it spans under 3 decades."""
    if not _wide_span(values):
        return False
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    v = _positive(values)
    plain = v.min() >= 1e-3 and v.max() < 1e5
    label = FuncFormatter(lambda x, _pos: _log_label(x, plain))
    target.set_major_formatter(label)
    if plain and v.max() / v.min() < 1e3:
        target.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        target.set_minor_formatter(label)
    return True


def _front_mask(df: pd.DataFrame, minimize: Sequence[str], maximize: Sequence[str]) -> np.ndarray:
    cols = [*minimize, *maximize]
    values = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in cols])
    return pareto_mask(values, ["min"] * len(minimize) + ["max"] * len(maximize))


def _legend_handles(colours: dict[str, str], markers: dict[str, str]) -> list:
    handles = [Line2D([], [], ls="", marker="o", ms=7, mfc=c, mec="black", mew=0.5, label=label)
               for label, c in colours.items()]
    handles += [Line2D([], [], ls="", marker=m, ms=7, mfc="white", mec="#333333", label=fam)
                for fam, m in markers.items()]
    return handles


def _finite(df: pd.DataFrame, cols: Sequence[str], positive: Sequence[str] = ()) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    for c in cols:
        if c not in df.columns:
            return df.iloc[0:0]
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        keep &= np.isfinite(v)
        if c in positive:
            keep &= v > 0
    return df[keep]


def _save(fig, out: Path, name: str, title: str, caption: str) -> Figure:
    folder = out / FIGURES_DIR
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    fig.draw_without_rendering()        # lay out once, then keep that layout for both formats
    fig.set_layout_engine("none")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=PNG_METADATA)
    write_bytes(png, buf.getvalue())
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata=SVG_METADATA)
    write_bytes(svg, buf.getvalue())
    w, h = fig.canvas.get_width_height()
    return Figure(name, title, caption, png, svg, int(w), int(h))


# ----------------------------------------------------------------------------------------------
# the context every figure draws from


@dataclass
class _Context:
    data: ReportData
    done: pd.DataFrame          # done points with label, family, colour and marker columns
    colours: dict[str, str]
    markers: dict[str, str]
    point: str | None


def _context(data: ReportData, point: str | None) -> _Context:
    done = data.done.copy()
    if done.empty:
        return _Context(data, done, {}, {}, point)
    done = done.sort_values("point_hash", kind="stable")
    done["_label"] = [datapath_label(r) for r in done.to_dict("records")]
    done["_family"] = _families(done)
    colours = colours_for(done["_label"].tolist())
    fams = sorted(done["_family"].unique())
    markers = {f: MARKERS[i % len(MARKERS)] for i, f in enumerate(fams)}
    done["_colour"] = done["_label"].map(colours)
    done["_marker"] = done["_family"].map(markers)
    return _Context(data, done, colours, markers, point)


def _scatter_points(ax, df: pd.DataFrame, x: str, y: str, on_front: np.ndarray, yscale: float = 1.0) -> None:
    for marker, g in df.groupby("_marker", sort=True):
        sel = on_front[df.index.get_indexer(g.index)]
        for mask, alpha, size, edge in ((~sel, FADED, 28, "none"), (sel, 1.0, 46, "black")):
            if mask.any():
                gg = g[mask]
                ax.scatter(gg[x].to_numpy(float), gg[y].to_numpy(float) * yscale, c=gg["_colour"].tolist(),
                           marker=marker, s=size, alpha=alpha, edgecolors=edge, linewidths=0.6, zorder=3)


def _step_front(ax, df: pd.DataFrame, x: str, y: str, yscale: float = 1.0, **kw) -> None:
    f = df.sort_values([x, y], kind="stable")
    ax.plot(f[x].to_numpy(float), f[y].to_numpy(float) * yscale, drawstyle="steps-post", zorder=2, **kw)


# ----------------------------------------------------------------------------------------------
# 1-2: scatter plots with fronts


def _accuracy_vs_energy(c: _Context, out: Path) -> Figure | None:
    acc, energy = "final_test_accuracy", "training_energy_j"
    df = _finite(c.done, [acc, energy])
    if df.empty:
        return None
    fig, axes = _new(9, 5)
    ax = axes[0, 0]
    mask = _front_mask(df, [energy], [acc])
    _scatter_points(ax, df, energy, acc, mask, 100.0)
    _step_front(ax, df[mask], energy, acc, 100.0, color="black", lw=1.2, label="Pareto front")
    _scale(ax, "x", df[energy])
    lo, hi = 100 * df[acc].min(), 100 * df[acc].max()
    if hi - lo < 2:                     # a near-flat accuracy: show at least 3 points of range
        mid = (lo + hi) / 2
        ax.set_ylim(mid - 1.5, mid + 1.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.{0 if hi - lo >= 5 else 1}f}"))
    ax.set_xlabel("Training energy (J, whole training)")
    ax.set_ylabel("Final test accuracy (%)")
    ax.set_title("Accuracy vs training energy")
    handles = _legend_handles(c.colours, {f: c.markers[f] for f in sorted(df["_family"].unique())})
    handles.append(Line2D([], [], color="black", lw=1.2, drawstyle="steps-post", label="Pareto front"))
    fig.legend(handles=handles, loc="outside right upper", title="datapath / hardware")
    caption = (f"Each marker is a priced design point ({len(df)}; colour: datapath, marker: hardware family); "
               f"the step line joins the {int(mask.sum())} Pareto-optimal points (higher accuracy, less energy), "
               f"dominated points are faded. Up and to the left is better.")
    return _save(fig, out, "accuracy_vs_energy", "Accuracy vs training energy", caption)


def _vs_area(c: _Context, out: Path, name: str, y: str, ylabel: str, title: str, what: str) -> Figure | None:
    df = _finite(c.done, [y, "area_mm2"], positive=[y, "area_mm2"])
    if df.empty:
        return None
    fig, axes = _new(9, 5)
    ax = axes[0, 0]
    mask = np.zeros(len(df), dtype=bool)
    workloads = sorted(df["workload"].astype(str).unique()) if "workload" in df.columns else [""]
    styles = ("-", "--", ":", "-.")
    front_handles = []
    for i, w in enumerate(workloads):
        sel = (df["workload"].astype(str) == w).to_numpy() if "workload" in df.columns else np.ones(len(df), bool)
        sub = df[sel]
        m = _front_mask(sub, ["area_mm2", y], [])
        mask[np.flatnonzero(sel)[m]] = True
        ls = styles[i % len(styles)]
        label = f"front: {w}" if len(workloads) > 1 else "Pareto front"
        _step_front(ax, sub[m], "area_mm2", y, color="black", lw=1.1, ls=ls)
        front_handles.append(Line2D([], [], color="black", lw=1.1, ls=ls, label=label))
    _scatter_points(ax, df, "area_mm2", y, mask)
    _scale(ax, "x", df["area_mm2"])
    _scale(ax, "y", df[y])
    ax.set_xlabel("Area (mm²)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    handles = _legend_handles(c.colours, {f: c.markers[f] for f in sorted(df["_family"].unique())}) + front_handles
    fig.legend(handles=handles, loc="outside right upper", title="datapath / hardware")
    if len(workloads) > 1:
        fronts = (f"one step line per workload (line style) joins the points no other point of that workload "
                  f"beats on both")
    else:
        fronts = "the step line joins the points no other point beats on both"
    caption = (f"{what} against chip area for each priced point (colour: datapath, marker: hardware family); "
               f"{fronts}, dominated points are faded. Down and to the left is better.")
    return _save(fig, out, name, title, caption)


# ----------------------------------------------------------------------------------------------
# 3: stacked bars of the front


def _front_points(c: _Context) -> pd.DataFrame:
    f = report_front(c.data)
    if f.empty:
        return c.done.iloc[0:0]
    f = c.done[c.done["point_hash"].isin(f["point_hash"])]
    order = [m for m in c.data.minimize if m in f.columns] + [m for m in c.data.maximize if m in f.columns]
    f = f.sort_values([*order, "point_hash"], kind="stable") if order else f
    if len(f) > MAX_BARS:
        f = f.iloc[np.unique(np.linspace(0, len(f) - 1, MAX_BARS).round().astype(int))]
    return f


def _stacked(c: _Context, out: Path, name: str, group: str, order: Sequence[str], colours: dict[str, str],
             title: str, what: str) -> Figure | None:
    pts = _front_points(c)
    if pts.empty:
        return None
    b = c.data.breakdowns
    b = b[(b["grp"] == group) & b["point_hash"].isin(pts["point_hash"])]
    if b.empty:
        return None
    wide = b.pivot_table(index="point_hash", columns="key", values="value", aggfunc="first").fillna(0.0)
    pts = pts[pts["point_hash"].isin(wide.index)]
    keys = [k for k in order if k in wide.columns] + sorted(k for k in wide.columns if k not in order)
    keys = [k for k in keys if (wide[k] != 0).any()]
    if pts.empty or not keys:
        return None
    workloads = sorted(pts["workload"].astype(str).unique()) if "workload" in pts.columns else [""]
    counts = [int((pts["workload"].astype(str) == w).sum()) if "workload" in pts.columns else len(pts)
              for w in workloads]
    all_axes = _axis_columns(c.done)
    height = 1.3 + sum(0.42 * n + 0.55 for n in counts)
    fig, axs = _new(10, max(3.5, height), len(workloads), 1, gridspec_kw={"height_ratios": [n + 1.2 for n in counts]})
    extra = {k: EXTRA_COLOURS[i % len(EXTRA_COLOURS)] for i, k in enumerate(k for k in keys if k not in colours)}
    for ax, w in zip(axs[:, 0], workloads):
        sub = pts[pts["workload"].astype(str) == w] if "workload" in pts.columns else pts
        vals = wide.loc[sub["point_hash"], keys]
        totals = vals.sum(axis=1).to_numpy()
        sub = sub.iloc[np.argsort(-totals, kind="stable")]
        vals = wide.loc[sub["point_hash"], keys]
        ypos = np.arange(len(sub))
        left = np.zeros(len(sub))
        for k in keys:
            v = vals[k].to_numpy(float)
            ax.barh(ypos, v, left=left, color=colours.get(k, extra.get(k)), label=k, height=0.7,
                    edgecolor="white", linewidth=0.4)
            left += v
        for yy, t in zip(ypos, left):
            ax.text(t, yy, f" {t:.3g} J", va="center", ha="left", fontsize=7.5)
        varied = [a for a in all_axes if sub[a].astype(str).nunique() > 1]
        fixed = [a for a in all_axes if a not in varied]
        ax.set_yticks(ypos, _describe_points(sub, varied, sub["_label"].nunique() > 1), fontsize=7.5)
        ax.invert_yaxis()
        ax.set_xlim(0, left.max() * 1.16 if left.max() > 0 else 1)
        ax.grid(axis="y", visible=False)
        same = ", ".join(f"{_short_axis(a)}={_int(sub[a].iloc[0])}" for a in fixed)
        ax.set_title((f"{w}: " if w else "") + f"{what} of the front points" + (f" (all {same})" if same else ""),
                     loc="left")
        ax.set_xlabel("Energy per training step (J)")
    handles = [Patch(color=colours.get(k, extra.get(k)), label=k) for k in keys]
    fig.legend(handles=handles, loc="outside right upper", title=group.rsplit("_by_", 1)[-1])
    objectives = ", ".join([f"max {m}" for m in c.data.maximize] + [f"min {m}" for m in c.data.minimize])
    shown = f"{len(pts)} of the front points" if len(pts) < len(report_front(c.data)) else "the front points"
    caption = (f"Energy of one training step split by {what.split(' by ')[-1]}, for {shown} ({objectives}), "
               f"largest total first; the number at each bar's end is its total. Each row names the hardware "
               f"and its swept parameters.")
    return _save(fig, out, name, title, caption)


# ----------------------------------------------------------------------------------------------
# 4: one point's cycles, bounds and roofline


def _choose_point(c: _Context) -> pd.Series | None:
    done = c.done
    if done.empty:
        return None
    if c.point:
        p = str(c.point)
        hits = done[done["point_hash"].astype(str) == p]
        if hits.empty:
            hits = done[done["point_hash"].astype(str).str.startswith(p)]
        if hits.empty and "hardware" in done.columns:
            hits = done[done["hardware"].astype(str) == p]
        if len(hits) == 1:
            return hits.iloc[0]
        if hits.empty:
            raise ReportError(f"point {p!r}: no priced point has that hash (or hash prefix, or hardware name)")
        raise ReportError(f"point {p!r} matches {len(hits)} priced points: give more of the hash "
                          f"({', '.join(hits['point_hash'].astype(str).head(5))})")
    with_ops = set(c.data.breakdowns.loc[c.data.breakdowns["grp"] == "cycles_per_step_by_op", "point_hash"])
    f = _front_points_all(c)
    for pool in (f[f["point_hash"].isin(with_ops)], done[done["point_hash"].isin(with_ops)], f, done):
        if not pool.empty:
            keys = [k for k in ("final_test_accuracy", "training_energy_j") if k in pool.columns]
            asc = [k != "final_test_accuracy" for k in keys]
            return pool.sort_values([*keys, "point_hash"], ascending=[*asc, True], kind="stable").iloc[0]
    return None


def _front_points_all(c: _Context) -> pd.DataFrame:
    f = report_front(c.data)
    return c.done[c.done["point_hash"].isin(f["point_hash"])] if not f.empty else c.done.iloc[0:0]


def _ops(c: _Context, point: str) -> pd.DataFrame:
    """Per-op table of one point: cycles, macs, the four unit cycles, bound, phase (execution order)."""
    b = c.data.breakdowns
    groups = ["cycles_per_step_by_op", "macs_by_op", *BOUND_GROUPS.values()]
    b = b[(b["point_hash"] == point) & b["grp"].isin(groups)]
    if b.empty or not (b["grp"] == "cycles_per_step_by_op").any():
        return pd.DataFrame()
    w = b.pivot_table(index="key", columns="grp", values="value", aggfunc="first")
    w = w[w["cycles_per_step_by_op"].notna()]
    for g in groups:
        if g not in w.columns:
            w[g] = 0.0
    w = w.fillna(0.0)
    units = w[[BOUND_GROUPS[k] for k in BOUNDS]].to_numpy(float)
    bound = np.array(BOUNDS, dtype=object)[units.argmax(axis=1)] if len(w) else np.array([], dtype=object)
    bound[units.max(axis=1) <= 0] = "none"
    w["bound"] = bound
    parts = w.index.to_series().str.split("/")
    w["phase"] = parts.map(lambda p: p[1] if len(p) > 1 else "?")
    w["layer"] = parts.map(lambda p: p[0])
    w["order"] = parts.map(lambda p: int(p[-1]) if p[-1].isdigit() else 10 ** 9)
    return w.sort_values(["order"], kind="stable")


def _point_name(row: pd.Series) -> str:
    return f"{row.get('workload', '')} on {row.get('hardware', row['point_hash'])}"


def _cycles_by_phase(c: _Context, out: Path, row: pd.Series, ops: pd.DataFrame) -> Figure | None:
    b = c.data.breakdowns
    ph = b[(b["point_hash"] == row["point_hash"]) & (b["grp"] == "cycles_per_step_by_phase")]
    if ops.empty and ph.empty:
        return None
    fig, axes = _new(9, 4.6)
    ax = axes[0, 0]
    if not ops.empty:
        table = ops.pivot_table(index="phase", columns="bound", values="cycles_per_step_by_op", aggfunc="sum",
                                fill_value=0.0)
    else:
        table = ph.set_index("key")[["value"]].rename(columns={"value": "none"})
    phases = [p for p in PHASE_ORDER if p in table.index] + sorted(p for p in table.index if p not in PHASE_ORDER)
    phases = [p for p in phases if table.loc[p].sum() > 0]
    if not phases:
        return None
    bounds = [k for k in (*BOUNDS, "none") if k in table.columns and table[k].sum() > 0]
    ypos = np.arange(len(phases))
    left = np.zeros(len(phases))
    for k in bounds:
        v = table.loc[phases, k].to_numpy(float)
        ax.barh(ypos, v, left=left, color=BOUND_COLOURS[k], height=0.65, edgecolor="white", linewidth=0.4,
                label=BOUND_LABELS[k] if not ops.empty else "cycles")
        left += v
    total = left.sum()
    for yy, t in zip(ypos, left):
        ax.text(t, yy, f" {_si(t)} ({100 * t / total:.0f} %)", va="center", ha="left", fontsize=8)
    ax.set_yticks(ypos, phases)
    ax.invert_yaxis()
    ax.set_xlim(0, left.max() * 1.2)
    ax.grid(axis="y", visible=False)
    _si_axis(ax, "x")
    ax.set_xlabel("Cycles per training step")
    ax.set_title(f"Cycles per phase: {_point_name(row)}", loc="left")
    if not ops.empty:
        ax.legend(loc="lower right", title="ops that are")
    caption = (f"Cycles of one training step of {_point_name(row)} (point {row['point_hash']}) per phase"
               + (", each bar split by what bounds its ops (the unit with the most busy cycles)." if not ops.empty
                  else "."))
    return _save(fig, out, "cycles_by_phase", "Cycles per phase of the chosen point", caption)


def _op_bounds(c: _Context, out: Path, row: pd.Series, ops: pd.DataFrame) -> Figure | None:
    if ops.empty:
        return None
    busy = ops[ops["cycles_per_step_by_op"] > 0].sort_values("cycles_per_step_by_op", ascending=False, kind="stable")
    if busy.empty:
        return None
    top, rest = busy.iloc[:MAX_OPS], busy.iloc[MAX_OPS:]
    n = len(top) + (1 if len(rest) else 0)
    fig, axes = _new(9, max(3.6, 1.3 + 0.2 * n))
    ax = axes[0, 0]
    labels = list(top.index)
    values = top["cycles_per_step_by_op"].to_numpy(float)
    colours = [BOUND_COLOURS[k] for k in top["bound"]]
    if len(rest):
        labels.append(f"({len(rest)} other ops)")
        values = np.append(values, rest["cycles_per_step_by_op"].sum())
        colours.append("#dddddd")
    ypos = np.arange(len(labels))
    ax.barh(ypos, values, color=colours, height=0.7, edgecolor="white", linewidth=0.3)
    total = busy["cycles_per_step_by_op"].sum()
    log = _scale(ax, "x", values)
    for yy, v in zip(ypos, values):
        ax.text(v, yy, f" {100 * v / total:.1f} %", va="center", ha="left", fontsize=7)
    ax.set_yticks(ypos, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(values.min() / 2 if log else 0, values.max() * (4 if log else 1.15))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Cycles per training step" + (" (log scale)" if log else ""))
    ax.set_title(f"Ops by cycles: {_point_name(row)}", loc="left")
    present = [k for k in (*BOUNDS, "none") if k in set(top["bound"])]
    ax.legend(handles=[Patch(color=BOUND_COLOURS[k], label=BOUND_LABELS[k]) for k in present], loc="lower right")
    shown = f"the {len(top)} longest of {len(busy)} ops" if len(rest) else f"all {len(busy)} ops that take cycles"
    caption = (f"Cycles per training step of {shown} of {_point_name(row)}, longest first, coloured by the unit "
               f"that bounds each op (most busy cycles among PE array, DRAM, shift/align unit and SRAM ports); "
               f"the percentages are shares of the step.")
    return _save(fig, out, "op_bounds", "Per-op cycles and bounds of the chosen point", caption)


def _place_labels(ax, points: list[tuple[float, float, str]], avoid: Sequence = (), fontsize: float = 7) -> None:
    """Annotate data points, each label at the first of a few offsets whose box overlaps no label
    placed before it nor leaves the axes (the layout must be final: display coordinates)."""
    px_per_pt = DPI / 72
    char_w, line_h = 0.58 * fontsize * px_per_pt, 1.25 * fontsize * px_per_pt
    box = ax.get_window_extent()
    placed: list[tuple[float, float, float, float]] = [(b.x0, b.y0, b.x1, b.y1) for b in avoid]
    offsets = ((6, -11, "left"), (6, 4, "left"), (-6, 4, "right"), (-6, -11, "right"), (0, 9, "center"),
               (0, -20, "center"))
    for x, y, text in points:
        X, Y = ax.transData.transform((x, y))
        w = char_w * len(text)
        choice = None
        for dx, dy, ha in offsets:
            x0 = X + dx * px_per_pt - {"left": 0, "right": w, "center": w / 2}[ha]
            y0 = Y + dy * px_per_pt
            rect = (x0, y0, x0 + w, y0 + line_h)
            inside = rect[0] >= box.x0 and rect[2] <= box.x1 and rect[1] >= box.y0 and rect[3] <= box.y1
            clear = all(rect[2] < r[0] or rect[0] > r[2] or rect[3] < r[1] or rect[1] > r[3] for r in placed)
            if inside and clear:
                choice = (dx, dy, ha, rect)
                break
        if choice is None:
            continue            # no room: the op stays unlabelled rather than overprinted
        dx, dy, ha, rect = choice
        placed.append(rect)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va="bottom",
                    fontsize=fontsize, zorder=4)


def _roofline(c: _Context, out: Path, row: pd.Series, ops: pd.DataFrame) -> Figure | None:
    if ops.empty:
        return None
    try:
        peak = float(row["pe_array.rows"]) * float(row["pe_array.cols"])
        bpc = float(row["dram.bytes_per_cycle"])
    except (KeyError, TypeError, ValueError):
        return None
    mm = ops[(ops["macs_by_op"] > 0) & (ops["cycles_per_step_by_op"] > 0)].copy()
    if mm.empty or not (math.isfinite(peak) and math.isfinite(bpc) and peak > 0 and bpc > 0):
        return None
    dram_bytes = mm["dram_cycles_by_op"].to_numpy(float) * bpc
    macs = mm["macs_by_op"].to_numpy(float)
    achieved = macs / mm["cycles_per_step_by_op"].to_numpy(float)
    intensity = np.full(len(mm), np.inf)
    np.divide(macs, dram_bytes, out=intensity, where=dram_bytes > 0)
    finite = np.isfinite(intensity)
    ridge = peak / bpc
    lo_i = min(intensity[finite].min() if finite.any() else ridge, ridge) / 4
    hi_i = max(intensity[finite].max() if finite.any() else ridge, ridge) * 4
    x = np.where(finite, intensity, hi_i / 1.6)
    fig, axes = _new(9, 5.2)
    ax = axes[0, 0]
    xs = np.geomspace(lo_i, hi_i, 200)
    ax.plot(xs, np.minimum(peak, xs * bpc), color="black", lw=1.3, zorder=2)
    ax.axhline(peak, color="black", lw=0.6, ls=":", zorder=1)
    ax.text(hi_i / 1.1, peak * 1.12, f"peak {peak:.0f} MACs/cycle ({_int(row['pe_array.rows'])}×"
            f"{_int(row['pe_array.cols'])} PEs)", ha="right", va="bottom", fontsize=8)
    cycles = mm["cycles_per_step_by_op"].to_numpy(float)
    size = 18 + 260 * cycles / cycles.max()
    bounds = mm["bound"].to_numpy()
    for k in (*BOUNDS, "none"):
        for fin, marker in ((True, "o"), (False, ">")):
            sel = (bounds == k) & (finite == fin)
            if sel.any():
                ax.scatter(x[sel], achieved[sel], s=size[sel], c=BOUND_COLOURS[k], marker=marker, alpha=0.8,
                           edgecolors="black", linewidths=0.5, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo_i, hi_i)
    ax.set_ylim(min(max(achieved.min() / 4, 1e-3), lo_i * bpc), peak * 3)
    ax.set_xlabel("Operational intensity (MACs per DRAM byte)")
    ax.set_ylabel("Achieved MACs per cycle")
    ax.set_title(f"Roofline: {_point_name(row)}", loc="left")
    present = [k for k in (*BOUNDS, "none") if k in set(bounds)]
    handles = [Line2D([], [], ls="", marker="o", ms=7, mfc=BOUND_COLOURS[k], mec="black", mew=0.5,
                      label=BOUND_LABELS[k]) for k in present]
    handles.append(Line2D([], [], color="black", lw=1.3, label="roof: min(peak, intensity × DRAM B/cycle)"))
    if (~finite).any():
        handles.append(Line2D([], [], ls="", marker=">", ms=7, mfc="white", mec="black",
                              label="no DRAM traffic (drawn at right)"))
    ax.legend(handles=handles, loc="lower right")
    fig.draw_without_rendering()        # final layout, so that text can be placed in display coordinates
    fig.set_layout_engine("none")
    x0 = math.sqrt(lo_i * min(ridge, hi_i)) if ridge > lo_i else lo_i * 2
    p0, p1 = ax.transData.transform([(x0, x0 * bpc), (x0 * 10, x0 * 10 * bpc)])
    angle = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))
    slope = ax.annotate(f"DRAM bandwidth {bpc:g} B/cycle", (x0, x0 * bpc), xytext=(-4, 4), textcoords="offset points",
                rotation=angle, rotation_mode="anchor", ha="center", va="bottom", fontsize=8)
    top = np.argsort(-cycles, kind="stable")[:8]
    avoid = [slope.get_window_extent(fig.canvas.get_renderer()), ax.get_legend().get_window_extent()]
    _place_labels(ax, [(x[i], achieved[i], "/".join(mm.index[i].split("/")[:2])) for i in top], avoid)
    caption = (f"Each marker is one MAC op (GEMM or convolution) of a training step of {_point_name(row)}, its size "
               f"the op's share of cycles and its colour what bounds it; an op's DRAM bytes are its DRAM busy "
               f"cycles × {bpc:g} B/cycle. Ops far below the roof lose time to something other than the PE array "
               f"and DRAM bandwidth (SRAM ports, fill/drain, shift/align).")
    return _save(fig, out, "roofline", "Roofline of the chosen point's ops", caption)


# ----------------------------------------------------------------------------------------------
# 5: bit widths


def _series_key(df: pd.DataFrame) -> pd.Series:
    wl = df["workload"].astype(str) if "workload" in df.columns else pd.Series("", index=df.index)
    return wl + " · " + df["_family_name"]


def _varied_widths(done: pd.DataFrame) -> list[str]:
    out = []
    for col in WIDTH_COLUMNS:
        if col not in done.columns:
            continue
        v = done[["_series", col]].dropna()
        if not v.empty and (v.groupby("_series")[col].nunique() > 1).any():
            out.append(col)
    return out


def _bit_widths(c: _Context, out: Path) -> Figure | None:
    acc, energy = "final_test_accuracy", "training_energy_j"
    df = _finite(c.done, [acc, energy])
    if df.empty:
        return None
    df = df.copy()
    df["_family_name"] = [_family_label(r) for r in df.to_dict("records")]
    df["_series"] = _series_key(df)
    widths = _varied_widths(df)
    if not widths:
        return None
    n = len(widths)
    fig, axs = _new(max(6.5, 3.6 * n + 1.8), 6.2, 2, n, sharex="col")
    series = sorted(df["_series"].unique(), key=natural_key)
    fam_colour = colours_for(sorted(df["_family_name"].unique()))
    styles = ("-", "--", ":", "-.")
    styled = {s: styles[i % len(styles)] for i, s in enumerate(sorted(df["workload"].astype(str).unique()))} \
        if "workload" in df.columns else {}
    handles = {}
    for j, col in enumerate(widths):
        top, bottom = axs[0, j], axs[1, j]
        shown = []
        for s in series:
            g = df[df["_series"] == s]
            if g[col].nunique() < 2:
                continue
            shown.append(g)
            fam = g["_family_name"].iloc[0]
            colour = fam_colour[fam]
            ls = styled.get(str(g["workload"].iloc[0]), "-") if styled else "-"
            xv = pd.to_numeric(g[col], errors="coerce").to_numpy(float)
            for ax, ycol, scale in ((top, acc, 100.0), (bottom, energy, 1.0)):
                ax.scatter(xv, g[ycol].to_numpy(float) * scale, s=14, color=colour, alpha=0.3, edgecolors="none",
                           zorder=2)
                med = g.groupby(col)[ycol].median().sort_index()
                ax.plot(med.index.to_numpy(float), med.to_numpy(float) * scale, color=colour, ls=ls, marker="o",
                        ms=5, lw=1.4, zorder=3)
            handles[s] = Line2D([], [], color=colour, ls=ls, marker="o", ms=5, label=s)
        varied = pd.concat(shown)
        vals = sorted(pd.to_numeric(varied[col], errors="coerce").dropna().unique())
        bottom.set_xticks(vals, [_int(v) for v in vals])
        pad = 0.08 * (vals[-1] - vals[0])
        bottom.set_xlim(vals[0] - pad, vals[-1] + pad)
        bottom.set_xlabel(WIDTH_COLUMNS[col])
        top.set_title(f"{WIDTH_COLUMNS[col].split(':')[0]} sweep", loc="left")
        _scale(bottom, "y", varied[energy])
        top.set_ylabel("Final test accuracy (%)" if j == 0 else "")
        bottom.set_ylabel("Training energy (J)" if j == 0 else "")
        top.tick_params(labelbottom=True)
    fig.legend(handles=list(handles.values()), loc="outside right upper", title="workload · datapath")
    names = ", ".join(WIDTH_COLUMNS[w].split(":")[0] for w in widths)
    caption = (f"Final test accuracy (top) and training energy (bottom) against each bit width the sweep varied "
               f"({names}); faint dots are design points, lines join the median at each width per workload and "
               f"datapath, as in WAGE's k_G and k_E studies.")
    return _save(fig, out, "bit_widths", "Accuracy and energy against bit widths", caption)


# ----------------------------------------------------------------------------------------------
# 6: training curves


def _training_curves(c: _Context, out: Path) -> Figure | None:
    b = c.data.breakdowns
    curves = b[b["grp"] == "test_accuracy_by_epoch"]
    done = c.done
    if curves.empty or done.empty:
        return None
    done = done[done["point_hash"].isin(curves["point_hash"])]
    if done.empty:
        return None
    keys = [k for k in ("workload", "algorithm", "pe_array.datatype", "epochs", "batch", "group_key")
            if k in done.columns]
    keys += sorted(k for k in done.columns if k.startswith("numerics."))
    groups = []
    for _, g in done.groupby([done[k].astype(str) for k in keys], sort=True) if keys else [(None, done)]:
        first = g.sort_values("point_hash", kind="stable").iloc[0]
        cur = curves[curves["point_hash"] == first["point_hash"]]
        ep = pd.to_numeric(cur["key"], errors="coerce")
        cur = cur.assign(epoch=ep).dropna(subset=["epoch"]).sort_values("epoch")
        if not cur.empty:
            groups.append((first, cur, len(g)))
    if not groups:
        return None
    total = len(groups)
    if total > MAX_CURVES:
        groups = sorted(groups, key=lambda t: (-float(t[1]["value"].iloc[-1]), t[0]["point_hash"]))[:MAX_CURVES]
    labels = []
    for first, _, _ in groups:
        labels.append(f"{first.get('workload', '')} · {first['_label']}")
    dupes = {l for l in labels if labels.count(l) > 1}
    if dupes:
        labels = [l + (f" · {_int(g[0].get('epochs', ''))} ep · {g[0]['point_hash'][:6]}" if l in dupes else "")
                  for l, g in zip(labels, groups)]
    workloads = sorted({str(g[0].get("workload", "")) for g in groups})
    styles = ("-", "--", ":", "-.")
    wstyle = {w: styles[i % len(styles)] for i, w in enumerate(workloads)}
    fig, axes = _new(9, 5)
    ax = axes[0, 0]
    max_epoch = 1
    order = sorted(range(len(groups)), key=lambda i: natural_key(labels[i]))
    for i in order:
        first, cur, n = groups[i]
        e = cur["epoch"].to_numpy(float)
        max_epoch = max(max_epoch, int(e.max()))
        ax.plot(e, cur["value"].to_numpy(float) * 100, color=first["_colour"],
                ls=wstyle[str(first.get("workload", ""))], marker="o" if len(e) <= 30 else None, ms=3.5, lw=1.5,
                label=f"{labels[i]} ({n} pt{'s' if n > 1 else ''})")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Test accuracy (%)")
    if max_epoch <= 20:
        ax.set_xticks(range(1, max_epoch + 1))
    ax.set_title("Test accuracy per epoch of each distinct training", loc="left")
    fig.legend(loc="outside right upper", title="workload · datapath (points)")
    shown = f"the {len(groups)} best-ending of {total}" if total > len(groups) else f"the {total}"
    caption = (f"Test accuracy after each epoch for {shown} distinct trainings (same workload, algorithm, numerics "
               f"and schedule; the hardware does not change a bit-true training); the count in the legend is how "
               f"many design points share each training.")
    return _save(fig, out, "training_curves", "Training curves", caption)


# ----------------------------------------------------------------------------------------------


def write_figures(data: ReportData, out_dir: Path, point: str | None = None,
                  studies: list | None = None) -> list[Figure]:
    """Draw every figure the data allow into ``out_dir/figures/`` (PNG and SVG, atomically).

    ``point`` picks the point of the per-point figures (a point hash, a unique hash prefix or a
    hardware name; :class:`ReportError` when it matches no or several priced points); by default
    the front point with the best accuracy, then the least energy. Figures without data are
    skipped. ``studies`` are the report's study tables (:func:`.studies.study_tables`, computed
    here when not given), which the study figures draw. Returns the figures written, in page order.
    """
    out = Path(out_dir)
    figures: list[Figure] = []
    with matplotlib.rc_context(RC):
        c = _context(data, point)
        if c.done.empty:
            return figures
        row = _choose_point(c)
        ops = _ops(c, row["point_hash"]) if row is not None else pd.DataFrame()
        makers: list[Callable[[], Figure | None]] = [
            lambda: _accuracy_vs_energy(c, out),
            lambda: _vs_area(c, out, "latency_vs_area", "latency_s_per_epoch", "Latency per epoch (s)",
                             "Latency per epoch vs area", "Latency of one training epoch"),
            lambda: _vs_area(c, out, "energy_vs_area", "energy_j_per_step", "Energy per training step (J)",
                             "Energy per step vs area", "Energy of one training step"),
            lambda: _stacked(c, out, "energy_by_component", "energy_j_per_step_by_component", COMPONENT_ORDER,
                             COMPONENT_COLOURS, "Energy per step by component", "energy per step by component"),
            lambda: _stacked(c, out, "energy_by_phase", "energy_j_per_step_by_phase", PHASE_ORDER,
                             PHASE_COLOURS, "Energy per step by phase", "energy per step by phase"),
        ]
        if row is not None:
            makers += [lambda: _cycles_by_phase(c, out, row, ops), lambda: _op_bounds(c, out, row, ops),
                       lambda: _roofline(c, out, row, ops)]
        from .studies import study_tables
        from .study_figures import bit_width_study, datapath_comparison, tradeoff_study
        tables = study_tables(data) if studies is None else studies
        study = bit_width_study(data, out, tables)
        makers += [lambda: study, lambda: tradeoff_study(data, out, tables), lambda: datapath_comparison(tables, out)]
        if study is None:  # the study draws the widths with seeds and slices; the plain figure otherwise
            makers.append(lambda: _bit_widths(c, out))
        makers.append(lambda: _training_curves(c, out))
        for make in makers:
            fig = make()
            if fig is not None:
                figures.append(fig)
    return figures


__all__ = ["Figure", "colours_for", "datapath_label", "write_figures"]
