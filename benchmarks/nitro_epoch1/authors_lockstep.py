"""Run archsim's random stream through the authors' NITRO-D code and compare with archsim step by step.

Reads archsim_dump.py's DUMPDIR: archsim's initial weights, normalised int8 inputs and batch order
(including archsim's last partial batch). Prints whether the first forward pass (scaled pre-activations,
NITRO-ReLU outputs, output) is identical, whether all 7 weight tensors have archsim's SHA-1 after every
step (first mismatch, if any) and both codes' test accuracy after every epoch on 9,984 and 10,000 images.

usage: tvenv/bin/python authors_lockstep.py DUMPDIR EPOCHS
"""
import hashlib
import sys

import numpy as np

from authors_seeds import config, layers  # also puts the authors' lib on the path
import common
from lib.experiments import build_MLP
from lib.utils.nn import accuracy, l2_loss_grad
from lib.utils.train import val_step


def sha(a):
    return hashlib.sha1(np.ascontiguousarray(a.astype(np.int32)).tobytes()).hexdigest()


d, epochs = sys.argv[1], int(sys.argv[2])
init, steps = np.load(f"{d}/init.npz"), np.load(f"{d}/steps.npz")
x_tr, x_te = init["x_train"][:, None].astype(np.int8), init["x_test"][:, None].astype(np.int8)
one_hot = np.eye(10, dtype=np.int8) * 32
y_tr, y_te = one_hot[init["y_train"]], one_hot[init["y_test"]]
m = build_MLP(config(0, epochs), X_tr=x_tr, y_tr=y_tr)
model_layers = layers(m)
for layer, k in zip(model_layers, common.LAYERS):
    assert layer.weights.shape == init[f"w_{k}"].shape, (k, layer.weights.shape, init[f"w_{k}"].shape)
    layer.weights = init[f"w_{k}"].astype(np.int32).copy()
hashes, step, first_bad = steps["hashes"], 0, None
for e in range(epochs):
    order = init[f"order_{e}"]
    m.train()
    for b0 in range(0, len(order), 64):
        idx = order[b0:b0 + 64]
        y_pred = m.forward(x_tr[idx])
        if step == 0:
            for i, blk in enumerate(m.blocks):
                fc = blk.layers[0]
                s = blk.layers[1].forward(fc.last_input @ fc.weights.T.astype(np.int32))
                a = blk.last_activation
                print(f"step 1 block {i + 1}: scaled pre-act equal={np.array_equal(s, steps[f'first_s_{i}'].reshape(s.shape))}, "
                      f"ReLU out equal={np.array_equal(a, steps[f'first_a_{i}'].reshape(a.shape))}")
            print("step 1 output y_hat equal:", np.array_equal(y_pred, steps["first_y_hat_out"]))
        m.backward(l2_loss_grad(y_tr[idx], y_pred), y_true=y_tr[idx], lr_inv=512)
        step += 1
        bad = [k for k, layer, h in zip(common.LAYERS, model_layers, hashes[step - 1]) if sha(layer.weights) != h]
        if bad and first_bad is None:
            first_bad = (step, bad)
            print("FIRST MISMATCH at step", step, bad, flush=True)
        if step in (1, 10, 100, 500, 937, 938) or step % 200 == 0 or step == len(hashes):
            print(f"step {step}: {'mismatch ' + str(bad) if bad else 'all 7 layers identical'}", flush=True)
    _, acc9984 = val_step(m, x_te, y_te, 64, len(x_te) // 64)
    acc10000 = float(accuracy(y_te, m.predict(x_te, progress_bar=False)))
    print(f"epoch {e + 1}: authors' code on archsim's stream: test acc 9984 = {acc9984:.5f}, 10000 = {acc10000:.5f}; "
          f"archsim: 10000 = {steps['accs'][2 * e]:.5f}, 9984 = {steps['accs'][2 * e + 1]:.5f}", flush=True)
print("steps", step, "first mismatch:", first_bad)
