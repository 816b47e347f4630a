"""NITRO-D bit-true: the layers, the update and a whole training step equal pure-integer references."""
import numpy as np
import pytest

import reference as ref
from archsim.algorithms.nitro_d import NitroModel, head_pool
from archsim.algorithms.nitro_layers import IntArith, dropout_multiplier, kaiming_bound
from archsim.config import ConfigError, load_workload
from archsim.config.workload import NITRO_NUMERICS
from helpers import write_workload


def trunc_div(v: int, d: int) -> int:
    return ref.divide(v, d, "toward_zero")


ARITH = IntArith(NITRO_NUMERICS, 4, 36)


def test_init_bound_table():
    assert {f: kaiming_bound(f) for f in (784, 200, 100, 9, 1152, 2304, 4608)} == \
        {784: 10, 200: 21, 100: 30, 9: 64, 1152: 9, 2304: 6, 4608: 4}


def test_scaling_truncates_toward_zero_and_saturates():
    sf = 256 * 784
    z = np.array([0, sf - 1, -(sf - 1), sf, -sf, 5 * sf + 7, -5 * sf - 7, 127 * sf, 128 * sf, -10 ** 9, 10 ** 9])
    y, n_sat = ARITH.scale(z, sf)
    assert y.tolist() == [max(-127, min(127, trunc_div(int(v), sf))) for v in z]
    assert y.dtype == np.int8 and n_sat == 3


def test_nitro_relu_forward_and_backward_in_every_region():
    s = np.arange(-127, 128)
    y = ARITH.relu(s)
    assert y.tolist() == [min(max(v, 0), 127) + trunc_div(min(max(v, -127), 0), 4) - 36 for v in s.tolist()]
    assert (y[0], y[127], y[-1]) == (-67, -36, 91)
    delta = np.arange(-300, 300, 2)[: len(s)] * 7
    back = ARITH.relu_backward(delta, s)
    want = [d if 0 <= v < 127 else trunc_div(d, 4) if -127 <= v < 0 else 0 for v, d in zip(s.tolist(), delta.tolist())]
    assert back.tolist() == want and back[-1] == 0  # s = 127 (saturated): no gradient


def test_integer_sgd_matches_reference():
    rng = np.random.default_rng(0)
    w = rng.integers(-30000, 30000, size=200)
    g = rng.integers(-2 ** 31, 2 ** 31, size=200)
    for denom, eta in ((512, 10000), (512 * 640, 28000), (1536 * 15360, 3500)):
        new, n = ARITH.update(w, g, denom, eta)
        want = [wi - (trunc_div(gi, denom) + trunc_div(wi, eta)) for wi, gi in zip(w.tolist(), g.tolist())]
        assert new.tolist() == [max(-32768, min(32767, v)) for v in want]
        assert n == sum(not -32768 <= v <= 32767 for v in want)


def test_head_error_wraps_in_int8_like_the_reference_and_is_counted():
    y_hat = np.array([[-127, 0, 5], [-96, -97, 127]])
    target = np.array([[32, 0, 0], [32, 32, 0]])
    delta, n = ARITH.error(y_hat, target)
    assert delta.tolist() == [[97, 0, 5], [-128, 127, 127]] and n == 2  # -159 → 97, -129 → 127
    sat = IntArith(NITRO_NUMERICS.__class__(**{**NITRO_NUMERICS.__dict__, "overflow": "saturate"}), 4, 36)
    assert sat.error(y_hat, target)[0].tolist() == [[-128, 0, 5], [-128, -128, 127]]


def test_vgg8b_learning_heads_and_amplification_factors():
    import dataclasses
    spec = load_workload("workloads/vgg8b_nitro.yaml")
    model = NitroModel(spec)
    assert [b.af for b in model.blocks] == [640] * 7  # what the reference's optimizers actually use
    adjusted = dataclasses.replace(spec, nitro=dataclasses.replace(spec.nitro, conv_amplification="adjusted"))
    assert [b.af for b in NitroModel(adjusted).blocks] == [15360, 7680, 7680, 3840, 3840, 2560, 640]
    assert head_pool(128, 28, 4096) == ((8, 4), (4, 0), 3584)
    assert [b.head_w.shape[0] for b in model.blocks] == [3584, 4096, 4096, 4096, 4096, 3072, 1024]
    assert dropout_multiplier(0.1) == 1111


