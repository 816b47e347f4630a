"""Regenerate ``cacti_sram_sweep.csv``, the CACTI grid behind the default SRAM table.

Needs the optional hwcomponents backend (``make hwc``); run it with that interpreter:
``.venv-hwc/bin/python -m archsim.cost.make_cacti_grid``. One single-bank CACTI run per
(node, capacity, word width): a few minutes, memoised in archsim's cache.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..fileio import write_csv
from . import hwc_backend
from .table import CostTable

CAPACITIES_KB = (8, 32, 64, 128, 256, 512, 1024)
WORD_BITS = (64, 128, 256, 512, 1024)
OUT = Path(__file__).with_name("cacti_sram_sweep.csv")


def main() -> None:
    nodes = CostTable.load().nodes_nm
    rows = []
    for node in nodes:
        for kb in CAPACITIES_KB:
            for bits in WORD_BITS:
                c = hwc_backend.sram_cost(kb * 1024, bits, node)
                rows.append([node, kb, bits] + [f"{v:.6g}" for v in (c.read_pj_per_access, c.write_pj_per_access,
                                                                       c.area_mm2, c.leakage_mw)])
                print(*rows[-1], file=sys.stderr, flush=True)
    header = ["node_nm", "capacity_kB", "word_bits", "read_pJ", "write_pJ", "area_mm2", "leakage_mW"]
    write_csv(OUT, [dict(zip(header, row)) for row in rows])
    print(f"wrote {OUT} ({len(rows)} points)")


if __name__ == "__main__":
    main()
