"""Timing and action counts of a simulated training step: what the cost model prices."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields


@dataclass
class ActionCounts:
    """Countable hardware actions of one step (or of one phase of it).

    MAC keys name the operand widths, ``"8x2"``, or ``"fp32"`` on a float datapath;
    ``zero_operand_macs`` counts the MACs with a zero operand, expected from the zero
    fractions the trace measured (operands taken as independent). Shift/align keys are
    ``"<op>:<bits>"``, the op at its widest operand.
    """

    macs_by_width: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    zero_operand_macs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sram_read_bits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sram_write_bits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    shift_align_ops: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    random_bits: int = 0
    register_bits: int = 0
    by_phase: dict[str, ActionCounts] = field(default_factory=dict)

    def add(self, other: ActionCounts) -> None:
        """Accumulate ``other``'s counts (not its phases) into this one."""
        for f in fields(self):
            if f.name == "by_phase":
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] += value
            else:
                setattr(self, f.name, mine + theirs)

    def to_json(self) -> dict:
        out = {f.name: dict(sorted(getattr(self, f.name).items())) if isinstance(getattr(self, f.name), dict)
               else getattr(self, f.name) for f in fields(self) if f.name != "by_phase"}
        if self.by_phase:
            out["by_phase"] = {phase: counts.to_json() for phase, counts in self.by_phase.items()}
        return out


@dataclass
class OpTiming:
    """One op's simulated cycles and what bounded it."""

    name: str
    kind: str
    phase: str
    cycles: int
    tiles: int
    compute_cycles: int
    dram_cycles: int
    shift_align_cycles: int
    bound: str
    sram_port_cycles: int = 0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    compulsory_dram_bytes: int = 0
    """GEMM/conv ops: each operand read once and the result written once (0 for other kinds)."""
    mapping: str = ""
    """GEMM/conv ops: ``searched`` or ``fixed`` (the baseline loop order and greedy chunks)."""
    loop_order: str = ""
    """Block loops outer → inner over the GEMM's dimensions (``n>m>k``)."""
    block: dict[str, int] = field(default_factory=dict)
    """A block's extents in M, N and K (searched mappings)."""
    resident: list[str] = field(default_factory=list)
    """Operands kept whole on chip for the op (searched mappings)."""


@dataclass
class Timing:
    """Cycles of one training step, per op, per phase and per component."""

    cycles_per_step: int
    ops: list[OpTiming]
    busy_cycles: dict[str, int]
    events: int

    def phases(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for op in self.ops:
            out[op.phase] += op.cycles
        return dict(out)

    def utilisation(self, macs: int, pes: int) -> float:
        return macs / (pes * self.cycles_per_step) if self.cycles_per_step else 0.0
