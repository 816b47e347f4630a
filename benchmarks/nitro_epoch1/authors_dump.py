"""Record the authors' random stream for one seed (device='cpu'), for replay in archsim (archsim_replay.py).

Saves OUT.npz: their initial weights ``w_<layer>`` (their (out, in) layout), ``p0`` (the permutation their
preprocessing applies to the training file; their input statistics come from its first 25k images),
``order_<e>`` (the training-file index of every sample of epoch e, in the order they train on it) and
``x_train0`` (their normalised int8 training set, for checking archsim's normalisation).

usage: tvenv/bin/python authors_dump.py OUT.npz SEED EPOCHS
"""
import sys

import numpy as np

from authors_seeds import config, layers  # also puts the authors' lib on the path
import common
import cupy as cp
from lib.experiments import build_MLP
from lib.utils.data import load_integer_dataset

out, seed, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = config(seed, epochs)
np.random.seed(seed)
cp.random.seed(seed)
state = np.random.get_state()
p0 = np.arange(60000)
np.random.shuffle(p0)  # the shuffle their preprocessing draws first
np.random.set_state(state)
X_tr, _, _, y_tr, _, _ = load_integer_dataset(cfg, ohe_values=(0, 32), val_dim=0, show_images=False, show_log=False)
m = build_MLP(cfg, X_tr=X_tr, y_tr=y_tr)
perm, orders = np.arange(60000), {}
for e in range(epochs):  # the same draws as shuffle_dataset at the start of every epoch
    idx = np.arange(60000)
    np.random.shuffle(idx)
    perm = perm[idx]
    orders[f"order_{e}"] = p0[perm]
np.savez_compressed(out, **{f"w_{k}": layer.weights for k, layer in zip(common.LAYERS, layers(m))}, p0=p0,
                    **orders, x_train0=X_tr[:, 0])
print("saved", out)
