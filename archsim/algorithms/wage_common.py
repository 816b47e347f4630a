"""What WAGE's integer and float32 models share: the layer graph, the scale α, the initial weights.

Choices where the paper and its public code differ (documented in the README):
* the initial limit uses the code's base √(3/fan_in), not the paper's √(6/n_in); with it
  α = max(Shift(β·σ(k_W) / √(3/fan_in)), 1) reproduces the code's logged α of VGG-7
  (2, 16, 16, 16, 16, 32, 32, 16), whereas the paper's formula would give α = 1 everywhere;
* Shift(x) = 2^round(log2 x) (nearest power of two, as in the code).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import LayerSpec, WorkloadSpec, layer_output_shapes
from .products import fan_in, weight_shape


def sigma(bits: int) -> float:
    """σ(k) = 2^(1-k), the grid step of a k-bit WAGE quantity."""
    return 2.0 ** (1 - bits)


def alpha_log2(fan: int, k_w: int, beta: float) -> int:
    """log2 of the layer scale α = max(Shift(β·σ(k_W) / √(3/fan_in)), 1)."""
    return max(round(math.log2(beta * sigma(k_w) / math.sqrt(3.0 / fan))), 0)


def init_limit(fan: int, k_w: int, beta: float) -> float:
    """Initial weights are U(-L, L) with L = max(√(3/fan_in), β·σ(k_W))."""
    return max(math.sqrt(3.0 / fan), beta * sigma(k_w))


@dataclass(frozen=True)
class LayerPlan:
    """A layer with its input/output shapes and, for weight layers, fan-in, α and initial weights."""

    spec: LayerSpec
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    fan_in: int = 0
    alpha_log2: int = 0
    init_weights: np.ndarray | None = None


def plan_network(spec: WorkloadSpec, k_w: int) -> list[LayerPlan]:
    """Shapes, α and initial float weights (drawn in layer order from the workload seed)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([spec.training.seed, 0x1417])))
    shapes = layer_output_shapes(spec.layers, spec.input_shape, spec.source_file, spec.num_classes)
    plans, in_shape = [], tuple(spec.input_shape)
    for layer, out_shape in zip(spec.layers, shapes):
        if layer.kind in ("conv", "fc"):
            fan = fan_in(layer, in_shape)
            limit = init_limit(fan, k_w, spec.wage.beta)
            w0 = rng.uniform(-limit, limit, weight_shape(layer, in_shape))
            plans.append(LayerPlan(layer, in_shape, out_shape, fan, alpha_log2(fan, k_w, spec.wage.beta), w0))
        else:
            plans.append(LayerPlan(layer, in_shape, out_shape))
        in_shape = out_shape
    return plans


def eta_log2_at(spec: WorkloadSpec, epoch: int) -> int:
    """WAGE's learning-rate exponent for a 0-based epoch (phases start at floor(fraction·epochs))."""
    current = spec.wage.eta_schedule[0].eta_log2
    for phase in spec.wage.eta_schedule:
        if epoch >= math.floor(phase.at_fraction * spec.training.epochs):
            current = phase.eta_log2
    return current

