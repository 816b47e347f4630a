"""NITRO-D (Pirillo, Colombo, Roveri 2024): native integer-only training with local-loss blocks.

The network is a chain of blocks (conv or fc → NITRO-Scaling → NITRO-ReLU), with max-pool
and dropout layers between them, and an output fc layer (→ scaling) trained on the global
loss. Each block has a learning head (max-pool down to ≤ head_max_features values for
conv blocks, flatten, fc → classes, scaling) trained on a local RSS loss against one-hot
targets {0, 32}; no error ever crosses a block, so the forward convolutions never need
an input gradient. The step: one forward pass, update the output layer, then every block
in reverse order (head first, with the head's pre-update weights for its input gradient).
"""
from __future__ import annotations

import numpy as np

from ..config import LayerSpec, NumericSpec, WorkloadSpec, layer_output_shapes
from ..numerics import RandomBits, divide, maxpool2d, maxpool2d_backward
from .nitro_layers import FloatArith, IntArith, dropout_multiplier, kaiming_bound
from ..trace import TraceRecorder, access
from .products import Recording, fan_in, forward_product, input_grad_product, weight_grad_product, weight_shape

COUNTER_KEYS = ("acc_overflow_forward", "acc_overflow_input_grad", "acc_overflow_weight_grad",
                "saturated_activations", "wrapped_errors", "saturated_weights")


