"""Figures of the paper studies (:mod:`.studies`): a bit-width study with its seed spread beside a
paper's curve, and integer vs float32 on the same silicon beside the op-count model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .figures import COMPONENT_COLOURS, Figure, _base_hardware, _new, _save, _short_axis, colours_for, natural_key
from .studies import ENERGY_PREFIX, STUDY_WIDTHS, StudyTable, reference, series_label

PAPER_COLOUR = "#7f7f7f"
MAX_PAIRS = 9
"""Above this many integer/float32 pairs per workload the comparison draws three of them."""


def _plain(v) -> str:
    """A table value as a short label: 512.0 → 512."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _table(tables: list[StudyTable], name: str) -> pd.DataFrame | None:
    return next((st.table for st in tables if st.name == name), None)


def bit_width_study(data, out: Path, tables: list[StudyTable]) -> Figure | None:
    """Test error against each studied width (mean over seeds, min–max bars; the paper's
    published error on the right axis) and the energy per step on each base accelerator."""
    widths = [(st.table.columns[0], st.table) for st in tables if st.table.columns[0] in STUDY_WIDTHS.values()]
    if not widths:
        return None
    ref = reference(data)
    n = len(widths)
    fig, axs = _new(max(6.5, 4.2 * n + 1.5), 6.4, 2, n, sharex="col")
    bases = sorted({c.removeprefix(ENERGY_PREFIX) for _, t in widths for c in t.columns if c.startswith(ENERGY_PREFIX)},
                   key=natural_key)
    base_colour = colours_for(bases)
    handles: dict[str, Line2D] = {}
    for j, (name, t) in enumerate(widths):
        top, bottom = axs[0, j], axs[1, j]
        x = t[name].to_numpy(float)
        mean = t["error_pct_mean"].to_numpy(float)
        lo, hi = mean - t["error_pct_min"].to_numpy(float), t["error_pct_max"].to_numpy(float) - mean
        top.errorbar(x, mean, yerr=[lo, hi], color="#1f77b4", marker="o", ms=5, lw=1.6, capsize=3, zorder=3)
        handles["archsim"] = Line2D([], [], color="#1f77b4", marker="o", label=(
            f"archsim, mean over {int(t['seeds'].max())} seed(s) (bars: min–max)"))
        top.set_ylabel("Test error (%), archsim" if j == 0 else "")
        top.set_title(f"{name} study", loc="left")
        if t["paper_error_pct"].notna().any():
            twin = top.twinx()
            p = t.dropna(subset=["paper_error_pct"])
            twin.plot(p[name], p["paper_error_pct"], color=PAPER_COLOUR, ls="--", marker="s", ms=4, lw=1.2)
            twin.set_ylabel("paper's test error (%)", color=PAPER_COLOUR)
            twin.tick_params(axis="y", colors=PAPER_COLOUR)
            handles["paper"] = Line2D([], [], color=PAPER_COLOUR, ls="--", marker="s",
                                      label=f"paper: {ref.get('source', 'published')} (right axis)")
        for base in bases:
            c = f"{ENERGY_PREFIX}{base}"
            if c in t.columns:
                bottom.plot(x, t[c], color=base_colour[base], marker="o", ms=4, lw=1.4)
                handles[f"hw:{base}"] = Line2D([], [], color=base_colour[base], marker="o",
                                               label=f"energy per step on {base}")
        bottom.set_yscale("log")
        bottom.set_xlabel(f"{name} (bits)")
        bottom.set_xticks(x, [str(int(v)) for v in x])
        bottom.set_ylabel("Energy per training step (mJ)" if j == 0 else "")
        top.tick_params(labelbottom=True)
    fig.legend(handles=list(handles.values()), loc="outside lower center", ncol=2)
    names = ", ".join(name for name, _ in widths)
    caption = (f"Top: test error after training against each width studied ({names}), every other width at its "
               f"most common value; the mean over seeds with min–max bars, and the paper's published error on the "
               f"right axis (a different data set and training length: compare the shape, not the level). Bottom: "
               f"the simulated energy of one training step on each base accelerator, whose datapath follows the "
               f"widths (MACs priced at the operand widths, SRAM and DRAM traffic at the tensors' bits).")
    return _save(fig, out, "bit_width_study", "Bit-width study beside the paper", caption)


