"""archsim's default cost backend: the sourced table in ``table.yaml`` and its scaling rules.

Widths: between anchors values are interpolated linearly; outside they scale from the
nearest anchor, linearly in the width (adders, comparators, registers, muxes) or in the
product of the two widths (multipliers). SRAM: Horowitz's 64-bit read energy, log-log
in capacity between anchors, sets the level; wider words and other nodes scale it by
by CACTI's ratios. Nodes: logic scales by per-node factors relative to 45 nm, SRAM by its
CACTI grid at that node; nodes without data are refused. At 45 nm every anchor is returned
exactly, so the Horowitz figures come back unchanged.
"""
from __future__ import annotations

import bisect
import functools
import csv
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from .sram_cost import SramCost

TABLE_FILE = Path(__file__).with_name("table.yaml")


class CostError(ValueError):
    """A cost query the table cannot answer (message is user-facing and lists what is known)."""


@dataclass(frozen=True)
class NodeFactors:
    """Scaling of logic energy and area from 45 nm to one node (SRAM scales through its CACTI grid)."""

    logic_energy: float
    logic_area: float


def _linear(anchors: dict[int, float], x: float) -> float:
    """Piecewise linear through the anchors; proportional to x beyond them."""
    keys = sorted(anchors)
    if x <= keys[0]:
        return anchors[keys[0]] * x / keys[0]
    if x >= keys[-1]:
        return anchors[keys[-1]] * x / keys[-1]
    i = bisect.bisect_left(keys, x)
    lo, hi = keys[i - 1], keys[i]
    return anchors[lo] + (anchors[hi] - anchors[lo]) * (x - lo) / (hi - lo)


def _loglog(anchors: dict[int, float], x: float) -> float:
    """Piecewise linear in log-log space; the nearest segment's slope beyond the anchors."""
    if x in anchors:
        return float(anchors[x])
    keys = sorted(anchors)
    i = min(max(bisect.bisect_left(keys, x), 1), len(keys) - 1)
    lo, hi = keys[i - 1], keys[i]
    slope = math.log(anchors[hi] / anchors[lo]) / math.log(hi / lo)
    return anchors[lo] * (x / lo) ** slope


