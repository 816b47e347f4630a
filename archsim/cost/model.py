"""Prices a simulated step: energy per action, area and leakage per component.

Components: the PE array (MACs and the registers operands pass through), one entry per
SRAM bank, DRAM, the shift/align unit and the random-bit source, plus an area overhead.
Energy of a component = Σ actions × energy per action + leakage power × runtime; the
report keeps every (action, count, energy each) so the sum can be checked.

MACs are priced at the operand widths the trace records (a 2-bit-weight MAC costs a 2×8
multiplier, as on a precision-scalable datapath), plus an adder of the PE's accumulator
width; a float32 datapath prices float32 multiply-add. With ``zero_gating`` a MAC with a
zero operand skips its arithmetic and costs only the zero detectors (its registers still
latch, counted under ``register``). Area uses the hardware's widths.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config.hardware import HardwareSpec
from ..hw.actions import ActionCounts, Timing
from ..hw.mapping import AccessEnergies
from .sram_cost import SramCost
from .table import CostError, CostTable, NodeFactors

PJ_PER_J = 1e12


@dataclass
class ActionPrice:
    """One priced action: how many, and the energy of each."""

    action: str
    count: float
    pj_each: float

    @property
    def pj(self) -> float:
        return self.count * self.pj_each


@dataclass
class ComponentCost:
    """One component's actions, leakage and area over one step (or one phase)."""

    name: str
    actions: list[ActionPrice] = field(default_factory=list)
    leakage_mw: float = 0.0
    area_mm2: float = 0.0

    @property
    def dynamic_pj(self) -> float:
        return sum(a.pj for a in self.actions)

    def leakage_pj(self, runtime_s: float) -> float:
        return self.leakage_mw * 1e-3 * runtime_s * PJ_PER_J

    def energy_pj(self, runtime_s: float) -> float:
        return self.dynamic_pj + self.leakage_pj(runtime_s)


@dataclass
class CostReport:
    """Energy, area and power of one training step on one accelerator."""

    components: dict[str, ComponentCost]
    runtime_s: float
    overhead_area_mm2: float
    phase_energy_pj: dict[str, float]
    macs: int

    @property
    def energy_pj(self) -> float:
        return sum(c.energy_pj(self.runtime_s) for c in self.components.values())

    @property
    def area_mm2(self) -> float:
        return sum(c.area_mm2 for c in self.components.values()) + self.overhead_area_mm2

    @property
    def avg_power_w(self) -> float:
        return self.energy_pj / PJ_PER_J / self.runtime_s if self.runtime_s else 0.0

    @property
    def tops_per_w(self) -> float:
        """Tera-operations (2 per MAC) per second per watt = operations per pJ."""
        return 2 * self.macs / self.energy_pj if self.energy_pj else 0.0

    def to_json(self) -> dict:
        return {"energy_pj_per_step": self.energy_pj, "runtime_s_per_step": self.runtime_s,
                "area_mm2": self.area_mm2, "avg_power_w": self.avg_power_w, "tops_per_w": self.tops_per_w,
                "energy_pj_by_component": {n: c.energy_pj(self.runtime_s) for n, c in self.components.items()},
                "area_mm2_by_component": {**{n: c.area_mm2 for n, c in self.components.items()},
                                          "overhead": self.overhead_area_mm2},
                "energy_pj_by_phase": self.phase_energy_pj,
                "components": {n: {"actions": [vars(a) for a in c.actions], "leakage_mw": c.leakage_mw,
                                   "area_mm2": c.area_mm2} for n, c in self.components.items()}}


def _mac_widths(key: str) -> tuple[int, int]:
    a, _, b = key.partition("x")
    return int(a), int(b)


