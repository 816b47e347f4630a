"""Record an archsim NITRO-D MLP2 run for the step-by-step comparison with the authors' code
(authors_lockstep.py).

Writes DIR/init.npz (initial weights in the authors' (out, in) layout, normalised int8 train and test
images, labels, input statistics, every epoch's batch order) and DIR/steps.npz (SHA-1 of all 7 weight
tensors after every step, the weights after step 1, the first step's intermediates, and test accuracy
after every epoch on 10,000 and on 9,984 images). Prints the accuracies.

usage: .venv/bin/python archsim_dump.py DIR SEED EPOCHS
"""
import hashlib
import os
import sys

import numpy as np

import common

common.archsim_side()
from archsim.algorithms.nitro_d import NitroModel
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import epoch_batches, evaluate


def weights_t(m):
    """The 7 weight tensors as int32, transposed to the authors' (out, in) layout."""
    w = m.weights()
    return {k: np.ascontiguousarray(w[k].T.astype(np.int32)) for k in common.LAYERS}


def sha(a):
    return hashlib.sha1(np.ascontiguousarray(a.astype(np.int32)).tobytes()).hexdigest()


out, seed, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
spec = load_workload(common.WORKLOAD).with_overrides(epochs=epochs, seed=seed)
data = load_dataset(spec.dataset, "full")
m = NitroModel(spec)
m.fit_inputs(data.train_images)
n = len(data.train_labels)
batches = [epoch_batches(n, 64, seed, e) for e in range(epochs)]
np.savez_compressed(f"{out}/init.npz", **{f"w_{k}": v for k, v in weights_t(m).items()},
                    x_train=m.prepare_inputs(data.train_images)[..., 0], y_train=data.train_labels,
                    x_test=m.prepare_inputs(data.test_images)[..., 0], y_test=data.test_labels,
                    stats=np.array([int(m.input_stats[0][0]), int(m.input_stats[1][0])]),
                    **{f"order_{e}": np.concatenate(b) for e, b in enumerate(batches)})
hashes, saved, accs = [], {}, []
for e in range(epochs):
    for idx in batches[e]:
        if not hashes:  # the first step's intermediates
            saved["first_y_hat_out"] = m._forward(data.train_images[idx], train=True).copy()
            for i, blk in enumerate(m.blocks):
                saved[f"first_s_{i}"], saved[f"first_a_{i}"] = blk.s.copy(), blk.a.copy()
        m.train_step(data.train_images[idx], data.train_labels[idx])
        w = weights_t(m)
        hashes.append([sha(w[k]) for k in common.LAYERS])
        if len(hashes) == 1:
            saved.update({f"s1_{k}": v for k, v in w.items()})
    accs += [evaluate(m, data.test_images, data.test_labels, 1000),
             evaluate(m, data.test_images[:9984], data.test_labels[:9984], 1000)]
    print("epoch", e + 1, "steps", len(hashes), "test acc (10000, 9984):", accs[-2], accs[-1], flush=True)
np.savez_compressed(f"{out}/steps.npz", hashes=np.array(hashes), accs=np.array(accs), **saved)
