"""Input statistics and initial weights: archsim (from an archsim_dump.py folder) against the authors' pipeline
for each seed.

Prints archsim's mean and MAD of x − 128 (first 25k training images in file order, the same for every
seed), its normalised training set's range and std and its initial weights per layer; then, per seed, the
authors' mean and MAD (first 25k images after their seeded shuffle), their normalised range and std,
their initial |w| bound per layer and the std of fc1.

usage: tvenv/bin/python compare_stats.py DUMPDIR SEED [SEED ...]
"""
import sys

import numpy as np

from authors_seeds import config, layers  # also puts the authors' lib on the path
import common
import cupy as cp
from lib.experiments import build_MLP
from lib.utils.data import _preprocess_dataset, download_dataset, load_integer_dataset
from lib.utils.enums import Dataset
from lib.utils.misc import int_mean_and_mad

init, seeds = np.load(f"{sys.argv[1]}/init.npz"), [int(s) for s in sys.argv[2:]]
x = init["x_train"]
print("archsim: mean, MAD of x-128 over first 25k (file order):", init["stats"].tolist(),
      f"normalised train min/max: {x.min()} {x.max()} mean {x.mean():.2f} std {x.std():.2f}")
for k in common.LAYERS:
    w = init[f"w_{k}"]
    print(f"  archsim init {k}: shape {w.shape} min {w.min()} max {w.max()} mean {w.mean():+.3f} std {w.std():.3f}")
for seed in seeds:
    np.random.seed(seed)
    cp.random.seed(seed)
    train, test = download_dataset(Dataset.FASHION_MNIST, add_padding=False)
    (x_shuffled, _), _, _ = _preprocess_dataset(train, test, val_dim=0)
    mean, mad = int_mean_and_mad(x_shuffled[:25000].astype(np.int32), axis=(0, 2, 3), keepdims=True)
    np.random.seed(seed)  # again, as authors_seeds.py does before loading
    cp.random.seed(seed)
    X_tr, _, _, y_tr, _, _ = load_integer_dataset(config(seed, 1), ohe_values=(0, 32), val_dim=0,
                                                  show_images=False, show_log=False)
    ws = [layer.weights for layer in layers(build_MLP(config(seed, 1), X_tr=X_tr, y_tr=y_tr))]
    print(f"authors seed {seed}: mean {int(mean.squeeze())} MAD {int(mad.squeeze())}; "
          f"train min/max {X_tr.min()}/{X_tr.max()}, std {X_tr.astype(float).std():.2f}; "
          f"init |w|max per layer {[int(abs(w).max()) for w in ws]}; w std fc1 {ws[0].std():.3f}")