def head_pool(channels: int, size: int, max_features: int) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Learning-head pooling of a conv block: ((kh, kw), (ph, pw), features), halving H then W until it fits.

    Same schedule as the reference: the kernel doubles alternately in H and W, the pooled
    size is ceil(size / k), and the padding centres the windows ("-inf" padded).
    """
    kh = kw = 1
    out_h = out_w = size
    feats = channels * out_h * out_w
    while feats > max_features and kh < size:
        kh *= 2
        out_h = -(-size // kh)
        feats = channels * out_h * out_w
        if feats > max_features:
            kw *= 2
            out_w = -(-size // kw)
            feats = channels * out_h * out_w
    pad = ((kh * (out_h - size // kh)) // 2, (kw * (out_w - size // kw)) // 2)
    return (kh, kw), pad, feats


class _Block:
    """A local-loss block: forward weights, its learning head and their counters."""

    def __init__(self, spec: LayerSpec, in_shape: tuple, out_shape: tuple, model: "NitroModel",
                 rng: np.random.Generator) -> None:
        ns = model.spec.nitro
        self.spec, self.in_shape, self.out_shape = spec, in_shape, out_shape
        self.counts = model.counts.setdefault(spec.name, dict.fromkeys(COUNTER_KEYS, 0))
        self.head_counts = model.counts.setdefault(spec.name + "_head", dict.fromkeys(COUNTER_KEYS, 0))
        self.fan_in = fan_in(spec, in_shape)
        self.sf = 256 * self.fan_in
        b = kaiming_bound(self.fan_in)
        self.w = model.arith.weights(rng.integers(-b, b + 1, size=weight_shape(spec, in_shape)))
        if spec.kind == "conv":
            h, w, c = out_shape
            self.pool, self.pool_pad, feats = head_pool(c, h, ns.head_max_features)
            self.af = ns.amplification * ((h * w) // (self.pool[0] * self.pool[1])
                                          if ns.conv_amplification == "adjusted" else 1)
        else:
            self.pool, self.pool_pad, feats = None, (0, 0), out_shape[0]
            self.af = ns.amplification
        self.head_spec = LayerSpec("fc", spec.name + "_head", out_features=model.spec.num_classes)
        hb = kaiming_bound(feats)
        self.head_w = model.arith.weights(rng.integers(-hb, hb + 1, size=(feats, model.spec.num_classes)))
        self.head_sf = 256 * feats


class NitroModel:
    """A NITRO-D network trained bit-true in integers (``numerics="int"``) or as its float32 mirror."""

    def __init__(self, spec: WorkloadSpec, numerics: NumericSpec | None = None, kind: str = "int") -> None:
        self.spec, ns = spec, spec.nitro
        self.num = numerics or spec.numerics
        self.arith = (IntArith if kind == "int" else FloatArith)(self.num, ns.relu_slope_inv, ns.relu_mean)
        self.numerics_kind = kind
        self.counts: dict[str, dict[str, int]] = {}
        self.rng = RandomBits(spec.training.seed)
        self.lr_inv = ns.lr_inv
        self.plateau = {"best": -1.0, "wait": 0, "stop_best": -1.0, "stop_wait": 0}
        self.step = 0
        self.input_stats: tuple[np.ndarray, np.ndarray] | None = None
        self.recorder: TraceRecorder | None = None
        init = np.random.Generator(np.random.PCG64(np.random.SeedSequence([spec.training.seed, 0x417B0])))
        shapes = layer_output_shapes(spec.layers, spec.input_shape, spec.source_file, spec.num_classes)
        self.items: list = []  # ("block", _Block) | ("maxpool", LayerSpec) | ("dropout", LayerSpec)
        in_shape = tuple(spec.input_shape)
        last = len(spec.layers) - 1
        for i, (layer, out_shape) in enumerate(zip(spec.layers, shapes)):
            if i == last:
                self.out_spec, self.out_in_shape = layer, in_shape
                self.out_fan_in = fan_in(layer, in_shape)
                b = kaiming_bound(self.out_fan_in)
                self.out_w = self.arith.weights(init.integers(-b, b + 1, size=weight_shape(layer, in_shape)))
                self.out_counts = self.counts.setdefault(layer.name, dict.fromkeys(COUNTER_KEYS, 0))
            elif layer.kind in ("conv", "fc"):
                self.items.append(("block", _Block(layer, in_shape, out_shape, self, init)))
            else:
                self.items.append((layer.kind, layer))
            in_shape = out_shape
        self.blocks = [item for kind, item in self.items if kind == "block"]

    # ----- trace recording (every call is a no-op unless a recorder is set) -----
    def record_into(self, recorder: TraceRecorder | None) -> None:
        """Record every op of the following steps into ``recorder`` (None stops recording)."""
        self.recorder = recorder

    def _recording(self, name: str, phase: str | None = None, bits_out: int | None = None) -> Recording | None:
        n = self.num
        if self.recorder is None:
            return None
        return Recording(self.recorder, name, n.k_a, n.k_w, bits_out or n.accumulator_bits, n.accumulator_bits, phase)

    def _rec(self, kind: str, layer: str, phase: str, reads: list, writes: list, **params: object) -> None:
        """Record one op; ``reads``/``writes`` are (tensor name, array, bits) triples."""
        if self.recorder is not None:
            self.recorder.record(kind, layer, phase, [access(*t) for t in reads], [access(*t) for t in writes],
                                 **params)

    def _rec_update(self, name: str, w: np.ndarray, g: np.ndarray, new_w: np.ndarray, denom: int, eta: int) -> None:
        n = self.num
        self._rec("update", name, "update", [(f"{name}.w", w, n.k_w), (f"{name}.dw", g, n.accumulator_bits)],
                  [(f"{name}.w", new_w, n.k_w)], op="divide_decay_subtract", divisor=denom, decay_divisor=eta,
                  rounding=n.rounding)

    def _rec_scale(self, name: str, phase: str, z: np.ndarray, y: np.ndarray, sf: int) -> None:
        self._rec("eltwise", name, phase, [(f"{name}.z", z, self.num.accumulator_bits)], [(f"{name}.s", y, 8)],
                  op="divide_clip", divisor=sf, rounding=self.num.rounding)

    # ----- data -----
    def fit_inputs(self, train_images: np.ndarray) -> None:
        """Per-channel integer mean and mean absolute deviation of x-128 over the first stats_images images."""
        x = train_images[:self.spec.nitro.stats_images].astype(np.int64) - 128
        n = x.size
        mean = int(divide(np.array([x.sum()]), n)[0])
        mad = max(int(divide(np.array([np.abs(x - mean).sum()]), n)[0]), 1)
        self.input_stats = (np.array([mean]), np.array([mad]))

    def prepare_inputs(self, images: np.ndarray) -> np.ndarray:
        """uint8 images → int8 NHWC: trunc((x-128-mean)·51 / MAD), clipped to [-128, 127]."""
        if self.input_stats is None:
            raise RuntimeError("fit_inputs must run before training or evaluation")
        mean, mad = self.input_stats
        x = (images.astype(np.int64) - 128 - int(mean[0])) * 51
        return np.clip(divide(x, int(mad[0])), -128, 127).astype(np.int8)[..., None]

    def _augment(self, x: np.ndarray) -> np.ndarray:
        """Batch-wide random crop (pad 2 with the batch minimum) and horizontal flip, each with p = 0.5."""
        gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.spec.training.seed, 0xA06, self.step])))
        crop, flip = gen.random(2) < 0.5
        dy, dx = gen.integers(0, 5, size=2)
        if crop:
            h, w = x.shape[1], x.shape[2]
            padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=x.min())
            x = padded[:, dy:dy + h, dx:dx + w]
        if flip:
            x = x[:, :, ::-1]
        return np.ascontiguousarray(x)

    # ----- forward -----
    def _forward(self, images: np.ndarray, train: bool) -> np.ndarray:
        a = self.arith
        x = self.prepare_inputs(images)
        if train and self.spec.nitro.augmentation:
            x = self._augment(x)
        if self.numerics_kind == "fp32":
            x = x.astype(np.float32)
        for kind, item in self.items:
            if kind == "block":
                z, n = forward_product(item.spec, x, item.w, a.engine, self._recording(item.spec.name))
                z = z.reshape((x.shape[0],) + item.out_shape)
                s, n_sat = a.scale(z, item.sf)
                self._rec_scale(item.spec.name, "forward", z, s, item.sf)
                if train:
                    item.counts["acc_overflow_forward"] += n
                    item.counts["saturated_activations"] += n_sat
                    item.x, item.s = x, s
                x = a.relu(s)
                self._rec("eltwise", item.spec.name, "forward", [(f"{item.spec.name}.s", s, 8)],
                          [(f"{item.spec.name}.a", x, 8)], op="nitro_relu", divisor=self.spec.nitro.relu_slope_inv)
                if train:
                    item.a = x
            elif kind == "maxpool":
                x_in, (x, _) = x, maxpool2d(x, item.size)
                self._rec("pool", item.name, "forward", [(f"{item.name}.x", x_in, 8)], [(f"{item.name}.y", x, 8)],
                          op="max", size=item.size)
            elif kind == "dropout" and train and item.rate > 0:
                keep = self.rng.draw(x.size, 16).reshape(x.shape) >= round(item.rate * (1 << 16))
                x_in, x = x, a.dropout(x, keep, dropout_multiplier(item.rate))
                self._rec("eltwise", item.name, "forward", [(f"{item.name}.x", x_in, 8)], [(f"{item.name}.y", x, 16)],
                          op="dropout", random_bits=16, multiplier=dropout_multiplier(item.rate), divisor=1000)
        z, n = forward_product(self.out_spec, x, self.out_w, a.engine, self._recording(self.out_spec.name))
        y_hat, n_sat = a.scale(z, 256 * self.out_fan_in)
        self._rec_scale(self.out_spec.name, "forward", z, y_hat, 256 * self.out_fan_in)
        if train:
            self.out_counts["acc_overflow_forward"] += n
            self.out_counts["saturated_activations"] += n_sat
            self.out_x = x
        return y_hat

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted classes (argmax of the output layer; ties to the lower class)."""
        return self._forward(images, train=False).argmax(axis=1)

    # ----- training -----
    def _targets(self, labels: np.ndarray) -> np.ndarray:
        t = np.zeros((len(labels), self.spec.num_classes), dtype=np.int64)
        t[np.arange(len(labels)), labels] = self.spec.nitro.onehot_value
        return t

    def _head_step(self, block: _Block, target: np.ndarray) -> np.ndarray:
        """Local loss of one block: update its head, return δ at the block's scaling output."""
        a, ns = self.arith, self.spec.nitro
        h = block.a
        name = block.head_spec.name
        if block.pool is not None:
            p, arg = maxpool2d(h, block.pool, block.pool_pad)
            self._rec("pool", name, "local_head", [(f"{name}.x", h, 8)], [(f"{name}.p", p, 8)], op="max",
                      size=list(block.pool), padding=list(block.pool_pad))
        else:
            p = h
        flat = p.reshape(len(target), -1)
        rec = self._recording(name, "local_head", self.num.k_e)
        z, n = forward_product(block.head_spec, flat, block.head_w, a.engine, rec)
        y_hat, n_sat = a.scale(z, block.head_sf)
        self._rec_scale(name, "local_head", z, y_hat, block.head_sf)
        delta, n_wrap = a.error(y_hat, target)
        self._rec("eltwise", name, "local_head", [(f"{name}.y_hat", y_hat, 8)], [(f"{name}.delta", delta, self.num.k_e)],
                  op="subtract_target")
        g, n_g = weight_grad_product(block.head_spec, flat, delta, a.engine, rec)
        d_flat, n_dx = input_grad_product(block.head_spec, delta, block.head_w, flat.shape, a.engine, rec)
        old_w = block.head_w
        block.head_w, n_w = a.update(block.head_w, g, self.lr_inv, ns.eta_inv_learning)
        self._rec_update(name, old_w, g, block.head_w, self.lr_inv, ns.eta_inv_learning)
        c = block.head_counts
        c["acc_overflow_forward"] += n
        c["saturated_activations"] += n_sat
        c["wrapped_errors"] += n_wrap
        c["acc_overflow_weight_grad"] += n_g
        c["acc_overflow_input_grad"] += n_dx
        c["saturated_weights"] += n_w
        d = d_flat.reshape(p.shape)
        if block.pool is not None:
            d = maxpool2d_backward(d, arg, h.shape, block.pool, block.pool_pad)
        ds = a.relu_backward(d, block.s)
        acc = self.num.accumulator_bits
        self._rec("eltwise", block.spec.name, "local_head", [(f"{block.spec.name}.d_a", d, acc)],
                  [(f"{block.spec.name}.d_s", ds, acc)], op="nitro_relu_backward", divisor=ns.relu_slope_inv)
        return ds

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
        """One NITRO-D step; returns (output-layer RSS per sample, correct predictions)."""
        a, ns = self.arith, self.spec.nitro
        target = self._targets(labels)
        y_hat = self._forward(images, train=True)
        delta, n_wrap = a.error(y_hat, target)
        out = self.out_spec.name
        self._rec("eltwise", out, "loss", [(f"{out}.y_hat", y_hat, 8)], [(f"{out}.delta", delta, self.num.k_e)],
                  op="subtract_target")
        g, n_g = weight_grad_product(self.out_spec, self.out_x, delta, a.engine, self._recording(out, None, self.num.k_e))
        old_w = self.out_w
        self.out_w, n_w = a.update(self.out_w, g, self.lr_inv, ns.eta_inv_learning)
        self._rec_update(out, old_w, g, self.out_w, self.lr_inv, ns.eta_inv_learning)
        self.out_counts["wrapped_errors"] += n_wrap
        self.out_counts["acc_overflow_weight_grad"] += n_g
        self.out_counts["saturated_weights"] += n_w
        for block in reversed(self.blocks):
            d = self._head_step(block, target)
            g, n_g = weight_grad_product(block.spec, block.x, d, a.engine, self._recording(block.spec.name))
            old_w = block.w
            block.w, n_w = a.update(block.w, g, self.lr_inv * block.af, ns.eta_inv_forward)
            self._rec_update(block.spec.name, old_w, g, block.w, self.lr_inv * block.af, ns.eta_inv_forward)
            block.counts["acc_overflow_weight_grad"] += n_g
            block.counts["saturated_weights"] += n_w
            block.x = block.s = block.a = None
        self.step += 1
        loss = float(np.square(y_hat.astype(np.float64) - target).sum()) / len(labels)
        return loss, int((y_hat.argmax(axis=1) == labels).sum())

    # ----- schedule -----
    def begin_epoch(self, epoch: int, steps_per_epoch: int) -> dict:
        """The epoch's learning-rate divisor for the record."""
        return {"lr_inv": self.lr_inv}

    def end_epoch(self, epoch: int, test_accuracy: float) -> bool:
        """Reduce-on-plateau (lr_inv ×= factor) and early stopping on test accuracy; True means stop."""
        ns, p = self.spec.nitro, self.plateau
        e = epoch + 1
        if e >= ns.plateau_start_epoch:
            if test_accuracy > p["best"] + ns.min_delta:
                p["best"], p["wait"] = test_accuracy, 0
            else:
                p["wait"] += 1
                if p["wait"] >= ns.plateau_patience:
                    self.lr_inv *= ns.plateau_factor
                    p["wait"] = 0
        if e >= ns.early_stop_start_epoch:
            if test_accuracy > p["stop_best"] + ns.min_delta:
                p["stop_best"], p["stop_wait"] = test_accuracy, 0
            else:
                p["stop_wait"] += 1
                return p["stop_wait"] >= ns.early_stop_patience
        return False

    # ----- state -----
    def weights(self) -> dict[str, np.ndarray]:
        """All weights by name (forward layers, heads, output layer)."""
        out = {}
        for b in self.blocks:
            out[b.spec.name], out[b.spec.name + "_head"] = b.w.copy(), b.head_w.copy()
        out[self.out_spec.name] = self.out_w.copy()
        return out

    def state(self) -> dict:
        """Everything needed to continue training identically."""
        meta = {"lr_inv": self.lr_inv, "plateau": self.plateau, "step": self.step, "random_bits": self.rng.state(),
                "counts": self.counts,
                "input_stats": [int(self.input_stats[0][0]), int(self.input_stats[1][0])] if self.input_stats else None}
        return {"weights": self.weights(), "json": meta}

    def load_state(self, state: dict) -> None:
        """Restore a :meth:`state`."""
        w = state["weights"]
        for b in self.blocks:
            b.w, b.head_w = self.arith.weights(w[b.spec.name]), self.arith.weights(w[b.spec.name + "_head"])
        self.out_w = self.arith.weights(w[self.out_spec.name])
        meta = state["json"]
        self.rng.set_state(meta["random_bits"])
        self.lr_inv, self.plateau, self.step = meta["lr_inv"], dict(meta["plateau"]), meta["step"]
        if meta["input_stats"]:
            self.input_stats = (np.array([meta["input_stats"][0]]), np.array([meta["input_stats"][1]]))
        for name, counts in meta["counts"].items():
            self.counts[name].update(counts)
