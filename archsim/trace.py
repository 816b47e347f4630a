"""The op IR of one training step: the contract between training and the hardware model.

Algorithms record what they compute, as they compute it, into a :class:`TraceRecorder`;
the hardware model reads a :class:`Trace` and knows nothing of WAGE or NITRO-D. Every op
names its kind, layer and phase, its geometry, the bit widths of its operands and
accumulator, and the tensors it reads and writes with element counts, widths and the
zero fraction measured on the real tensors of that step. A trace serialises to JSON; a
file is validated completely when it is loaded (:func:`validate_trace`: every field's type
and range, and the tensor sizes against each op's geometry), so nothing downstream sees a
malformed op. This module imports nothing of archsim but the leaf file writer.
"""
from __future__ import annotations

import json
import math
import reprlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .fileio import write_json  # a leaf module: the trace still depends on nothing else of archsim

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
        """Rebuild a trace, validated completely first (:func:`validate_trace`): a foreign,
        other-version or malformed one is a :class:`TraceError` naming the op and field."""
        validate_trace(data, source)
        ops = [Op(kind=o["kind"], name=o["name"], layer=o["layer"], phase=o["phase"],
                  reads=tuple(_tensor_access(t) for t in o["reads"]),
                  writes=tuple(_tensor_access(t) for t in o["writes"]), params=dict(o["params"]))
               for o in data["ops"]]
        return cls(data["workload"], data["algorithm"], int(data["batch"]), dict(data["numerics"]), ops)

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (a kill leaves the old file or the new one, never half of one)."""
        write_json(path, self.to_json(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> "Trace":
        """Read JSON written by :meth:`save` (UTF-8, at most :data:`MAX_TRACE_BYTES`) and validate it."""
        try:
            size = Path(path).stat().st_size
            if size > MAX_TRACE_BYTES:
                raise TraceError(f"{path}: {size / 2 ** 20:.0f} MiB is too large for a trace (at most "
                                 f"{MAX_TRACE_BYTES >> 20} MiB; a VGG8B step is under 50 KiB)")
            with open(path, "rb") as f:
                raw = f.read(MAX_TRACE_BYTES + 1)  # a pipe or device has no size to check beforehand
        except FileNotFoundError:
            raise TraceError(f"{path}: file not found") from None
        except OSError as exc:
            raise TraceError(f"{path}: cannot read trace ({exc.strerror or exc})") from None
        if len(raw) > MAX_TRACE_BYTES:
            raise TraceError(f"{path}: more than {MAX_TRACE_BYTES >> 20} MiB, too large for a trace")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); a trace "
                             f"is the JSON file `archsim trace` writes") from None
        try:
            data = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise TraceError(f"{path}: JSON nested too deeply to be a trace") from None
        except MemoryError:
            raise TraceError(f"{path}: not enough memory to parse this JSON") from None
        except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
            raise TraceError(f"{path}: cannot read trace ({_show(str(exc))})") from None
        return cls.from_json(data, str(path))


def _tensor_access(t: dict) -> TensorAccess:
    return TensorAccess(t["tensor"], int(t["elements"]), int(t["bits"]), float(t["zero_fraction"]))


# --- validation of a loaded trace ----------------------------------------------------------

#: A trace file larger than this is refused before it is read (a VGG8B step is ~45 KiB of JSON).
MAX_TRACE_BYTES = 512 * 1024 * 1024
#: Bounds that no real step comes near: elements per tensor, GEMM extents, name lengths.
MAX_ELEMENTS = 1 << 40
MAX_NAME_CHARS = 256
MAX_WORKLOAD_CHARS = 128
MAX_BATCH = 1 << 24
_INT64_MAX = (1 << 63) - 1

#: Operand/result tensors each kind reads and writes, as the recorders write them.
TENSOR_COUNTS = {"gemm": (2, 1), "conv2d": (2, 1), "eltwise": (1, 1), "reduce": (1, 0), "pool": (1, 1),
                 "update": (2, 1)}
#: The shift/align-unit op names of each element-wise kind (``params.op``): the operations the
#: cost table prices and the simulator maps onto unit capabilities.
UNIT_OPS = {"eltwise": ("shift_round_clip", "relu_shift_round_clip", "stochastic_round", "subtract_target",
                        "divide_clip", "nitro_relu", "nitro_relu_backward", "dropout"),
            "reduce": ("max_abs",),
            "pool": ("max", "route"),
            "update": ("subtract_clip", "divide_decay_subtract")}
PRODUCTS = ("forward", "input_grad", "weight_grad")
ROUNDING_MODES = ("half_even", "half_up", "half_away", "toward_zero", "floor")
_TOP_KEYS = ("format", "version", "workload", "algorithm", "batch", "numerics", "ops")
_OP_KEYS = ("kind", "name", "layer", "phase", "reads", "writes", "params")
_ACCESS_KEYS = ("tensor", "elements", "bits", "zero_fraction")
_MISSING = object()

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 60, 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2
_SHOW_CHARS = 60


def _show(value: object) -> str:
    """A one-line repr of at most ~60 characters, whatever the value's size."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    try:
        text = _REPR.repr(value)
    except Exception:  # e.g. an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _SHOW_CHARS else text[:_SHOW_CHARS - 3] + "..."


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: object) -> bool:
    """An int or a finite float (an int is never converted: 10**400 would overflow a float)."""
    return _is_int(v) or (isinstance(v, (float, np.floating)) and math.isfinite(v))


