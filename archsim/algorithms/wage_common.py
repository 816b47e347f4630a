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


def eta_phase_starts(spec: WorkloadSpec, total_steps: int) -> list[tuple[int, int]]:
    """(first step, η exponent) of every phase of WAGE's schedule over ``total_steps`` training steps.

    Step t (0-based) belongs to the last phase whose fraction f satisfies t / total_steps >= f, so a
    phase starts at step ceil(f·total_steps). The schedule keeps its shape for any length, down to a
    single epoch or a single step (whole-epoch boundaries ran a one-epoch training in the last phase).
    """
    return [(math.ceil(p.at_fraction * total_steps), p.eta_log2) for p in spec.wage.eta_schedule]


def eta_log2_at(spec: WorkloadSpec, step: int, total_steps: int) -> int:
    """WAGE's learning-rate exponent at a 0-based global ``step`` of a ``total_steps`` training."""
    current = spec.wage.eta_schedule[0].eta_log2
    for start, log2 in eta_phase_starts(spec, total_steps):
        if step >= start:
            current = log2
    return current


class EtaSchedule:
    """WAGE's η per training step, for a model that counts its steps from :meth:`begin_epoch`.

    Before the first :meth:`begin_epoch` (a model stepped outside the trainer) every step is in
    the first phase."""

    def __init__(self, spec: WorkloadSpec) -> None:
        self.spec = spec
        self.step = 0
        self.total_steps: int | None = None

    def begin_epoch(self, epoch: int, steps_per_epoch: int) -> tuple[int, int]:
        """Point at the epoch's first step; returns the η exponents of its first and last step."""
        steps_per_epoch = max(int(steps_per_epoch), 1)
        self.total_steps = self.spec.training.epochs * steps_per_epoch
        self.step = epoch * steps_per_epoch
        return self.log2_at(self.step), self.log2_at(self.step + steps_per_epoch - 1)

    def log2_at(self, step: int) -> int:
        if self.total_steps is None:
            return self.spec.wage.eta_schedule[0].eta_log2
        return eta_log2_at(self.spec, step, self.total_steps)

    def next_log2(self) -> int:
        """The exponent of the step about to be taken (and count it)."""
        log2 = self.log2_at(self.step)
        self.step += 1
        return log2
