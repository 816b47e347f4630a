"""Run the authors' random stream (from authors_dump.py) through archsim: their initial weights, their input
statistics (first 25k images of their seeded shuffle) and their batch order, last partial batch dropped
as they do.

Prints archsim's input statistics, whether its normalised training set equals the authors', and test
accuracy after every epoch on 9,984 and 10,000 images (to compare with authors_seeds.py for that seed).

usage: .venv/bin/python archsim_replay.py AUTHORS.npz SEED EPOCHS
"""
import sys

import numpy as np

import common

common.archsim_side()
from archsim.algorithms.nitro_d import NitroModel
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import evaluate

A, seed, epochs = np.load(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
spec = load_workload(common.WORKLOAD).with_overrides(epochs=epochs, seed=seed)
data = load_dataset(spec.dataset, "full")
m = NitroModel(spec)
m.fit_inputs(data.train_images[A["p0"]])
print("stats (mean, MAD):", int(m.input_stats[0][0]), int(m.input_stats[1][0]),
      "| normalised train set identical to authors':",
      np.array_equal(m.prepare_inputs(data.train_images[A["p0"]])[..., 0], A["x_train0"]))
state = m.state()
for k in common.LAYERS:
    state["weights"][k] = A[f"w_{k}"].T.copy()
m.load_state(state)
for e in range(epochs):
    order = A[f"order_{e}"]
    for b in range(len(order) // 64):
        idx = order[b * 64:(b + 1) * 64]
        m.train_step(data.train_images[idx], data.train_labels[idx])
    print(f"epoch {e + 1}: archsim on the authors' stream: test acc 9984 = "
          f"{evaluate(m, data.test_images[:9984], data.test_labels[:9984], 64):.5f}, "
          f"10000 = {evaluate(m, data.test_images, data.test_labels, 1000):.5f}", flush=True)
