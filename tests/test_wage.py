"""WAGE bit-true: one training step equals a pure-integer reference; the published constants hold."""
import math

import numpy as np
import pytest

import reference as ref
from archsim.algorithms.wage import WageIntModel, quantize_error
from archsim.algorithms.wage_common import alpha_log2, init_limit
from archsim.algorithms.wage_fp32 import WageFloatModel
from archsim.numerics import RandomBits
from helpers import tiny_spec


def test_alpha_reproduces_the_logged_vgg7_scales():
    # fan-in of the 8 layers of WAGE's CIFAR VGG-7; the official log prints α = 2,16,16,16,16,32,32,16
    fans = [27, 1152, 1152, 2304, 2304, 4608, 8192, 1024]
    assert [1 << alpha_log2(f, 2, 1.5) for f in fans] == [2, 16, 16, 16, 16, 32, 32, 16]
    assert init_limit(1152, 2, 1.5) == 0.75 and math.isclose(init_limit(4, 2, 1.5), math.sqrt(0.75))


def _quant_e_ref(values, k_e, mode):
    m = max(abs(v) for v in values)
    if m == 0:
        return [0] * len(values)
    shift = ref.round_log2(m) - (k_e - 1)
    lim = (1 << (k_e - 1)) - 1
    return [min(max(ref.shift_right(v, shift, mode), -lim), lim) for v in values]


@pytest.mark.parametrize("k_e,mode", [(8, "half_even"), (5, "half_up"), (12, "toward_zero")])
def test_error_quantiser_matches_reference(k_e, mode):
    rng = np.random.default_rng(k_e)
    for scale in (1, 100, 1 << 30):
        e = rng.integers(-scale, scale + 1, size=50)
        got, _ = quantize_error(e, k_e, mode)
        assert got.tolist() == _quant_e_ref(e.tolist(), k_e, mode)


def _reference_step(model, images, labels, eta_log2):
    """One WAGE step of the tiny conv-pool-qrelu-fc net in pure Python integers."""
    num = model.num
    conv, fc = model.layers[0], model.layers[3]
    wrap = (lambda v: ref.wrap(v, num.accumulator_bits))
    lim_w, lim_a = (1 << (num.k_w - 1)) - 1, (1 << (num.k_a - 1)) - 1

    def qw(wg):
        return np.clip(np.vectorize(lambda v: ref.shift_right(int(v), num.k_g - num.k_w, num.rounding))(wg),
                       -lim_w, lim_w).astype(np.int64)

    def quant_e(arr):
        flat = [int(v) for v in np.asarray(arr).ravel()]
        return np.array(_quant_e_ref(flat, num.k_e, num.rounding), dtype=np.int64).reshape(np.shape(arr))

    a0 = np.clip(np.vectorize(lambda v: ref.shift_right(int(v) - 128, 8 - num.k_a, num.rounding))(images),
                 -lim_a, lim_a)[..., None]
    w1, w2 = qw(conv.w_stored), qw(fc.w_stored)
    z1 = np.vectorize(wrap)(np.array(ref.conv2d(a0.tolist(), w1.tolist(), 1, 1)))
    p, arg = ref.maxpool(z1.tolist(), 2)
    p = np.array(p)
    sh1 = conv.shift
    a1 = np.vectorize(lambda v: min(ref.shift_right(max(int(v), 0), sh1, num.rounding), lim_a))(p)
    flat = a1.reshape(len(labels), -1)
    z2 = np.vectorize(wrap)(np.array(ref.matmul(flat.tolist(), w2.tolist())))
    e = z2.copy()
    for i, y in enumerate(labels):
        e[i, y] -= 1 << (num.k_a - 1 + fc.shift)
    e2 = quant_e(e)
    g2 = np.vectorize(wrap)(np.array(ref.matmul(flat.T.tolist(), e2.tolist())))
    dx = np.vectorize(wrap)(np.array(ref.matmul(e2.tolist(), w2.T.tolist()))).reshape(p.shape)
    unclipped, positive = p <= (lim_a << sh1), p > 0
    e1 = np.where(positive, quant_e(np.where(unclipped, dx, 0)), 0)
    e1_full = np.zeros(z1.shape, dtype=np.int64)
    for b, i, j, c in np.ndindex(*p.shape):
        di, dj = divmod(arg[b][i][j][c], 2)
        e1_full[b, 2 * i + di, 2 * j + dj, c] = e1[b, i, j, c]
    g1 = np.vectorize(wrap)(np.array(ref.conv2d_weight_grad(a0.tolist(), e1_full.tolist(), 3, 1, 1)))
    rng = RandomBits(model.spec.training.seed)
    new = {}
    for layer, g in ((conv, g1), (fc, g2)):
        flat_g = [int(v) for v in g.ravel()]
        r = rng.draw(len(flat_g), num.random_bits).tolist()
        shift = ref.round_log2(max(abs(v) for v in flat_g)) - eta_log2
        delta = [ref.stochastic_shift(v, shift, ri, num.random_bits) for v, ri in zip(flat_g, r)]
        w = layer.w_stored.ravel().astype(np.int64) - np.array(delta)
        new[layer.spec.name] = np.clip(w, -layer.w_limit, layer.w_limit).reshape(g.shape)
    return z2, new


