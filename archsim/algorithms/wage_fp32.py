"""Float32 reference of a WAGE network: same layers, init, α, data order and schedule, no quantisation.

It is the baseline every integer run is compared with: weights start from the same
U(-L, L) draws (unquantised), each weight layer divides by the same α, hidden layers
use a plain ReLU, the loss is the same SSE (averaged over the batch) and plain SGD
runs with lr = fp32_lr · η_t/η_0 (the integer run's η schedule, rescaled).
"""
from __future__ import annotations

import numpy as np

from ..config import WorkloadSpec
from ..numerics import Float32Gemm
from ..numerics.pool import maxpool2d, maxpool2d_backward
from .products import forward_product, input_grad_product, weight_grad_product
from .wage_common import EtaSchedule, LayerPlan, plan_network


class _FloatWeightLayer:
    def __init__(self, plan: LayerPlan, engine: Float32Gemm) -> None:
        self.plan, self.spec, self.engine = plan, plan.spec, engine
        self.scale = np.float32(2.0 ** -plan.alpha_log2)
        self.w = plan.init_weights.astype(np.float32)
        self.velocity = np.zeros_like(self.w)

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x = x
        z, _ = forward_product(self.spec, x, self.w, self.engine)
        return (z * self.scale).reshape((x.shape[0],) + self.plan.out_shape)

    def backward(self, e: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        e = e * self.scale
        self.grad, _ = weight_grad_product(self.spec, self.x, e, self.engine)
        if not need_input_grad:
            return None
        dx, _ = input_grad_product(self.spec, e, self.w, self.x.shape, self.engine)
        return dx

    def update(self, lr: float, momentum: float, clip: bool) -> None:
        if momentum:
            self.velocity *= np.float32(momentum)
            self.velocity += self.grad
            self.w -= np.float32(lr) * self.velocity
        else:
            self.w -= np.float32(lr) * self.grad
        if clip:  # WAGE's C(W) with full-precision bits: weights stay within ±1
            np.clip(self.w, -1, 1, out=self.w)


class _FloatMaxPool:
    def __init__(self, plan: LayerPlan) -> None:
        self.size = plan.spec.size

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x_shape = x.shape
        y, self.arg = maxpool2d(x, self.size)
        return y

    def backward(self, e: np.ndarray, need_input_grad: bool) -> np.ndarray:
        return maxpool2d_backward(e, self.arg, self.x_shape, self.size)


class _FloatReLU:
    """ReLU, optionally clipped at 1 like WAGE's C(x) (gradient masked where clipped)."""

    def __init__(self, clip: bool) -> None:
        self.clip = clip

    def forward(self, z: np.ndarray, train: bool) -> np.ndarray:
        self.active = (z > 0) & (z <= 1) if self.clip else z > 0
        y = np.where(z > 0, z, np.float32(0))
        return np.minimum(y, np.float32(1)) if self.clip else y

    def backward(self, e: np.ndarray, need_input_grad: bool) -> np.ndarray:
        return np.where(self.active, e, np.float32(0))


class WageFloatModel:
    """The float32 reference training mode of a WAGE workload."""

    numerics_kind = "fp32"

    def __init__(self, spec: WorkloadSpec) -> None:
        self.spec = spec
        engine = Float32Gemm()
        self.layers: list = []
        self.counts: dict[str, dict[str, int]] = {}
        for plan in plan_network(spec, spec.numerics.k_w):
            kind = plan.spec.kind
            self.layers.append(_FloatWeightLayer(plan, engine) if kind in ("conv", "fc")
                               else _FloatMaxPool(plan) if kind == "maxpool" else _FloatReLU(spec.wage.fp32_clip))
        self.first_weight_layer = next(i for i, l in enumerate(self.layers) if isinstance(l, _FloatWeightLayer))
        self.eta0_log2 = spec.wage.eta_schedule[0].eta_log2
        self.schedule = EtaSchedule(spec)

    def forward(self, images: np.ndarray, train: bool = False) -> np.ndarray:
        """Float logits for uint8 images (B, H, W)."""
        x = ((images.astype(np.float32) - 128) / 128)[..., None]
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted classes."""
        return self.forward(images).argmax(axis=1)

    def fit_inputs(self, train_images: np.ndarray) -> None:
        """WAGE's input quantiser is fixed (x/128 - 1): nothing to fit."""

    def _lr(self, eta_log2: int) -> float:
        return self.spec.wage.fp32_lr * 2.0 ** (eta_log2 - self.eta0_log2)

    def begin_epoch(self, epoch: int, steps_per_epoch: int) -> dict:
        """Start a 0-based epoch; returns its learning rate (the WAGE schedule rescaled, first and
        last step) for the epoch record."""
        first, last = self.schedule.begin_epoch(epoch, steps_per_epoch)
        return {"lr": self._lr(first), "lr_end": self._lr(last)}

    def end_epoch(self, epoch: int, test_accuracy: float) -> bool:
        """No early stopping."""
        return False

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """One SGD step on the batch-mean SSE; returns (loss per sample, correct predictions)."""
        out = self.forward(images, train=True)
        e = out.copy()
        e[np.arange(len(labels)), labels] -= 1
        loss = 0.5 * float(np.square(e).sum()) / len(labels)
        err = e / np.float32(len(labels))
        first = self.first_weight_layer
        for i in range(len(self.layers) - 1, first - 1, -1):
            err = self.layers[i].backward(err, need_input_grad=i > first)
        lr = self._lr(self.schedule.next_log2())
        for layer in self.layers:
            if isinstance(layer, _FloatWeightLayer):
                layer.update(lr, self.spec.wage.fp32_momentum, self.spec.wage.fp32_clip)
        return loss, int((out.argmax(axis=1) == labels).sum())

    def weights(self) -> dict[str, np.ndarray]:
        """Float weights by layer name."""
        return {l.spec.name: l.w.copy() for l in self.layers if isinstance(l, _FloatWeightLayer)}

    def state(self) -> dict:
        """Weights and momentum buffers (enough to continue training identically)."""
        layers = [l for l in self.layers if isinstance(l, _FloatWeightLayer)]
        return {"weights": self.weights(), "velocity": {l.spec.name: l.velocity.copy() for l in layers}, "json": {}}

    def load_state(self, state: dict) -> None:
        """Restore a :meth:`state`."""
        for layer in self.layers:
            if isinstance(layer, _FloatWeightLayer):
                layer.w = np.asarray(state["weights"][layer.spec.name], dtype=np.float32).copy()
                layer.velocity = np.asarray(state["velocity"][layer.spec.name], dtype=np.float32).copy()