def datapath_comparison(tables: list[StudyTable], out: Path) -> Figure | None:
    """Per workload and accelerator: energy per step (by component) and training memory of the
    integer and the float32 datapath, with the op-count model's float/integer ratio marked."""
    pairs = _table(tables, "study_int_vs_fp32")
    if pairs is None or pairs.empty:
        return None
    extra = [c for c in pairs.columns if c not in ("workload", "hardware") and not c.startswith(("int_", "fp32_"))
             and not c.endswith("_pct") and not c.startswith(("notebook_", "same_ops"))
             and pairs[c].nunique(dropna=True) > 1]
    extra = [c for i, c in enumerate(extra) if not any(pairs[c].equals(pairs[o]) for o in extra[:i])]  # coupled
    pairs = pairs.copy()
    one_base = pairs["hardware"].nunique() == 1
    pairs["_label"] = ["\n".join([*([] if one_base and extra else [h]),
                                  *(f"{_short_axis(c)}={_plain(v)}" for c, v in zip(extra, r) if pd.notna(v))])
                       for h, r in zip(pairs["hardware"], pairs[extra].itertuples(index=False, name=None))]
    shown, total = [], len(pairs)
    for _, g in pairs.groupby("workload", sort=False):   # many pairs: the least, median and most energy
        if len(g) > MAX_PAIRS:
            g = g.sort_values("int_energy_mj", kind="stable")
            g = g.iloc[sorted({0, len(g) // 2, len(g) - 1})]
        shown.append(g)
    pairs = pd.concat(shown)
    workloads = sorted(pairs["workload"].unique(), key=natural_key)
    widest = max(int((pairs["workload"] == wl).sum()) for wl in workloads)
    fig, axs = _new(max(7.5, max(3.6, 0.85 * widest) * len(workloads) + 1.5), 7.0, 2, len(workloads))
    parts = [("pe_array", "PE array"), ("sram", "SRAM"), ("dram", "DRAM")]
    colours = {"pe_array": COMPONENT_COLOURS["pe_array"], "sram": COMPONENT_COLOURS.get("sram.input", "#8fb3de"),
               "dram": COMPONENT_COLOURS.get("dram", "#c44e52"), "other": "#bbbbbb"}
    for j, wl in enumerate(workloads):
        g = pairs[pairs["workload"] == wl].sort_values("_label", key=lambda s: s.map(natural_key))
        ax, mem = axs[0, j], axs[1, j]
        xs = np.arange(len(g))
        for k, (dt, off, hatch) in enumerate((("int", -0.2, ""), ("fp32", 0.2, "//"))):
            bottom = np.zeros(len(g))
            for part, _ in parts:
                v = g[f"{dt}_{part}_mj"].to_numpy(float) if f"{dt}_{part}_mj" in g else np.zeros(len(g))
                ax.bar(xs + off, v, 0.38, bottom=bottom, color=colours[part], hatch=hatch, edgecolor="white", lw=0.3)
                bottom += np.nan_to_num(v)
            rest = g[f"{dt}_energy_mj"].to_numpy(float) - bottom
            ax.bar(xs + off, np.clip(rest, 0, None), 0.38, bottom=bottom, color=colours["other"], hatch=hatch,
                   edgecolor="white", lw=0.3)
            mem.bar(xs + off, g[f"{dt}_memory_mb"], 0.38, color="#4c72b0" if dt == "int" else "#dd8452", hatch=hatch,
                    edgecolor="white", lw=0.3)
        for x, (_, r) in zip(xs, g.iterrows()):
            ax.annotate(f"−{r['energy_saving_pct']:.0f} %", (x, r["fp32_energy_mj"]), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=7.5)
            mem.annotate(f"−{r['memory_saving_pct']:.0f} %", (x, r["fp32_memory_mb"]), xytext=(0, 3),
                         textcoords="offset points", ha="center", fontsize=7.5)
        if "notebook_energy_saving_pct" in g and g["notebook_energy_saving_pct"].notna().any():
            r = g.iloc[0]
            ax.set_title(f"{wl}\nop-count model: −{r['notebook_energy_saving_pct']:.0f} % energy, "
                         f"−{r['notebook_memory_saving_pct']:.0f} % memory", loc="left", fontsize=9)
        else:
            ax.set_title(wl, loc="left")
        for a in (ax, mem):
            a.set_xticks(xs, g["_label"], fontsize=7.5)
        ax.set_ylabel("Energy per step (mJ)" if j == 0 else "")
        mem.set_ylabel("Training memory (MB)" if j == 0 else "")
    handles = [Line2D([], [], ls="", marker="s", ms=9, mfc=colours[p], mec="none", label=l) for p, l in parts]
    handles += [Line2D([], [], ls="", marker="s", ms=9, mfc=colours["other"], mec="none", label="shift/align, random"),
                Line2D([], [], ls="", marker="s", ms=9, mfc="white", mec="black", label="left bar: integer"),
                Line2D([], [], ls="", marker="s", ms=9, mfc="white", mec="black", label="right bar (hatched): float32")]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=8)
    picked = (f" With more than {MAX_PAIRS} pairs per workload, the pairs of least, median and most integer energy "
              f"are drawn ({len(pairs)} of {total}; all are in study_int_vs_fp32.csv)." if len(pairs) < total else "")
    caption = ("Top: simulated energy of one training step of the integer datapath (left bars) and the float32 datapath "
               "of the same array and memories (right, hatched), by component, with the saving marked; the title "
               "gives the authors' op-count model (Horowitz per-op energies, arithmetic only, against float32 "
               "backprop). Bottom: training memory (weights, the activations kept for backward, the largest "
               "gradient buffer) at each datapath's widths." + picked)
    return _save(fig, out, "int_vs_fp32", "Integer vs float32 on the same silicon", caption)


def _front(df: pd.DataFrame) -> pd.DataFrame:
    """Points no other point beats on both (more accuracy for no more energy)."""
    d = df.sort_values(["training_energy_j", "final_test_accuracy"], ascending=[True, False])
    best, keep = -np.inf, []
    for i, a in zip(d.index, d["final_test_accuracy"]):
        if a > best:
            keep.append(i)
            best = a
    return d.loc[keep]


def tradeoff_study(data, out: Path, tables: list[StudyTable]) -> Figure | None:
    """Accuracy against training energy per workload · datapath, across the hardware axes: each
    series' own front, the front of all, and which array size each point has."""
    if _table(tables, "study_series") is None:
        return None
    done = data.done.dropna(subset=["final_test_accuracy", "training_energy_j"])
    done = done[done["training_energy_j"] > 0]
    done = done.assign(series=[series_label(r) for r in done.to_dict("records")])
    series = sorted(done["series"].unique(), key=natural_key)
    colours = colours_for(series)
    size_axis = next((c for c in ("axis:pe_array.rows", "pe_array.rows") if c in done.columns), None)
    sizes = sorted(done[size_axis].dropna().unique()) if size_axis else []
    markers = dict(zip(sizes, ("o", "s", "^", "D", "v", "P", "X")))
    mem_axis = next((c for c in done.columns if c.startswith("axis:sram.banks") and done[c].nunique() > 1), None)
    mems = sorted(done[mem_axis].unique()) if mem_axis else []
    msize = {m: 18 + 30 * i for i, m in enumerate(mems)}
    fig, axs = _new(10.5, 6.2)
    ax = axs[0, 0]
    for name in series:
        g = done[done["series"] == name]
        for size, gs in g.groupby(size_axis) if size_axis else [(None, g)]:
            ax.scatter(gs["training_energy_j"], gs["final_test_accuracy"] * 100, color=colours[name],
                       marker=markers.get(size, "o"), s=[msize.get(v, 24) for v in gs[mem_axis]] if mem_axis else 24,
                       alpha=0.55, edgecolors="none", zorder=2)
        f = _front(g)
        ax.plot(f["training_energy_j"], f["final_test_accuracy"] * 100, color=colours[name], lw=1.0, zorder=3)
    front = _front(done)
    ax.step(front["training_energy_j"], front["final_test_accuracy"] * 100, where="post", color="black", lw=1.6,
            zorder=4)
    ax.scatter(front["training_energy_j"], front["final_test_accuracy"] * 100, s=60, facecolors="none",
               edgecolors="black", lw=1.3, zorder=5)
    ax.set_xscale("log")
    ax.set_xlabel("Training energy, whole training (J)")
    ax.set_ylabel("Final test accuracy (%)")
    ax.set_title("Accuracy vs training energy, per workload and datapath", loc="left")
    handles = [Line2D([], [], color=colours[n], marker="o", ls="-", lw=1, label=n) for n in series]
    handles += [Line2D([], [], ls="", marker=markers[z], mfc="white", mec="black", label=f"array {int(z)}×{int(z)}")
                for z in sizes]
    handles += [Line2D([], [], ls="", marker="o", ms=(msize[m] ** 0.5), mfc="#999999", mec="none",
                       label=f"SRAM banks {int(m)} KiB") for m in mems]
    handles.append(Line2D([], [], color="black", lw=1.6, marker="o", mfc="none", label="front of all points"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    caption = ("Every priced point: final test accuracy against the energy of the whole training, coloured by workload "
               "and datapath, the marker giving the PE array and its size the SRAM banks; a thin line joins each "
               "series' own front (more accuracy for less energy as the hardware varies), the black step the front of "
               "all points. A series sits on one accuracy (the hardware never changes a bit-true training) and spreads "
               "over the energies its hardware points need.")
    return _save(fig, out, "tradeoff_front", "Accuracy vs training energy per algorithm and datapath", caption)


__all__ = ["bit_width_study", "datapath_comparison", "tradeoff_study"]