def _tiny(tmp_path, layers, **algorithm):
    data = {"name": "tiny-nitro", "algorithm": {"name": "nitro_d", "eta_inv_forward": 300, "eta_inv_learning": 200,
                                                **algorithm},
            "network": {"input": [6, 6, 1], "layers": layers}, "training": {"batch_size": 4, "seed": 3}}
    return load_workload(write_workload(tmp_path, data))


def _reference_step(model, images, labels):
    """One NITRO-D step of a [conv block] + fc block + output network in pure Python integers."""
    ns = model.spec.nitro
    t = model._targets(labels).tolist()
    x = model.prepare_inputs(images)
    lim, wrap = 127, (lambda v: ref.wrap(v, 32))

    def scale(v, sf):
        return max(-lim, min(lim, trunc_div(wrap(v), sf)))

    def relu(v):
        return min(max(v, 0), 127) + trunc_div(min(max(v, -127), 0), 4) - 36

    def relu_back(d, v):
        return d if 0 <= v < 127 else trunc_div(d, 4) if -127 <= v < 0 else 0

    def err(yh, tt):
        return [[ref.wrap(a - b, 8) for a, b in zip(r1, r2)] for r1, r2 in zip(yh, tt)]

    def update(w, g, denom, eta):
        return [[max(-32768, min(32767, wv - (trunc_div(gv, denom) + trunc_div(wv, eta)))) for wv, gv in zip(wr, gr)]
                for wr, gr in zip(w, g)]

    def transpose(m):
        return [list(r) for r in zip(*m)]

    cur = x.tolist()
    caches = []
    for block in model.blocks:
        w = block.w.tolist()
        if block.spec.kind == "conv":
            z = ref.conv2d(cur, w, block.spec.padding, 1)
            s = [[[[scale(v, block.sf) for v in px] for px in row] for row in img] for img in z]
            a = [[[[relu(v) for v in px] for px in row] for row in img] for img in s]
        else:
            flat = [np.array(img).ravel().tolist() for img in cur]
            z = ref.matmul(flat, w)
            s = [[scale(v, block.sf) for v in r] for r in z]
            a = [[relu(v) for v in r] for r in s]
            cur = flat
        caches.append((block, cur, s, a))
        cur = a
    flat = [np.array(img).ravel().tolist() for img in cur]
    y_hat = [[scale(v, 256 * model.out_fan_in) for v in r] for r in ref.matmul(flat, model.out_w.tolist())]
    d = err(y_hat, t)
    new = {model.out_spec.name: update(model.out_w.tolist(), ref.matmul(transpose(flat), d), model.lr_inv,
                                       ns.eta_inv_learning)}
    for block, xin, s, a in reversed(caches):
        if block.pool is not None:
            p, arg = ref.maxpool(a, 0, block.pool_pad, block.pool)
        else:
            p = a
        pf = [np.array(img).ravel().tolist() for img in p]
        yh = [[scale(v, block.head_sf) for v in r] for r in ref.matmul(pf, block.head_w.tolist())]
        dh = err(yh, t)
        new[block.spec.name + "_head"] = update(block.head_w.tolist(), ref.matmul(transpose(pf), dh), model.lr_inv,
                                                ns.eta_inv_learning)
        dp = np.array(ref.matmul(dh, transpose(block.head_w.tolist()))).reshape(np.array(p).shape)
        if block.pool is not None:
            full = np.zeros(np.array(a).shape, dtype=np.int64)
            kh, kw = block.pool
            ph, pw = block.pool_pad
            for bi, i, j, c in np.ndindex(*dp.shape):
                q, r = divmod(arg[bi][i][j][c], kw)
                rr, cc = i * kh + q - ph, j * kw + r - pw
                if 0 <= rr < full.shape[1] and 0 <= cc < full.shape[2]:
                    full[bi, rr, cc, c] += dp[bi, i, j, c]
            dp = full
        sa = np.array(s)
        ds = np.vectorize(relu_back)(dp, sa)
        if block.spec.kind == "conv":
            g = ref.conv2d_weight_grad(xin, ds.tolist(), block.spec.kernel, block.spec.padding, 1)
            gw = np.array(g).reshape(-1, block.w.shape[-1]).tolist()
            ww = block.w.reshape(-1, block.w.shape[-1]).tolist()
            new[block.spec.name] = np.array(update(ww, gw, model.lr_inv * block.af, ns.eta_inv_forward)
                                            ).reshape(block.w.shape)
        else:
            new[block.spec.name] = update(block.w.tolist(), ref.matmul(transpose(xin), ds.tolist()),
                                          model.lr_inv * block.af, ns.eta_inv_forward)
    return y_hat, new


