"""How noisy "test accuracy after epoch 1" is: archsim's NITRO-D MLP2 (seed SEED), test accuracy on
10,000 images every 5 steps over the last 100 steps of epoch 1.

Prints ``step:accuracy`` pairs and their min, max, mean and std.

usage: .venv/bin/python archsim_epoch1_fluct.py SEED
"""
import sys

import numpy as np

import common

common.archsim_side()
from archsim.algorithms.nitro_d import NitroModel
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import epoch_batches, evaluate

seed = int(sys.argv[1])
spec = load_workload(common.WORKLOAD).with_overrides(epochs=1, seed=seed)
data = load_dataset(spec.dataset, "full")
m = NitroModel(spec)
m.fit_inputs(data.train_images)
batches = epoch_batches(len(data.train_labels), 64, seed, 0)
last, accs = len(batches), []
for s, idx in enumerate(batches, 1):
    m.train_step(data.train_images[idx], data.train_labels[idx])
    if s >= last - 100 and (last - s) % 5 == 0:
        accs.append((s, evaluate(m, data.test_images, data.test_labels, 1000)))
print(f"seed {seed}: " + " ".join(f"{s}:{a * 100:.1f}" for s, a in accs))
a = np.array([acc for _, acc in accs]) * 100
print(f"last-100-steps test acc: min {a.min():.2f} max {a.max():.2f} mean {a.mean():.2f} std {a.std():.2f}")
