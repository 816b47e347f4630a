"""WAGE (Wu, Li, Chen, Shi, ICLR 2018) trained bit-true: every tensor is an integer on its grid.

Integer units: activations A and errors E are k_A / k_E-bit integers (value·2^(k-1));
stored weights W_g live on the k_G grid within ±(1-σ(k_W)); forward weights
W_q = round(W_g / 2^(k_G-k_W)) are k_W-bit. A weight layer computes Z = A·W_q exactly
(accumulator semantics from the numerics); its real value is Z·2^-(k_A-1+k_W-1+a) with
α = 2^a, so quantising to the next activation grid is one rounding right shift by
(k_W-1+a). All other WAGE scalings are powers of two that cancel in the Shift(max|·|)
normalisations of errors and gradients, so they never need to be applied.
"""
from __future__ import annotations

import numpy as np

from ..config import NumericSpec, WorkloadSpec
from ..numerics import (Accumulator, ExactGemm, RandomBits, round_log2, saturate, shift_right,
                        shift_right_stochastic, symmetric_limit)
from ..numerics.pool import maxpool2d, maxpool2d_backward
from ..trace import TraceRecorder, access
from .products import Recording, forward_product, input_grad_product, weight_grad_product
from .wage_common import EtaSchedule, LayerPlan, plan_network

COUNTER_KEYS = ("acc_overflow_forward", "acc_overflow_input_grad", "acc_overflow_weight_grad",
                "saturated_activations", "saturated_errors", "clipped_weights")


def storage_dtype(bits: int) -> type:
    """Smallest numpy integer type holding a signed ``bits``-bit value."""
    return np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32 if bits <= 32 else np.int64


def quantize_error(e: np.ndarray, k_e: int, rounding: str) -> tuple[np.ndarray, int]:
    """Q_E: e / Shift(max|e|) on the k_E grid, saturated to ±(2^(k_E-1)-1); returns (E, saturated count)."""
    e = np.asarray(e, dtype=np.int64)
    m = int(np.abs(e).max()) if e.size else 0
    if m == 0:
        return np.zeros(e.shape, dtype=storage_dtype(k_e)), 0
    lim = symmetric_limit(k_e)
    q, n_sat = saturate(shift_right(e, round_log2(m) - (k_e - 1), rounding), -lim, lim)
    return q.astype(storage_dtype(k_e)), n_sat


def quantize_input(images: np.ndarray, k_a: int, rounding: str) -> np.ndarray:
    """uint8 pixels → k_A-bit activations (x-128)/128 on the k_A grid (x-128 itself for k_A = 8)."""
    lim = symmetric_limit(k_a)
    x = shift_right(images.astype(np.int64) - 128, 8 - k_a, rounding)
    return np.clip(x, -lim, lim).astype(storage_dtype(k_a))[..., None]


def record_error_quantiser(rec: TraceRecorder, name: str, phase: str, e: np.ndarray, out: np.ndarray,
                           num: NumericSpec) -> None:
    """Q_E in hardware terms: a max|e| reduction, then a rounding shift with saturation."""
    wide = access(f"{name}.e", e, num.accumulator_bits)
    rec.record("reduce", name, phase, [wide], [], op="max_abs")
    rec.record("eltwise", name, phase, [wide], [access(f"{name}.e_q", out, num.k_e)], op="shift_round_clip",
               rounding=num.rounding)