NUMERICS = [
    {},  # WAGE default 2-8-8-8, half-even, 32-bit wrap
    {"k_w": 3, "k_a": 6, "k_g": 10, "k_e": 5, "rounding": "half_up", "random_bits": 4},
    {"k_w": 2, "k_a": 8, "k_g": 8, "k_e": 8, "accumulator_bits": 12, "rounding": "toward_zero"},
]


@pytest.mark.parametrize("numerics", NUMERICS)
@pytest.mark.parametrize("eta_log2", [3, -3])
def test_training_step_equals_pure_integer_reference(tmp_path, numerics, eta_log2):
    model = WageIntModel(tiny_spec(tmp_path, numerics=numerics))
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(4, 6, 6), dtype=np.uint8)
    labels = np.array([0, 3, 9, 3])
    # take a first step so that weights are no longer the ternary initial values
    model.schedule.next_log2 = lambda: eta_log2
    model.train_step(images[::-1].copy(), labels[::-1].copy())
    model.rng = RandomBits(model.spec.training.seed)
    z_ref, w_ref = _reference_step(model, images, labels, eta_log2)
    assert np.array_equal(model.forward(images), z_ref)
    model.train_step(images, labels)
    got = model.weights()
    for name, w in w_ref.items():
        assert np.array_equal(got[name], w), name
    if numerics.get("accumulator_bits") == 12:
        assert sum(c["acc_overflow_weight_grad"] + c["acc_overflow_forward"] for c in model.counts.values()) > 0


def test_stored_weights_stay_on_the_grid_and_inside_the_clip(tmp_path):
    model = WageIntModel(tiny_spec(tmp_path))
    rng = np.random.default_rng(2)
    for _ in range(5):
        model.train_step(rng.integers(0, 256, (4, 6, 6), dtype=np.uint8), rng.integers(0, 10, 4))
    for layer in (model.layers[0], model.layers[3]):
        assert np.abs(layer.w_stored).max() <= 64  # C(W, 2) = ±0.5 on the 2^-7 grid
        assert set(np.unique(layer.forward_weights()).tolist()) <= {-1, 0, 1}


def test_float_reference_gradient_matches_finite_differences(tmp_path):
    spec = tiny_spec(tmp_path)
    model = WageFloatModel(spec)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (4, 6, 6), dtype=np.uint8)
    labels = np.array([1, 2, 3, 4])

    def loss():
        out = model.forward(images).astype(np.float64)
        out[np.arange(4), labels] -= 1
        return 0.5 * float(np.square(out).sum()) / 4

    model.forward(images, train=True)
    base = loss()
    fc = model.layers[3]
    model.train_step(images, labels)  # computes fc.grad, then updates
    grad = fc.grad.copy()
    fc.w += np.float32(spec.wage.fp32_lr) * grad  # undo the update
    model.layers[0].w += np.float32(spec.wage.fp32_lr) * model.layers[0].grad
    assert math.isclose(loss(), base, rel_tol=1e-5)
    i, j = np.unravel_index(np.abs(grad).argmax(), grad.shape)
    h = 1e-2
    fc.w[i, j] += h
    up = loss()
    fc.w[i, j] -= 2 * h
    down = loss()
    fc.w[i, j] += h
    assert math.isclose((up - down) / (2 * h), grad[i, j], rel_tol=2e-2)
