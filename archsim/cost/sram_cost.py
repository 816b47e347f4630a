"""What any cost backend reports for one SRAM macro (one bank)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SramCost:
    """Energy per access of one word, area and leakage of one SRAM bank."""

    read_pj_per_access: float   # one read of word_bits
    write_pj_per_access: float  # one write of word_bits
    area_mm2: float
    leakage_mw: float
    source: str                 # which model / table produced the numbers
