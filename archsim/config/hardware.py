"""Hardware specs: the accelerator an architect wants to evaluate, loaded from YAML.

Clock and node; the PE array (rows, cols, dataflow, operand and accumulator widths);
on-chip SRAM banks and which operands they hold; DRAM; the shift/align unit; the
random-bit source; the numeric datapath training must obey; the timing convention.
Every problem is a ConfigError naming the file, the key path and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .reader import Section, load_yaml, show
from .workload import NumericSpec, read_numerics

DATAFLOWS = ("ws", "os", "is")
OPERANDS = ("input", "weight", "output")
SHIFT_ALIGN_OPS = ("shift", "round", "saturate", "divide", "relu", "compare", "stochastic_round")
TIMING_CONVENTIONS = ("archsim", "scalesim")
MAPPINGS = ("energy", "latency", "edp", "fixed")
"""``mapping``: the objective of the per-op mapping search, or ``fixed`` (one loop order, greedy chunks)."""
NUMERIC_KEYS = ("k_w", "k_a", "k_g", "k_e", "accumulator_bits", "overflow", "rounding", "random_bits")
MAX_CLOCK_MHZ = 10_000.0
"""Ranges of every numeric key are documented in the README's hardware table; 10 GHz bounds the clock."""
DATATYPES = ("int", "fp32")


@dataclass(frozen=True)
class PEArraySpec:
    rows: int
    cols: int
    dataflow: str
    operand_bits: int
    accumulator_bits: int
    datatype: str = "int"        # "int", or "fp32" for a float32 training datapath
    zero_gating: bool = False    # MACs with a zero operand skip the arithmetic (idle energy only)


@dataclass(frozen=True)
class SramBankSpec:
    name: str
    kbytes: int
    word_bits: int
    ports: int
    holds: tuple[str, ...]

    @property
    def capacity_bytes(self) -> int:
        return self.kbytes * 1024


@dataclass(frozen=True)
class DramSpec:
    kind: str
    bytes_per_cycle: int
    latency_cycles: int
    burst_bytes: int


@dataclass(frozen=True)
class ShiftAlignSpec:
    lanes: int
    pipeline_depth: int
    ops: tuple[str, ...]
    divide_latency_cycles: int
    on_writeback: bool = True   # sits on the accumulator write-back path: a GEMM's following
                                # element-wise op is applied before the result leaves the array


@dataclass(frozen=True)
class HardwareSpec:
    """A whole accelerator."""

    name: str
    clock_mhz: float
    technology_nm: int
    array: PEArraySpec
    banks: tuple[SramBankSpec, ...]
    dram: DramSpec
    shift_align: ShiftAlignSpec
    random_bits_per_cycle: int
    datapaths: tuple[tuple[str, NumericSpec], ...]   # (algorithm, numerics training obeys), first = default
    timing: str
    source_file: str = ""
    mapping: str = "energy"

    @property
    def numerics(self) -> NumericSpec:
        """The first datapath's numerics."""
        return self.datapaths[0][1]

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(alg for alg, _ in self.datapaths)

    def numerics_for(self, algorithm: str) -> NumericSpec:
        """The numerics a workload of ``algorithm`` trains with on this hardware."""
        for alg, numerics in self.datapaths:
            if alg == algorithm:
                return numerics
        raise ConfigError(self.source_file, "numerics",
                          f"expected a datapath for {algorithm}; this hardware has numerics for {', '.join(self.algorithms)} "
                          f"only (add an entry with `algorithm: {algorithm}`)")

    def bank_for(self, operand: str) -> SramBankSpec:
        """The bank that holds an operand kind (validated to exist)."""
        return next(b for b in self.banks if operand in b.holds)

    def bank_role(self, bank_name: str) -> str:
        """A bank's stable name across configs: ``sram.`` + the operands it holds (``sram.input``,
        ``sram.input+weight``), whatever the config calls it."""
        bank = next(b for b in self.banks if b.name == bank_name)
        return "sram." + "+".join(o for o in OPERANDS if o in bank.holds)

    def to_dict(self) -> dict:
        """The mapping a hardware YAML file would hold; :func:`hardware_from_mapping` of it gives an
        equal spec (round trip tested)."""
        a = self.array
        numerics = [{"algorithm": alg, **{k: getattr(n, k) for k in NUMERIC_KEYS}} for alg, n in self.datapaths]
        return {
            "name": self.name, "clock_mhz": self.clock_mhz, "technology_nm": self.technology_nm,
            "pe_array": {"rows": a.rows, "cols": a.cols, "dataflow": a.dataflow, "operand_bits": a.operand_bits,
                         "accumulator_bits": a.accumulator_bits, "datatype": a.datatype, "zero_gating": a.zero_gating},
            "sram": {"banks": [{"name": b.name, "kbytes": b.kbytes, "word_bits": b.word_bits, "ports": b.ports,
                                "holds": list(b.holds)} for b in self.banks]},
            "dram": {"type": self.dram.kind, "bytes_per_cycle": self.dram.bytes_per_cycle,
                     "latency_cycles": self.dram.latency_cycles, "burst_bytes": self.dram.burst_bytes},
            "shift_align": {"lanes": self.shift_align.lanes, "pipeline_depth": self.shift_align.pipeline_depth,
                            "ops": list(self.shift_align.ops),
                            "divide_latency_cycles": self.shift_align.divide_latency_cycles,
                            "on_writeback": self.shift_align.on_writeback},
            "random": {"bits_per_cycle": self.random_bits_per_cycle},
            "numerics": numerics, "timing": self.timing, "mapping": self.mapping,
        }