class _WeightLayer:
    """conv or fc: integer stored weights, ternary-style forward weights, exact products."""

    def __init__(self, plan: LayerPlan, num: NumericSpec, engine: ExactGemm, counts: dict) -> None:
        self.plan, self.spec, self.num, self.engine, self.counts = plan, plan.spec, num, engine, counts
        self.shift = num.k_w - 1 + plan.alpha_log2  # Z units → activation units
        self.w_limit = (1 << (num.k_g - 1)) - (1 << (num.k_g - num.k_w))  # C(W, k_W) on the k_G grid
        w_lim = symmetric_limit(num.k_w)
        wq0 = np.clip(np.rint(plan.init_weights * 2 ** (num.k_w - 1)), -w_lim, w_lim)
        self.w_stored = (wq0.astype(np.int64) << (num.k_g - num.k_w)).astype(np.int32)
        self.grad: np.ndarray | None = None
        self.rec: TraceRecorder | None = None

    def _recording(self) -> Recording | None:
        n = self.num
        return Recording(self.rec, self.spec.name, n.k_a, n.k_w, n.k_e, n.accumulator_bits) if self.rec else None

    def forward_weights(self) -> np.ndarray:
        """W_q = Q(C(W, k_W), k_W) as k_W-bit integers."""
        lim = symmetric_limit(self.num.k_w)
        wq = shift_right(self.w_stored, self.num.k_g - self.num.k_w, self.num.rounding)
        return np.clip(wq, -lim, lim).astype(storage_dtype(self.num.k_w))

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x, self.wq = x, self.forward_weights()
        if self.rec:
            self.rec.record("eltwise", self.spec.name, "forward", [access(f"{self.spec.name}.w_stored", self.w_stored,
                                                                          self.num.k_g)],
                            [access(f"{self.spec.name}.w", self.wq, self.num.k_w)], op="shift_round_clip",
                            shift=self.num.k_g - self.num.k_w, rounding=self.num.rounding)
        z, n = forward_product(self.spec, x, self.wq, self.engine, self._recording())
        if train:  # counters describe training; evaluation passes do not add to them
            self.counts["acc_overflow_forward"] += n
        return z.reshape((x.shape[0],) + self.plan.out_shape)

    def backward(self, e: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        g, n = weight_grad_product(self.spec, self.x, e, self.engine, self._recording())
        self.counts["acc_overflow_weight_grad"] += n
        self.grad = g
        if not need_input_grad:
            return None
        dx, n = input_grad_product(self.spec, e, self.wq, self.x.shape, self.engine, self._recording())
        self.counts["acc_overflow_input_grad"] += n
        return dx

    def update(self, eta_log2: int, rng: RandomBits) -> None:
        """ΔW = SR(η·g / Shift(max|g|)) in k_G steps; W ← C(W - ΔW, k_W)."""
        g = self.grad
        m = int(np.abs(g).max())
        if m == 0:
            return
        delta = shift_right_stochastic(g, round_log2(m) - eta_log2, rng, self.num.random_bits)
        w, n_clip = saturate(self.w_stored.astype(np.int64) - delta, -self.w_limit, self.w_limit)
        if self.rec:
            name, n = self.spec.name, self.num
            g_acc = access(f"{name}.dw", g, n.accumulator_bits)
            self.rec.record("reduce", name, "update", [g_acc], [], op="max_abs")
            self.rec.record("eltwise", name, "update", [g_acc], [access(f"{name}.dw_q", delta, n.k_g)],
                            op="stochastic_round", shift=round_log2(m) - eta_log2, random_bits=n.random_bits)
            self.rec.record("update", name, "update", [access(f"{name}.w_stored", self.w_stored, n.k_g),
                                                       access(f"{name}.dw_q", delta, n.k_g)],
                            [access(f"{name}.w_stored", w, n.k_g)], op="subtract_clip", limit=self.w_limit)
        self.counts["clipped_weights"] += n_clip
        self.w_stored = w.astype(np.int32)


class _MaxPool:
    def __init__(self, plan: LayerPlan, num: NumericSpec) -> None:
        self.size, self.name, self.num = plan.spec.size, plan.spec.name, num
        self.rec: TraceRecorder | None = None

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x_shape = x.shape
        y, self.arg = maxpool2d(x, self.size)
        if self.rec:
            self.rec.record("pool", self.name, "forward", [access(f"{self.name}.x", x, self.num.accumulator_bits)],
                            [access(f"{self.name}.y", y, self.num.accumulator_bits)], op="max", size=self.size)
        return y

    def backward(self, e: np.ndarray, need_input_grad: bool) -> np.ndarray:
        dx = maxpool2d_backward(e, self.arg, self.x_shape, self.size)
        if self.rec:
            self.rec.record("pool", self.name, "input_grad", [access(f"{self.name}.dy", e, self.num.k_e)],
                            [access(f"{self.name}.dx", dx, self.num.k_e)], op="route", size=self.size)
        return dx


class _QuantReLU:
    """ReLU then Q_A (shift to the k_A grid, clip at 1-σ); backward: clip mask, Q_E, ReLU mask."""

    def __init__(self, shift: int, num: NumericSpec, counts: dict) -> None:
        self.shift, self.num, self.counts = shift, num, counts
        self.limit = symmetric_limit(num.k_a)
        self.rec: TraceRecorder | None = None
        self.name = ""

    def forward(self, z: np.ndarray, train: bool) -> np.ndarray:
        self.positive = z > 0
        self.unclipped = z <= (self.limit << self.shift) if self.shift >= 0 else z <= self.limit
        a = shift_right(np.where(self.positive, z, 0), self.shift, self.num.rounding)
        a, n_sat = saturate(a, 0, self.limit)
        if train:
            self.counts["saturated_activations"] += n_sat
        if self.rec:
            self.rec.record("eltwise", self.name, "forward", [access(f"{self.name}.z", z, self.num.accumulator_bits)],
                            [access(f"{self.name}.a", a, self.num.k_a)], op="relu_shift_round_clip",
                            shift=self.shift, rounding=self.num.rounding)
        return a.astype(storage_dtype(self.num.k_a))

    def backward(self, dx: np.ndarray, need_input_grad: bool) -> np.ndarray:
        masked = np.where(self.unclipped, dx, 0)
        e, n_sat = quantize_error(masked, self.num.k_e, self.num.rounding)
        self.counts["saturated_errors"] += n_sat
        out = np.where(self.positive, e, 0).astype(e.dtype)
        if self.rec:
            record_error_quantiser(self.rec, self.name, "input_grad", masked, out, self.num)
        return out


class WageIntModel:
    """A WAGE network trained bit-true in integers under the given numerics."""

    numerics_kind = "int"

    def __init__(self, spec: WorkloadSpec, numerics: NumericSpec | None = None) -> None:
        self.spec = spec
        self.num = numerics or spec.numerics
        self.engine = ExactGemm(Accumulator(self.num.accumulator_bits, self.num.overflow))
        self.rng = RandomBits(spec.training.seed)
        self.schedule = EtaSchedule(spec)
        self.recorder: TraceRecorder | None = None
        self.counts: dict[str, dict[str, int]] = {}
        self.layers: list = []
        shift = 0
        for plan in plan_network(spec, self.num.k_w):
            counts = self.counts.setdefault(plan.spec.name, dict.fromkeys(COUNTER_KEYS, 0))
            if plan.spec.kind in ("conv", "fc"):
                layer = _WeightLayer(plan, self.num, self.engine, counts)
                shift = layer.shift
            elif plan.spec.kind == "maxpool":
                layer = _MaxPool(plan, self.num)
            else:
                layer = _QuantReLU(shift, self.num, counts)
                layer.name = plan.spec.name
                shift = 0
            self.layers.append(layer)
        self.out_shift = shift  # logits are Z of the last fc
        self.first_weight_layer = next(i for i, l in enumerate(self.layers) if isinstance(l, _WeightLayer))
        self.loss_counts = self.counts[spec.layers[-1].name]

    def forward(self, images: np.ndarray, train: bool = False) -> np.ndarray:
        """Integer logits Z (B, classes) for uint8 images (B, H, W)."""
        x = quantize_input(images, self.num.k_a, self.num.rounding)
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted classes (argmax of the integer logits; ties to the lower class)."""
        return self.forward(images).argmax(axis=1)

    def fit_inputs(self, train_images: np.ndarray) -> None:
        """WAGE's input quantiser is fixed (x/128 - 1): nothing to fit."""

    def begin_epoch(self, epoch: int, steps_per_epoch: int) -> dict:
        """Start a 0-based epoch of ``steps_per_epoch`` steps; returns its learning rate η (first and
        last step) for the epoch record."""
        first, last = self.schedule.begin_epoch(epoch, steps_per_epoch)
        return {"lr": 2.0 ** first, "lr_end": 2.0 ** last}

    def end_epoch(self, epoch: int, test_accuracy: float) -> bool:
        """WAGE has no early stopping: never stop."""
        return False

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """One SGD step on a batch; returns (SSE loss per sample in real units, correct predictions)."""
        z = self.forward(images, train=True)
        one = np.int64(1) << (self.num.k_a - 1 + self.out_shift)  # the value 1.0 in logit units
        e = z.astype(np.int64)
        e[np.arange(len(labels)), labels] -= one
        loss = 0.5 * float(np.square(e / float(one)).sum()) / len(labels)
        err, n_sat = quantize_error(e, self.num.k_e, self.num.rounding)
        self.loss_counts["saturated_errors"] += n_sat
        if self.recorder:
            name = self.spec.layers[-1].name
            self.recorder.record("eltwise", name, "loss", [access(f"{name}.z", z, self.num.accumulator_bits)],
                                 [access(f"{name}.e", e, self.num.accumulator_bits)], op="subtract_target")
            record_error_quantiser(self.recorder, name, "loss", e, err, self.num)
        first = self.first_weight_layer
        for i in range(len(self.layers) - 1, first - 1, -1):
            err = self.layers[i].backward(err, need_input_grad=i > first)
        eta_log2 = self.schedule.next_log2()
        for layer in self.layers:
            if isinstance(layer, _WeightLayer):
                layer.update(eta_log2, self.rng)
        return loss, int((z.argmax(axis=1) == labels).sum())

    def weights(self) -> dict[str, np.ndarray]:
        """Stored integer weights by layer name (k_G grid)."""
        return {l.spec.name: l.w_stored.copy() for l in self.layers if isinstance(l, _WeightLayer)}

    def record_into(self, recorder: TraceRecorder | None) -> None:
        """Record every op of the following steps into ``recorder`` (None stops recording)."""
        self.recorder = recorder
        for layer in self.layers:
            layer.rec = recorder

    def state(self) -> dict:
        """Everything needed to continue training bit-identically: weights, random-bit state, counters."""
        return {"weights": self.weights(), "json": {"random_bits": self.rng.state(), "counts": self.counts}}

    def load_state(self, state: dict) -> None:
        """Restore a :meth:`state`."""
        for layer in self.layers:
            if isinstance(layer, _WeightLayer):
                layer.w_stored = np.asarray(state["weights"][layer.spec.name], dtype=np.int32).copy()
        self.rng.set_state(state["json"]["random_bits"])
        for name, counts in state["json"]["counts"].items():
            self.counts[name].update(counts)

    def alphas(self) -> dict[str, int]:
        """α per weight layer."""
        return {l.spec.name: 1 << l.plan.alpha_log2 for l in self.layers if isinstance(l, _WeightLayer)}