class _Rule:
    """What a value must be: a description for the message and a test."""

    def __init__(self, expected: str, test) -> None:
        self.expected, self.test = expected, test


def _bound(v: int) -> str:
    """A bound as written in messages: 2^40 rather than 1099511627776."""
    if v >= 1 << 20 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return "2^63-1" if v == _INT64_MAX else str(v)


def _int(lo: int, hi: int, what: str = "an int") -> _Rule:
    return _Rule(f"{what} in {lo}..{_bound(hi)}", lambda v: _is_int(v) and lo <= v <= hi)


def _choice(options: tuple[str, ...], what: str) -> _Rule:
    return _Rule(f"{what}: one of {', '.join(options)}", lambda v: isinstance(v, str) and v in options)


def _name(what: str, limit: int = MAX_NAME_CHARS) -> _Rule:
    return _Rule(f"{what} (a non-empty string of at most {limit} printable characters)",
                 lambda v: isinstance(v, str) and 0 < len(v) <= limit and v.isprintable())


def _pair_or_int(lo: int, what: str) -> _Rule:
    def ok(v):
        items = v if isinstance(v, (list, tuple)) and len(v) == 2 else [v]
        return all(_is_int(x) and lo <= x <= 1 << 16 for x in items)
    return _Rule(f"{what}: an int in {lo}..65536 or a [height, width] pair of them", ok)


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (list, tuple)) else (int(v), int(v))


_POSITIVE = _int(1, MAX_ELEMENTS, "a positive int")
_BITS = _int(1, 64)
_SHIFT = _int(-256, 256)
_DIVISOR = _int(1, _INT64_MAX, "a positive int")
_ROUNDING = _choice(ROUNDING_MODES, "a rounding mode")
_GEMM_PARAMS = {"m": (True, _POSITIVE), "n": (True, _POSITIVE), "k": (True, _POSITIVE), "acc_bits": (True, _BITS),
                "product": (False, _choice(PRODUCTS, "the product"))}
_CONV_GEOMETRY = ("batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel", "stride")
_CONV_PARAMS = {**_GEMM_PARAMS, "product": (True, _choice(PRODUCTS, "the product")),
                **{g: (True, _int(1, 1 << 24, "a positive int")) for g in _CONV_GEOMETRY},
                "padding": (True, _int(0, 1 << 24))}
