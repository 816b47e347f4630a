"""Figures of the paper studies (:mod:`.studies`): a bit-width study with its seed spread beside a
paper's curve, and integer vs float32 on the same silicon beside the op-count model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .figures import COMPONENT_COLOURS, Figure, _new, _save, colours_for, natural_key
from .studies import STUDY_WIDTHS, datapath_pairs, reference, width_slices, width_table

PAPER_COLOUR = "#7f7f7f"


def bit_width_study(data, out: Path) -> Figure | None:
    """Test error against each studied width (mean over seeds, min–max bars; the paper's
    published error on the right axis) and the energy per step on each base accelerator."""
    slices = width_slices(data)
    if not slices:
        return None
    ref = reference(data)
    cols = list(slices)
    n = len(cols)
    fig, axs = _new(max(6.5, 4.2 * n + 1.5), 6.4, 2, n, sharex="col")
    bases = sorted({b for s in slices.values() for b in s["hardware"].map(_base)}, key=natural_key)
    base_colour = colours_for(bases)
    handles: dict[str, Line2D] = {}
    for j, col in enumerate(cols):
        name = STUDY_WIDTHS[col]
        t = width_table(data, col, slices[col])
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
            c = f"energy_mj_per_step:{base}"
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
    names = ", ".join(STUDY_WIDTHS[c] for c in cols)
    caption = (f"Top: test error after training against each width studied ({names}), every other width at its "
               f"most common value; the mean over seeds with min–max bars, and the paper's published error on the "
               f"right axis (a different data set and training length: compare the shape, not the level). Bottom: "
               f"the simulated energy of one training step on each base accelerator, whose datapath follows the "
               f"widths (MACs priced at the operand widths, SRAM and DRAM traffic at the tensors' bits).")
    return _save(fig, out, "bit_width_study", "Bit-width study beside the paper", caption)


def _base(name: str) -> str:
    from .figures import _base_hardware
    return _base_hardware(name)


def datapath_comparison(data, out: Path) -> Figure | None:
    """Per workload and accelerator: energy per step (by component) and training memory of the
    integer and the float32 datapath, with the op-count model's float/integer ratio marked."""
    pairs = datapath_pairs(data)
    if pairs is None or pairs.empty:
        return None
    extra = [c for c in pairs.columns if c not in ("workload", "hardware") and not c.startswith(("int_", "fp32_"))
             and not c.endswith("_pct") and not c.startswith(("notebook_", "same_ops"))]
    pairs = pairs.copy()
    pairs["_label"] = [" ".join([h, *(f"{c}={v}" for c, v in zip(extra, r) if pd.notna(v))])
                       for h, r in zip(pairs["hardware"], pairs[extra].itertuples(index=False, name=None))]
    workloads = sorted(pairs["workload"].unique(), key=natural_key)
    fig, axs = _new(max(7.5, 3.6 * len(workloads) + 1.5), 7.0, 2, len(workloads))
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
            a.set_xticks(xs, g["_label"], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("Energy per step (mJ)" if j == 0 else "")
        mem.set_ylabel("Training memory (MB)" if j == 0 else "")
    handles = [Line2D([], [], ls="", marker="s", ms=9, mfc=colours[p], mec="none", label=l) for p, l in parts]
    handles += [Line2D([], [], ls="", marker="s", ms=9, mfc=colours["other"], mec="none", label="shift/align, random"),
                Line2D([], [], ls="", marker="s", ms=9, mfc="white", mec="black", label="left bar: integer"),
                Line2D([], [], ls="", marker="s", ms=9, mfc="white", mec="black", label="right bar (hatched): float32")]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=8)
    caption = ("Top: simulated energy of one training step of the integer datapath (left bars) and the float32 datapath "
               "of the same array and memories (right, hatched), by component, with the saving marked; the title "
               "gives the authors' op-count model (Horowitz per-op energies, arithmetic only, against float32 "
               "backprop). Bottom: training memory (weights, the activations kept for backward, the largest "
               "gradient buffer) at each datapath's widths.")
    return _save(fig, out, "int_vs_fp32", "Integer vs float32 on the same silicon", caption)


__all__ = ["bit_width_study", "datapath_comparison"]
