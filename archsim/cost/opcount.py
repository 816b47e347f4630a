"""The NITRO-D authors' op-count cost model, evaluated on archsim's recorded step.

The authors price a training step by counting multiplies and adds and charging Horowitz's
45 nm energies (ISSCC 2014) per operation, with memory as a sum of tensor sizes; no SRAM or
DRAM traffic, no shift/align unit. This module evaluates that model two ways, both from a
:class:`~archsim.trace.Trace`, so a sweep can store it beside archsim's own simulation:

* :func:`notebook_model`: their counting rules as their notebook evaluates them. The integer
  side is NITRO-D (forward, weight and input gradients of every base layer, the local head of
  the *first* layer only: the notebook compares the layer index with the length of the net's
  dict, which has three keys); the float side is float32 backprop of the same base layers,
  no heads, with SGD (2 multiplies + 2 adds per parameter) or Adam (9 + 4, two state words
  per parameter). Memory: the batch's input, every parameter, every base layer's output kept
  for backward, and the largest gradient buffer; 8/16/8/32 bits (NITRO-D), 32 bits (float).
* :func:`same_ops_energy_j`: their per-op prices applied to exactly the ops archsim's trace
  holds (one multiply and one add per MAC, 2 + 2 per weight update), at integer or float32 prices:
  the arithmetic-only view of what archsim simulates.
"""
from __future__ import annotations

from dataclasses import dataclass

HOROWITZ_PJ = {"int": (3.1, 0.1), "fp32": (3.7, 0.9)}
"""(multiply, add) energy in pJ per operation that the authors' model charges (Horowitz, 45 nm)."""
HEAD_CLASSES = 10
CONV_HEAD_INPUTS = 4096
"""The local head of a conv layer reads at most this many features (``pred_decoder_dim``)."""
ADAM_ABOVE_PARAMS = 1_000_000
"""The notebook's float baseline uses Adam for MLP3, MLP4 and the VGGs and SGD for MLP1 and MLP2:
this rule (Adam for any conv net or above a million parameters) reproduces that choice."""


@dataclass(frozen=True)
class Layer:
    """One base (forward) layer of the step: a convolution or a fully connected layer."""

    conv: bool
    c_in: int          # input channels (conv) or input features (fc)
    c_out: int
    d_in: int = 1      # input height = width (conv)
    d_out: int = 1     # output height = width (conv)
    kernel: int = 1

    @property
    def params(self) -> int:
        return self.c_out * self.c_in * self.kernel ** 2


@dataclass(frozen=True)
class OpCountCost:
    """What the model charges for one step: multiplies, adds, energy and memory."""

    mults: int
    adds: int
    energy_j: float
    memory_bytes: float


def base_layers(trace) -> tuple[list[Layer], int, int]:
    """The base layers of a step (its forward-phase MAC ops, in order), the batch, and the
    network input's elements per image."""
    layers, batch, input_elements = [], 0, 0
    for op in trace.ops:
        if op.phase != "forward" or not op.macs:
            continue
        p = op.params
        if op.kind == "conv2d":
            assert p["in_h"] == p["in_w"] and p["out_h"] == p["out_w"], "the model assumes square maps"
            layer = Layer(True, p["in_c"], p["out_c"], p["in_h"], p["out_h"], p["kernel"])
            b = p["batch"]
        else:
            layer, b = Layer(False, p["k"], p["n"]), p["m"]
        if not layers:
            batch, input_elements = b, op.reads[0].elements // b
        layers.append(layer)
    return layers, batch, input_elements


def _layer_ops(layer: Layer, bs: int) -> tuple[int, int]:
    """Multiplies and adds of forward, weight gradient and input gradient over a batch."""
    if layer.conv:
        k2, s, s_in = layer.kernel ** 2, layer.d_out ** 2, layer.d_in ** 2
        fan_in = layer.c_in * k2
        mul = layer.c_out * s * fan_in + layer.c_out * layer.c_in * k2 * s + layer.c_in * s_in * layer.c_out * k2
        add = layer.c_out * s * (fan_in - 1) + layer.c_in * s_in * (layer.c_out * k2 - 1)
        return bs * mul, bs * add + layer.params * (bs * s - 1)
    din, dout = layer.c_in, layer.c_out
    return bs * 3 * dout * din, bs * (dout * (din - 1) + din * (dout - 1)) + dout * din * (bs - 1)


def notebook_model(trace, nitro: bool, adam: bool | None = None) -> OpCountCost:
    """The authors' model of one step of ``trace``'s network: NITRO-D (``nitro``) or float32
    backprop (``adam`` by default per :data:`ADAM_ABOVE_PARAMS`)."""
    layers, bs, input_elements = base_layers(trace)
    if adam is None:
        adam = any(l.conv for l in layers) or sum(l.params for l in layers) > ADAM_ABOVE_PARAMS
    per_mul, per_add, state = (2, 2, 0) if nitro or not adam else (9, 4, 2)
    mults = adds = 0
    weights = activations = grad_peak = 0
    for i, layer in enumerate(layers):
        m, a = _layer_ops(layer, bs)
        mults, adds = mults + m, adds + a
        weights += layer.params
        activations += bs * layer.c_out * layer.d_out ** 2
        grad_peak = max(grad_peak, layer.params)
        mults, adds = mults + per_mul * layer.params, adds + per_add * layer.params
        if nitro and i == 0:   # the notebook's head condition holds for the first layer only
            head = Layer(False, CONV_HEAD_INPUTS if layer.conv else layer.c_out, HEAD_CLASSES)
            m, a = _layer_ops(head, bs)
            mults, adds = mults + m, adds + a
            weights += head.params
            grad_peak = max(grad_peak, head.params)
            mults, adds = mults + per_mul * head.params, adds + per_add * head.params
    mul_pj, add_pj = HOROWITZ_PJ["int" if nitro else "fp32"]
    if nitro:
        bits = input_elements * bs * 8 + weights * 16 + activations * 8 + grad_peak * 32
    else:
        bits = 32 * (input_elements * bs + weights + activations + grad_peak + state * weights)
    return OpCountCost(mults, adds, (mults * mul_pj + adds * add_pj) * 1e-12, bits / 8)


def same_ops_energy_j(trace, datatype: str) -> float:
    """The authors' per-op prices on the ops the trace holds: a multiply and an add per MAC, two
    of each per updated weight; ``datatype`` is ``int`` or ``fp32``."""
    macs = sum(op.macs for op in trace.ops)
    updates = sum(op.reads[0].elements for op in trace.ops if op.kind == "update")
    mul_pj, add_pj = HOROWITZ_PJ[datatype]
    return ((macs + 2 * updates) * mul_pj + (macs + 2 * updates) * add_pj) * 1e-12


def opcount_breakdown(trace) -> dict[str, float]:
    """Every figure of the op-count model for one step, for a sweep's breakdowns."""
    nitro, fp = notebook_model(trace, nitro=True), notebook_model(trace, nitro=False)
    return {"notebook_nitro_energy_j": nitro.energy_j, "notebook_fp32_bp_energy_j": fp.energy_j,
            "notebook_nitro_memory_bytes": nitro.memory_bytes, "notebook_fp32_bp_memory_bytes": fp.memory_bytes,
            "same_ops_int_energy_j": same_ops_energy_j(trace, "int"),
            "same_ops_fp32_energy_j": same_ops_energy_j(trace, "fp32")}


__all__ = ["HOROWITZ_PJ", "Layer", "OpCountCost", "base_layers", "notebook_model", "opcount_breakdown",
           "same_ops_energy_j"]