#: params of each shift/align op: name → (required, rule); ``op`` itself is checked first.
_UNIT_PARAMS = {
    "shift_round_clip": {"rounding": (True, _ROUNDING), "shift": (False, _SHIFT)},
    "relu_shift_round_clip": {"rounding": (True, _ROUNDING), "shift": (True, _SHIFT)},
    "stochastic_round": {"shift": (True, _SHIFT), "random_bits": (True, _BITS)},
    "subtract_target": {},
    "divide_clip": {"divisor": (True, _DIVISOR), "rounding": (True, _ROUNDING)},
    "nitro_relu": {"divisor": (True, _DIVISOR)},
    "nitro_relu_backward": {"divisor": (True, _DIVISOR)},
    "dropout": {"random_bits": (True, _BITS), "multiplier": (True, _DIVISOR), "divisor": (True, _DIVISOR)},
    "max_abs": {},
    "max": {"size": (True, _pair_or_int(1, "the window")), "padding": (False, _pair_or_int(0, "the padding"))},
    "route": {"size": (True, _pair_or_int(1, "the window")), "padding": (False, _pair_or_int(0, "the padding"))},
    "subtract_clip": {"limit": (True, _int(0, _INT64_MAX))},
    "divide_decay_subtract": {"divisor": (True, _DIVISOR), "decay_divisor": (True, _DIVISOR),
                              "rounding": (True, _ROUNDING)},
}


def _workload_name_ok(v: object) -> bool:
    return (isinstance(v, str) and 0 < len(v) <= MAX_WORKLOAD_CHARS and v.isprintable() and not v.startswith(".")
            and "/" not in v and "\\" not in v and ".." not in v)