def _read_array(sec: Section) -> PEArraySpec:
    spec = PEArraySpec(rows=sec.integer("rows", lo=1, hi=1024), cols=sec.integer("cols", lo=1, hi=1024),
                       dataflow=sec.string("dataflow", "ws", DATAFLOWS),
                       operand_bits=sec.integer("operand_bits", 8, lo=1, hi=32),
                       accumulator_bits=sec.integer("accumulator_bits", 32, lo=8, hi=64),
                       datatype=sec.string("datatype", "int", DATATYPES), zero_gating=sec.boolean("zero_gating", False))
    sec.done()
    return spec


def _read_banks(sec: Section, key: str) -> tuple[SramBankSpec, ...]:
    banks = []
    for b in sec.sections(key):
        holds = b.raw("holds")
        if not isinstance(holds, list) or not holds or any(h not in OPERANDS for h in holds):
            raise b.error("holds", f"expected a non-empty list of {', '.join(OPERANDS)}, got {show(holds)}")
        banks.append(SramBankSpec(name=b.string("name"), kbytes=b.integer("kbytes", lo=1, hi=1 << 20),
                                  word_bits=b.integer("word_bits", 64, lo=8, hi=4096),
                                  ports=b.integer("ports", 1, lo=1, hi=8), holds=tuple(holds)))
        b.done()
    for operand in OPERANDS:
        owners = [bk.name for bk in banks if operand in bk.holds]
        if len(owners) != 1:
            raise sec.error(key, f"exactly one bank must hold the {operand} operand; found {owners or 'none'}")
    return tuple(banks)


def _read_datapaths(top: Section, array: PEArraySpec) -> tuple[tuple[str, NumericSpec], ...]:
    """``numerics``: one mapping, or a list of mappings with distinct ``algorithm`` values."""
    raw = top.raw("numerics", {})
    sections = top.sections("numerics") if isinstance(raw, list) else [top.section("numerics", {})]
    if not sections:
        raise top.error("numerics", "at least one numerics entry")
    datapaths: list[tuple[str, NumericSpec]] = []
    for sec in sections:
        algorithm = sec.string("algorithm", "wage", ("wage", "nitro_d"))
        if algorithm in (a for a, _ in datapaths):
            raise sec.error("algorithm", f"expected one numerics entry per algorithm; {algorithm} appears twice")
        numerics = read_numerics(sec, algorithm)
        if numerics.accumulator_bits > array.accumulator_bits:
            raise sec.error("accumulator_bits", f"the datapath cannot accumulate in {numerics.accumulator_bits} bits: "
                                                f"the PE array's accumulators have {array.accumulator_bits}")
        widest = max(numerics.k_w, numerics.k_a, numerics.k_e)
        if array.datatype == "int" and widest > array.operand_bits:
            raise sec.error("k_w", f"expected at most {array.operand_bits} bits, the MAC operand width (pe_array.operand_bits); "
                                   f"these numerics need {widest}-bit operands")
        datapaths.append((algorithm, numerics))
    return tuple(datapaths)


def load_hardware(path: str | Path) -> HardwareSpec:
    """Read and validate a hardware YAML file."""
    return hardware_from_mapping(load_yaml(path), str(path), Path(path).stem)


def hardware_from_mapping(data: object, file: str, default_name: str = "hardware") -> HardwareSpec:
    """Validate a hardware mapping (as a YAML file holds it) into a spec; every error names ``file``
    and the key path. The same rules apply to a file and to a point built in code."""
    top = Section(file, "", data)
    name = top.string("name", default_name)
    clock = top.number("clock_mhz", positive=True, hi=MAX_CLOCK_MHZ)
    node = top.integer("technology_nm", 45, lo=3, hi=180)
    array = _read_array(top.section("pe_array"))
    mem = top.section("sram")
    banks = _read_banks(mem, "banks")
    mem.done()
    d = top.section("dram")
    dram = DramSpec(kind=d.string("type", "lpddr4"), bytes_per_cycle=d.integer("bytes_per_cycle", lo=1, hi=4096),
                    latency_cycles=d.integer("latency_cycles", 100, lo=0, hi=100_000),
                    burst_bytes=d.integer("burst_bytes", 64, lo=1, hi=4096))
    d.done()
    s = top.section("shift_align")
    ops = s.raw("ops", list(SHIFT_ALIGN_OPS))
    if not isinstance(ops, list) or any(o not in SHIFT_ALIGN_OPS for o in ops):
        raise s.error("ops", f"expected a list drawn from {', '.join(SHIFT_ALIGN_OPS)}, got {show(ops)}")
    shift = ShiftAlignSpec(lanes=s.integer("lanes", lo=1, hi=4096),
                           pipeline_depth=s.integer("pipeline_depth", 2, lo=1, hi=256), ops=tuple(ops),
                           divide_latency_cycles=s.integer("divide_latency_cycles", 4, lo=1, hi=1024),
                           on_writeback=s.boolean("on_writeback", True))
    s.done()
    r = top.section("random", {})
    random_bits = r.integer("bits_per_cycle", 64, lo=1, hi=65536)
    r.done()
    datapaths = _read_datapaths(top, array)
    timing = top.string("timing", "archsim", TIMING_CONVENTIONS)
    mapping = top.string("mapping", "energy", MAPPINGS)
    top.done()
    return HardwareSpec(name=name, clock_mhz=clock, technology_nm=node, array=array, banks=banks, dram=dram,
                        shift_align=shift, random_bits_per_cycle=random_bits, datapaths=datapaths, timing=timing,
                        source_file=file, mapping=mapping)