NETS = {
    "mlp": [{"type": "fc", "name": "b1", "out_features": 7}, {"type": "fc", "name": "b2", "out_features": 5},
            {"type": "fc", "name": "out", "out_features": 10}],
    "conv": [{"type": "conv", "name": "c1", "out_channels": 3}, {"type": "fc", "name": "b2", "out_features": 6},
             {"type": "fc", "name": "out", "out_features": 10}],
}


@pytest.mark.parametrize("net,head_max", [("mlp", 4096), ("conv", 4096), ("conv", 20)])
def test_training_step_equals_pure_integer_reference(tmp_path, net, head_max):
    model = NitroModel(_tiny(tmp_path, NETS[net], head_max_features=head_max))
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(4, 6, 6), dtype=np.uint8)
    labels = np.array([1, 0, 9, 1])
    model.fit_inputs(rng.integers(0, 256, size=(50, 6, 6), dtype=np.uint8))
    for b in model.blocks:  # grow weights so that outputs and errors are non-trivial
        b.w = (b.w * 97).astype(np.int32)
        b.head_w = (b.head_w * 13).astype(np.int32)
    model.out_w = (model.out_w * 51).astype(np.int32)
    if head_max == 20:
        assert model.blocks[0].pool is not None and model.blocks[0].pool_pad != (0, 0)
    y_ref, w_ref = _reference_step(model, images, labels)
    assert model._forward(images, train=False).tolist() == y_ref
    assert any(v not in (0, 127, -127) for r in y_ref for v in r)
    model.train_step(images, labels)
    got = model.weights()
    for name, w in w_ref.items():
        assert np.array_equal(got[name], np.asarray(w).reshape(got[name].shape)), name


def test_plateau_and_early_stopping(tmp_path):
    model = NitroModel(_tiny(tmp_path, NETS["mlp"], plateau={"patience": 2, "start_epoch": 1},
                             early_stopping={"patience": 3, "start_epoch": 1}))
    accs = [0.5, 0.6, 0.6, 0.605, 0.6]
    stops = [model.end_epoch(e, a) for e, a in enumerate(accs)]
    assert model.lr_inv == 512 * 3 and stops == [False, False, False, False, True]


@pytest.mark.parametrize("key,value,expect", [
    ("eta_inv_forward", 0, "algorithm.eta_inv_forward"), ("lr_inv", -5, "algorithm.lr_inv"),
    ("relu_slope_inv", 6, "algorithm.relu_slope_inv"), ("onehot_value", 200, "algorithm.onehot_value")])
def test_impossible_hyper_parameters(tmp_path, key, value, expect):
    with pytest.raises(ConfigError, match=expect):
        _tiny(tmp_path, NETS["mlp"], **{key: value})


def test_pool_that_does_not_divide_needs_consent(tmp_path):
    layers = [{"type": "conv", "out_channels": 2}, {"type": "maxpool", "size": 4},
              {"type": "fc", "out_features": 4}, {"type": "fc", "out_features": 10}]
    with pytest.raises(ConfigError, match=r"network.layers\[1\].size.*does not divide"):
        _tiny(tmp_path, layers)
    layers[1]["drop_remainder"] = True
    assert _tiny(tmp_path, layers).layers[1].drop_remainder


def test_same_seed_same_bits_and_float_mirror_runs(tmp_path):
    import dataclasses

    from archsim.data import load_dataset
    from archsim.train import train
    data = load_dataset()
    data = dataclasses.replace(data, train_images=data.train_images[:256], train_labels=data.train_labels[:256])
    spec = load_workload("workloads/mlp3_nitro.yaml").with_overrides(epochs=2)
    a, ma = train(spec, data)
    b, mb = train(spec, data)
    assert a.test_accuracy_per_epoch == b.test_accuracy_per_epoch and a.overflow_counts == b.overflow_counts
    assert all(np.array_equal(ma.weights()[k], mb.weights()[k]) for k in ma.weights())
    f, mf = train(spec, data, "fp32")
    assert mf.weights()["out"].dtype == np.float32 and 0 <= f.final_test_accuracy <= 1