class _Checker:
    """Validates one trace dict; every failure is one :class:`TraceError` line naming the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, got: object) -> TraceError:
        return TraceError(f"{self.source}: {where}: expected {expected}, got {_show(got)}")

    def keys(self, obj: dict, known: tuple[str, ...], where: str, what: str) -> None:
        for key in obj:
            if key not in known:
                label = key if isinstance(key, str) and key.isidentifier() and len(key) <= 40 else _show(key)
                raise self.fail(f"{where}{'.' if where else ''}{label}",
                                f"no such field ({what} has {', '.join(known)})", obj[key])

    def rule(self, obj: dict, key: str, rule: _Rule, where: str) -> object:
        value = obj.get(key, _MISSING)
        if value is _MISSING or not rule.test(value):
            raise self.fail(f"{where}{key}", rule.expected, value)
        return value

    def trace(self, data: dict) -> None:
        self.keys(data, _TOP_KEYS, "", "a trace")
        self.rule(data, "workload", _Rule(
            f"a plain workload name usable in a folder name (no '/', '\\' or '..', not starting with '.', "
            f"no control characters, 1..{MAX_WORKLOAD_CHARS} characters)", _workload_name_ok), "")
        self.rule(data, "algorithm", _name("the algorithm name", MAX_WORKLOAD_CHARS), "")
        batch = self.rule(data, "batch", _int(1, MAX_BATCH, "a positive int"), "")
        self.rule(data, "numerics", _Rule("a mapping of the step's numerics", lambda v: isinstance(v, dict)), "")
        ops = self.rule(data, "ops", _Rule("a non-empty list of ops", lambda v: isinstance(v, list) and v), "")
        names: dict[str, int] = {}
        for i, op in enumerate(ops):
            self.op(i, op, batch, names)

    def op(self, i: int, op: object, batch: int, names: dict[str, int]) -> None:
        where = f"ops[{i}]"
        if not isinstance(op, dict):
            raise self.fail(where, "an op (a JSON object)", op)
        name = op.get("name", _MISSING)
        self.rule(op, "name", _name("the op's name"), where + ".")
        if name in names:
            raise self.fail(f"{where}.name", f"a name unique within the trace (ops[{names[name]}] has it)", name)
        names[name] = i
        where = f"{where} ({name if len(name) <= _SHOW_CHARS else name[:_SHOW_CHARS - 3] + '...'})"
        self.keys(op, _OP_KEYS, where, "an op")
        kind = self.rule(op, "kind", _choice(OP_KINDS, "an op kind"), where + ".")
        self.rule(op, "phase", _choice(PHASES, "a phase"), where + ".")
        self.rule(op, "layer", _name("the layer's name"), where + ".")
        tensors = {}
        for direction, count in zip(("reads", "writes"), TENSOR_COUNTS[kind]):
            noun = "tensor" if count == 1 else "tensors"
            lst = self.rule(op, direction, _Rule(f"a list of {count} {noun} ({_a(kind)} {direction} {count})",
                                                 lambda v, c=count: isinstance(v, list) and len(v) == c), where + ".")
            for j, t in enumerate(lst):
                tensors[f"{direction}[{j}]"] = self.access(t, f"{where}.{direction}[{j}]")
        params = self.rule(op, "params", _Rule("a mapping of the op's parameters", lambda v: isinstance(v, dict)),
                           where + ".")
        if kind in ("gemm", "conv2d"):
            schema = _CONV_PARAMS if kind == "conv2d" else _GEMM_PARAMS
        else:
            unit_op = self.rule(params, "op", _choice(UNIT_OPS[kind], f"{_a(kind)} operation the shift/align "
                                                                      f"unit and the cost model know"),
                                where + ".params.")
            schema = {"op": (True, _Rule("", lambda v: True)), **_UNIT_PARAMS[unit_op]}
        self.keys(params, tuple(schema), f"{where}.params", f"{_a(kind if kind in ('gemm', 'conv2d') else unit_op)} op")
        for key, (required, rule) in schema.items():
            if required or key in params:
                self.rule(params, key, rule, f"{where}.params.")
        self.sizes(kind, params, tensors, batch, where)

    def access(self, t: object, where: str) -> dict:
        if not isinstance(t, dict):
            raise self.fail(where, "a tensor access (a JSON object with tensor, elements, bits, zero_fraction)", t)
        self.keys(t, _ACCESS_KEYS, where, "a tensor access")
        self.rule(t, "tensor", _name("the tensor's name"), where + ".")
        self.rule(t, "elements", _int(0, MAX_ELEMENTS, "a non-negative int"), where + ".")
        self.rule(t, "bits", _BITS, where + ".")
        self.rule(t, "zero_fraction", _Rule("a finite number in [0, 1]",
                                            lambda v: _is_number(v) and 0 <= v <= 1), where + ".")
        return t

    def size(self, tensors: dict, key: str, expected: int, how: str, where: str) -> None:
        got = tensors[key]["elements"]
        if got != expected:
            raise self.fail(f"{where}.{key}.elements", f"{how} = {expected}", got)

    def sizes(self, kind: str, p: dict, tensors: dict, batch: int, where: str) -> None:
        """Tensor sizes against the op's geometry, exactly as the recorders write them."""
        if kind in ("gemm", "conv2d"):
            m, n, k = p["m"], p["n"], p["k"]
            if kind == "conv2d":
                self.conv(p, tensors, batch, where)
            else:
                self.size(tensors, "reads[0]", m * k, "m*k (the m x k operand)", where)
            self.size(tensors, "reads[1]", k * n, "k*n (the k x n operand)", where)
            self.size(tensors, "writes[0]", m * n, "m*n (the m x n result)", where)
            if tensors["writes[0]"]["bits"] != p["acc_bits"]:
                raise self.fail(f"{where}.writes[0].bits", f"params.acc_bits = {p['acc_bits']} (the result is "
                                                           f"the accumulator)", tensors["writes[0]"]["bits"])
        elif kind == "eltwise":
            self.size(tensors, "writes[0]", tensors["reads[0]"]["elements"], "reads[0].elements (element-wise)",
                      where)
        elif kind == "update":
            for key in ("reads[1]", "writes[0]"):
                self.size(tensors, key, tensors["reads[0]"]["elements"], "reads[0].elements (the weights)", where)
        elif kind == "pool":
            (kh, kw), (ph, pw) = _pair(p["size"]), _pair(p.get("padding", 0))
            if ph >= kh or pw >= kw:
                raise self.fail(f"{where}.params.padding", f"less than the window {kh}x{kw} in each axis",
                                p.get("padding"))
            # floor mode, padding < window: per axis 1 <= out <= in < 2*window*out, so with batch and
            # channels alike: pooled <= full <= 4*kh*kw*pooled (max: reads full; route: writes full)
            full, pooled = ("reads[0]", "writes[0]") if p["op"] == "max" else ("writes[0]", "reads[0]")
            f, s = tensors[full]["elements"], tensors[pooled]["elements"]
            if f < 1:
                raise self.fail(f"{where}.{full}.elements", "at least 1 (a pool has a window to reduce)", f)
            if not 1 <= s <= f <= 4 * kh * kw * s:
                raise self.fail(f"{where}.{pooled}.elements", f"{-(-f // (4 * kh * kw))}..{f} (a {kh}x{kw} max-pool "
                                                              f"of {f} elements)", s)

    def conv(self, p: dict, tensors: dict, batch: int, where: str) -> None:
        b, ih, iw, ic, oh, ow, oc = (p[g] for g in ("batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c"))
        kernel, stride, pad = p["kernel"], p["stride"], p["padding"]
        if b != batch:
            raise self.fail(f"{where}.params.batch", f"the trace's batch {batch}", b)
        for axis, size, out in (("h", ih, oh), ("w", iw, ow)):
            expect = (size + 2 * pad - kernel) // stride + 1
            if out != expect:
                raise self.fail(f"{where}.params.out_{axis}", f"(in_{axis} + 2*padding - kernel) // stride + 1 = "
                                                              f"{expect}", out)
        k2 = kernel * kernel
        product = p["product"]
        table = {"forward": ((b * oh * ow, "batch*out_h*out_w"), (oc, "out_c"), (k2 * ic, "kernel^2*in_c"),
                             (b * ih * iw * ic, "batch*in_h*in_w*in_c (the layer's input, un-expanded)")),
                 "input_grad": ((b * ih * iw, "batch*in_h*in_w"), (ic, "in_c"), (k2 * oc, "kernel^2*out_c"),
                                (b * oh * ow * oc, "batch*out_h*out_w*out_c (the output gradient)")),
                 "weight_grad": ((k2 * ic, "kernel^2*in_c"), (oc, "out_c"), (b * oh * ow, "batch*out_h*out_w"),
                                 (b * ih * iw * ic, "batch*in_h*in_w*in_c (the layer's input, un-expanded)"))}[product]
        for key, (expect, how) in zip("mnk", table[:3]):
            if p[key] != expect:
                raise self.fail(f"{where}.params.{key}", f"{how} = {expect} for a {product} conv2d", p[key])
        self.size(tensors, "reads[0]", table[3][0], table[3][1], where)


def validate_trace(data: object, source: str = "trace") -> None:
    """Check a trace dict completely (format and version first); raises :class:`TraceError` naming
    the first bad field, e.g. ``t.json: ops[3] (conv1/forward/conv2d/3).params.m: expected ...``."""
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise TraceError(f"{source}: not an archsim trace (expected format '{TRACE_FORMAT}')")
    version = data.get("version")
    if not (_is_int(version) and version == TRACE_VERSION):
        raise TraceError(f"{source}: trace version {_show(version)}; this archsim reads version "
                         f"{TRACE_VERSION} (record it again with this version)")
    _Checker(source).trace(data)


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