class CostModel:
    """Per-action energies, areas and leakage of one hardware spec, from a backend."""

    def __init__(self, hw: HardwareSpec, table: CostTable | None = None, sram_backend: str = "table") -> None:
        self.hw = hw
        self.table = table or CostTable.load()
        try:
            self.node: NodeFactors = self.table.node(hw.technology_nm)
            self.dram_pj_per_bit = self.table.dram_pj_per_bit(hw.dram.kind)
        except CostError as exc:
            key = "technology_nm" if "node" in str(exc) else "dram.type"
            raise CostError(f"{hw.source_file}: {key}: {exc}") from None
        self.fp32 = hw.array.datatype == "fp32"
        self.sram = {b.name: self._sram(b.kbytes * 1024, b.word_bits, sram_backend) for b in hw.banks}
        self.warnings: list[str] = []
        """Where a price is extrapolated beyond its source data (shown to the user, kept in results)."""
        if sram_backend == "table":
            for i, b in enumerate(hw.banks):
                why = self.table.sram_extrapolation(b.kbytes * 1024, b.word_bits, hw.technology_nm)
                if why:
                    self.warnings.append(f"{hw.source_file}: sram.banks[{i}] ({b.name}): {why}; its energy, area "
                                         "and leakage are extrapolated from the CACTI grid")

    def _sram(self, capacity_bytes: int, word_bits: int, backend: str) -> SramCost:
        if backend == "table":
            return self.table.sram(capacity_bytes, word_bits, self.hw.technology_nm)
        if backend == "hwcomponents":
            from . import hwc_backend
            try:
                return hwc_backend.sram_cost(capacity_bytes, word_bits, self.hw.technology_nm)
            except (RuntimeError, ValueError) as exc:
                raise CostError(f"{self.hw.source_file}: SRAM backend hwcomponents: {exc}") from None
        raise CostError(f"unknown SRAM cost backend '{backend}'; known: table, hwcomponents")

    # --- energies per action at this node -------------------------------------------------
    def _logic_pj(self, name: str, bits: int, bits_b: int | None = None) -> float:
        return self.table.logic(name, bits, bits_b)[0] * self.node.logic_energy

    def _unit_pj(self, name: str, bits: int) -> float:
        return self.table.unit(name, bits)[0] * self.node.logic_energy

    def mac_pj(self, key: str) -> float:
        """One MAC's arithmetic: multiplier at the operand widths plus the accumulator's adder."""
        if key == "fp32":
            return self._logic_pj("fp32_mult", 32) + self._logic_pj("fp32_add", 32)
        a, b = _mac_widths(key)
        return self._logic_pj("int_mult", a, b) + self._logic_pj("int_add", self.hw.array.accumulator_bits)

    def zero_detect_pj(self, key: str) -> float:
        """Checking both operands for zero (a comparator per operand width)."""
        a, b = (32, 32) if key == "fp32" else _mac_widths(key)
        return self._logic_pj("comparator", a) + self._logic_pj("comparator", b)

    # --- areas (µm² at this node) -----------------------------------------------------------
    def _area_um2(self, parts: list[tuple[str, int] | tuple[str, int, int]]) -> float:
        return sum((self.table.logic(*p) if len(p) == 3 else self.table.unit(*p))[1] for p in parts) \
            * self.node.logic_area

    def pe_area_um2(self) -> float:
        arr = self.hw.array
        ob, acc = (32, 32) if self.fp32 else (arr.operand_bits, arr.accumulator_bits)
        parts: list = ([("fp32_mult", 32), ("fp32_add", 32)] if self.fp32
                       else [("int_mult", ob, ob), ("int_add", acc)])
        parts.append(("register", 3 * ob + acc))  # moving operand, stationary operand + its shadow, partial sum
        if arr.zero_gating:
            parts += [("comparator", ob), ("comparator", ob)]
        return self._area_um2(parts)

    def shift_align_lane_area_um2(self) -> float:
        acc = 32 if self.fp32 else self.hw.array.accumulator_bits
        parts: list = ([("fp32_mult", 32), ("fp32_add", 32)] if self.fp32
                       else [("barrel_shifter", acc), ("int_add", acc)])
        parts += [("comparator", acc), ("comparator", acc)]
        if not self.fp32 and "divide" in self.hw.shift_align.ops:
            parts.append(("constant_divider", acc))
        return self._area_um2(parts)

    def _static(self) -> dict[str, ComponentCost]:
        """Every component with its area and leakage, no actions yet."""
        hw, leak_density = self.hw, self.table.logic_leakage_nw_per_um2()
        logic_um2 = {"pe_array": hw.array.rows * hw.array.cols * self.pe_area_um2(),
                     "shift_align": hw.shift_align.lanes * self.shift_align_lane_area_um2(),
                     "random_source": hw.random_bits_per_cycle * self._area_um2([("random_bit", 1)])}
        out = {name: ComponentCost(name, leakage_mw=um2 * leak_density * 1e-6, area_mm2=um2 * 1e-6)
               for name, um2 in logic_um2.items()}
        for bank in hw.banks:
            s = self.sram[bank.name]
            port_factor = 1 + self.table.sram_extra_port_area() * (bank.ports - 1)
            out[f"sram:{bank.name}"] = ComponentCost(f"sram:{bank.name}", leakage_mw=s.leakage_mw,
                                                     area_mm2=s.area_mm2 * port_factor)
        out["dram"] = ComponentCost("dram")  # off chip: no die area, refresh not modelled
        return out

    def _price_actions(self, components: dict[str, ComponentCost], counts: ActionCounts) -> None:
        pe = components["pe_array"]
        for key, macs in sorted(counts.macs_by_width.items()):
            if self.hw.array.zero_gating:
                zero = counts.zero_operand_macs.get(key, 0)
                pe.actions.append(ActionPrice(f"mac {key}", macs - zero, self.mac_pj(key) + self.zero_detect_pj(key)))
                pe.actions.append(ActionPrice(f"mac {key} zero-gated", zero, self.zero_detect_pj(key)))
            else:
                pe.actions.append(ActionPrice(f"mac {key}", macs, self.mac_pj(key)))
        pe.actions.append(ActionPrice("register bit", counts.register_bits, self._logic_pj("register", 1)))
        for bank in self.hw.banks:
            comp, s = components[f"sram:{bank.name}"], self.sram[bank.name]
            comp.actions.append(ActionPrice("read word", counts.sram_read_bits.get(bank.name, 0) / bank.word_bits,
                                            s.read_pj_per_access))
            comp.actions.append(ActionPrice("write word", counts.sram_write_bits.get(bank.name, 0) / bank.word_bits,
                                            s.write_pj_per_access))
        dram = components["dram"]
        dram.actions.append(ActionPrice("read byte", counts.dram_read_bytes, 8 * self.dram_pj_per_bit))
        dram.actions.append(ActionPrice("write byte", counts.dram_write_bytes, 8 * self.dram_pj_per_bit))
        unit = components["shift_align"]
        for key, elements in sorted(counts.shift_align_ops.items()):
            kind, _, bits = key.rpartition(":")
            unit.actions.append(ActionPrice(key, elements, self.table.shift_align_op_pj(kind, int(bits), self.fp32)
                                            * self.node.logic_energy))
        components["random_source"].actions.append(ActionPrice("random bit", counts.random_bits,
                                                               self._unit_pj("random_bit", 1)))

    def access_energies(self) -> AccessEnergies:
        """The prices the mapping search weighs (per DRAM byte, per SRAM bit, leakage per cycle)."""
        leakage_mw = sum(c.leakage_mw for c in self._static().values())
        return AccessEnergies(
            dram_pj_per_byte=8 * self.dram_pj_per_bit,
            sram_read_pj_per_bit=tuple(self.sram[b.name].read_pj_per_access / b.word_bits for b in self.hw.banks),
            sram_write_pj_per_bit=tuple(self.sram[b.name].write_pj_per_access / b.word_bits for b in self.hw.banks),
            leakage_pj_per_cycle=leakage_mw * 1e-3 / (self.hw.clock_mhz * 1e6) * PJ_PER_J)

    def price(self, timing: Timing, actions: ActionCounts) -> CostReport:
        """The cost of one simulated step."""
        runtime_s = timing.cycles_per_step / (self.hw.clock_mhz * 1e6)
        components = self._static()
        self._price_actions(components, actions)
        overhead = self.table.overhead_area_fraction() * sum(c.area_mm2 for c in components.values())
        leakage_mw = sum(c.leakage_mw for c in components.values())
        cycles_by_phase = timing.phases()
        phase_energy: dict[str, float] = {}
        for phase, counts in actions.by_phase.items():
            per_phase = self._static()
            self._price_actions(per_phase, counts)
            phase_s = cycles_by_phase.get(phase, 0) / (self.hw.clock_mhz * 1e6)
            phase_energy[phase] = (sum(c.dynamic_pj for c in per_phase.values())
                                   + leakage_mw * 1e-3 * phase_s * PJ_PER_J)
        return CostReport(components, runtime_s, overhead, phase_energy, sum(actions.macs_by_width.values()))