class CostTable:
    """The default table, loaded from YAML (``safe_load``)."""

    def __init__(self, data: dict, source: str) -> None:
        self.data, self.source = data, source

    @classmethod
    def load(cls, path: str | Path | None = None) -> "CostTable":
        """The table at ``path``; the shipped default is read once per process and shared (it is
        only read, and re-reading the YAML and the CACTI grid costs ~50 ms per cost model)."""
        if path is None or Path(path) == TABLE_FILE:
            return _default_table()
        path = Path(path)
        return cls(yaml.safe_load(path.read_text()), str(path))

    @cached_property
    def nodes_nm(self) -> tuple[int, ...]:
        return tuple(sorted(int(n) for n in self.data["nodes"]["factors"]))

    def node(self, node_nm: int) -> NodeFactors:
        """Factors from 45 nm to ``node_nm``."""
        factors = self.data["nodes"]["factors"].get(node_nm)
        if factors is None:
            raise CostError(f"technology node {node_nm} nm has no cost data; known nodes: "
                            f"{', '.join(f'{n} nm' for n in self.nodes_nm)}")
        return NodeFactors(*map(float, factors))

    def logic(self, name: str, bits: int, bits_b: int | None = None) -> tuple[float, float]:
        """(energy pJ, area µm²) at 45 nm of one primitive at a width (two widths for a multiplier)."""
        entry = self.data["logic"].get(name)
        if entry is None:
            raise CostError(f"the cost table has no component '{name}'; known: {', '.join(sorted(self.data['logic']))}")
        scaling = entry["scaling"]
        if scaling == "fixed":
            return float(next(iter(entry["energy_pj"].values()))), float(next(iter(entry["area_um2"].values())))
        if scaling == "product":
            x = bits * (bits if bits_b is None else bits_b)
            return (_linear({w * w: v for w, v in entry["energy_pj"].items()}, x),
                    _linear({w * w: v for w, v in entry["area_um2"].items()}, x))
        return _linear(entry["energy_pj"], bits), _linear(entry["area_um2"], bits)

    def unit(self, name: str, bits: int) -> tuple[float, float]:
        """(energy pJ, area µm²) at 45 nm of a primitive or a composite unit at one width."""
        if name == "barrel_shifter":  # w · log2(w) 2:1 mux bits
            e, a = self.logic("mux2", 1)
            stages = max(1, math.ceil(math.log2(max(bits, 2))))
            return e * bits * stages, a * bits * stages
        if name == "mux2_word":
            return self.logic("mux2", bits)
        if name == "constant_divider":  # multiply by a reciprocal, fix the truncation with an add
            (em, am), (ea, aa) = self.logic("int_mult", bits), self.logic("int_add", bits)
            return em + ea, am + aa
        if name == "random_bit":  # one LFSR stage: a flip-flop and an XOR tap
            (er, ar), (ex, ax) = self.logic("register", 1), self.logic("mux2", 1)
            return er + ex, ar + ax
        return self.logic(name, bits)

    def shift_align_op_pj(self, kind: str, bits: int, fp32: bool = False) -> float:
        """Energy at 45 nm of one element of a shift/align op (the sum of its units)."""
        ops = self.data["shift_align_ops"]
        if kind not in ops:
            raise CostError(f"the cost table has no shift/align operation '{kind}'; known: {', '.join(sorted(ops))}")
        units = self.data["fp32_shift_align_op"] if fp32 else ops[kind]
        return sum(self.unit(u, 32 if fp32 else bits)[0] for u in units)

    @cached_property
    def cacti_grid(self) -> dict[tuple[str, int], dict[int, dict[int, float]]]:
        """(quantity, node) → capacity kB → word bits → value, from the shipped CACTI sweep."""
        grid: dict[tuple[str, int], dict[int, dict[int, float]]] = {}
        with open(Path(self.source).with_name(self.data["sram"]["cacti_grid"]), newline="") as f:
            for row in csv.DictReader(f):
                for q in ("read_pJ", "write_pJ", "area_mm2", "leakage_mW"):
                    by_kb = grid.setdefault((q, int(row["node_nm"])), {})
                    by_kb.setdefault(int(row["capacity_kB"]), {})[int(row["word_bits"])] = float(row[q])
        return grid

    def _cacti(self, quantity: str, node_nm: int, kb: float, word_bits: int) -> float:
        """A CACTI grid quantity at a node, log-log interpolated in word width, then in capacity."""
        by_kb = self.cacti_grid.get((quantity, node_nm))
        if by_kb is None:
            raise CostError(f"the SRAM grid has no {node_nm} nm data; regenerate it with "
                            "`.venv-hwc/bin/python -m archsim.cost.make_cacti_grid`")
        return _loglog({c: _loglog(by_w, word_bits) for c, by_w in by_kb.items()}, kb)

    def sram_extrapolation(self, capacity_bytes: int, word_bits: int, node_nm: int) -> str | None:
        """Why a bank lies outside the shipped CACTI grid (its cost is extrapolated), or None."""
        by_kb = self.cacti_grid.get(("read_pJ", node_nm)) or {}
        if not by_kb:
            return None
        kb = capacity_bytes / 1024
        widths = sorted({w for by_w in by_kb.values() for w in by_w})
        out = []
        if not min(by_kb) <= kb <= max(by_kb):
            out.append(f"{kb:g} KiB is outside the grid's {min(by_kb)}..{max(by_kb)} KiB")
        if not widths[0] <= word_bits <= widths[-1]:
            out.append(f"{word_bits}-bit words are outside the grid's {widths[0]}..{widths[-1]} bits")
        return "; ".join(out) or None

    def sram(self, capacity_bytes: int, word_bits: int, node_nm: int) -> SramCost:
        """One single-port SRAM bank at ``node_nm``: Horowitz's 64-bit read energy at 45 nm for
        the level, CACTI's ratios for word width and node, CACTI's area and leakage."""
        self.node(node_nm)  # a clear error for an unknown node
        kb = capacity_bytes / 1024
        read_cacti = self._cacti("read_pJ", node_nm, kb, word_bits)
        level = _loglog(self.data["sram"]["read_pj_64b"], kb) / self._cacti("read_pJ", 45, kb, 64)
        return SramCost(read_pj_per_access=level * read_cacti,
                        write_pj_per_access=level * self._cacti("write_pJ", node_nm, kb, word_bits),
                        area_mm2=self._cacti("area_mm2", node_nm, kb, word_bits),
                        leakage_mw=self._cacti("leakage_mW", node_nm, kb, word_bits),
                        source="archsim table (Horowitz 64-bit reads at 45 nm; CACTI's width and node "
                               "ratios, area and leakage)")

    def sram_extra_port_area(self) -> float:
        return float(self.data["sram"]["extra_port_area"])

    def dram_pj_per_bit(self, kind: str) -> float:
        entry = self.data["dram_pj_per_bit"].get(kind)
        if entry is None:
            raise CostError(f"DRAM type '{kind}' has no energy data; known: "
                            f"{', '.join(sorted(self.data['dram_pj_per_bit']))}")
        return float(entry["value"])

    def logic_leakage_nw_per_um2(self) -> float:
        return float(self.data["logic_leakage_nw_per_um2"]["value"])

    def overhead_area_fraction(self) -> float:
        return float(self.data["overhead_area_fraction"]["value"])


@functools.lru_cache(maxsize=1)
def _default_table() -> CostTable:
    return CostTable(yaml.safe_load(TABLE_FILE.read_text()), str(TABLE_FILE))
