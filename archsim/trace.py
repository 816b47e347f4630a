"""The op IR of one training step: the contract between training and the hardware model.

Algorithms record what they compute, as they compute it, into a :class:`TraceRecorder`;
the hardware model reads a :class:`Trace` and knows nothing of WAGE or NITRO-D. Every op
names its kind, layer and phase, its geometry, the bit widths of its operands and
accumulator, and the tensors it reads and writes with element counts, widths and the
zero fraction measured on the real tensors of that step. A trace serialises to JSON.
This module imports nothing of archsim.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

TRACE_FORMAT = "archsim-trace"
TRACE_VERSION = 1
OP_KINDS = ("gemm", "conv2d", "eltwise", "reduce", "pool", "update")
PHASES = ("forward", "input_grad", "weight_grad", "local_head", "loss", "update")


class TraceError(ValueError):
    """A trace file that cannot be used (message is user-facing)."""


@dataclass(frozen=True)
class TensorAccess:
    """One tensor an op reads or writes."""

    tensor: str
    elements: int
    bits: int
    zero_fraction: float

    @property
    def size_bits(self) -> int:
        """Total bits moved."""
        return self.elements * self.bits


@dataclass(frozen=True)
class Op:
    """One operation of a training step."""

    kind: str
    name: str
    layer: str
    phase: str
    reads: tuple[TensorAccess, ...]
    writes: tuple[TensorAccess, ...]
    params: dict = field(default_factory=dict)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of a GEMM or convolution (0 for other kinds)."""
        if self.kind in ("gemm", "conv2d"):
            return self.params["m"] * self.params["n"] * self.params["k"]
        return 0


@dataclass
class Trace:
    """The ordered ops of one training step of one workload."""

    workload: str
    algorithm: str
    batch: int
    numerics: dict
    ops: list[Op]

    def macs_by_phase(self) -> dict[str, int]:
        """Σ M·N·K per phase."""
        out: dict[str, int] = {}
        for op in self.ops:
            if op.macs:
                out[op.phase] = out.get(op.phase, 0) + op.macs
        return out

    def at_width(self, bits: int) -> "Trace":
        """The same step with every tensor and accumulator ``bits`` wide (e.g. 32 for a float32
        datapath); zero fractions are kept, as a float zero is still a zero."""
        def widen(t: TensorAccess) -> TensorAccess:
            return replace(t, bits=bits)

        ops = [replace(op, reads=tuple(map(widen, op.reads)), writes=tuple(map(widen, op.writes)),
                       params={**op.params, **({"acc_bits": bits} if "acc_bits" in op.params else {})})
               for op in self.ops]
        return replace(self, ops=ops, numerics={**self.numerics, "datapath_bits": bits})

    def to_json(self) -> dict:
        """A JSON-ready dict with format and version."""
        return {"format": TRACE_FORMAT, "version": TRACE_VERSION, "workload": self.workload,
                "algorithm": self.algorithm, "batch": self.batch, "numerics": self.numerics,
                "ops": [asdict(op) for op in self.ops]}

    @classmethod
    def from_json(cls, data: dict, source: str = "trace") -> "Trace":
        """Rebuild a trace; a foreign or other-version file is a :class:`TraceError`."""
        if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
            raise TraceError(f"{source}: not an archsim trace (expected format '{TRACE_FORMAT}')")
        if data.get("version") != TRACE_VERSION:
            raise TraceError(f"{source}: trace version {data.get('version')!r}; this archsim reads version "
                             f"{TRACE_VERSION} (record it again with this version)")
        try:
            ops = [Op(kind=o["kind"], name=o["name"], layer=o["layer"], phase=o["phase"],
                      reads=tuple(TensorAccess(**t) for t in o["reads"]),
                      writes=tuple(TensorAccess(**t) for t in o["writes"]), params=dict(o["params"]))
                   for o in data["ops"]]
            return cls(data["workload"], data["algorithm"], int(data["batch"]), dict(data["numerics"]), ops)
        except (KeyError, TypeError) as exc:
            raise TraceError(f"{source}: malformed trace ({exc})") from None

    def save(self, path: str | Path) -> None:
        """Write JSON."""
        Path(path).write_text(json.dumps(self.to_json()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Trace":
        """Read JSON written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise TraceError(f"{path}: file not found") from None
        except (OSError, ValueError) as exc:
            raise TraceError(f"{path}: cannot read trace ({exc})") from None
        return cls.from_json(data, str(path))


def access(tensor: str, array: np.ndarray, bits: int) -> TensorAccess:
    """Describe a real tensor: elements, declared bits and measured zero fraction."""
    n = int(array.size)
    zeros = n - int(np.count_nonzero(array)) if n else 0
    return TensorAccess(tensor, n, int(bits), zeros / n if n else 0.0)


class TraceRecorder:
    """Collects ops while a model runs one step; algorithms call :meth:`record`."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def record(self, kind: str, layer: str, phase: str, reads: list[TensorAccess], writes: list[TensorAccess],
               **params: object) -> None:
        """Append one op (its name is layer/phase/kind/index, unique within the trace)."""
        if kind not in OP_KINDS or phase not in PHASES:
            raise ValueError(f"unknown op kind {kind!r} or phase {phase!r}")
        name = f"{layer}/{phase}/{params.get('op', kind)}/{len(self.ops)}"
        self.ops.append(Op(kind, name, layer, phase, tuple(reads), tuple(writes), dict(params)))

    def trace(self, workload: str, algorithm: str, batch: int, numerics: dict) -> Trace:
        """The recorded ops as a :class:`Trace`."""
        return Trace(workload, algorithm, batch, numerics, list(self.ops))
