"""How archsim's NITRO-D MLP2 wakes up in epoch 1 (seed SEED): at initialisation SF = 256·fan_in is much
larger than |Σxw|, so every scaled pre-activation is 0 and the network sits at chance until the weights
have grown.

Prints, at selected steps, the share of non-zero scaled pre-activations per block and of non-zero
outputs, train accuracy over the last 50 steps and max |w| of fc1; then the first step with a non-zero
value in each.

usage: .venv/bin/python archsim_wakeup.py SEED
"""
import sys

import numpy as np

import common

common.archsim_side()
from archsim.algorithms.nitro_d import NitroModel
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import epoch_batches

seed = int(sys.argv[1])
spec = load_workload(common.WORKLOAD).with_overrides(epochs=1, seed=seed)
data = load_dataset(spec.dataset, "full")
m = NitroModel(spec)
m.fit_inputs(data.train_images)
batches = epoch_batches(len(data.train_labels), 64, seed, 0)
acc, first = [], {}
for s, idx in enumerate(batches, 1):
    y = m._forward(data.train_images[idx], train=True)
    nonzero = [float(np.mean(b.s != 0)) for b in m.blocks] + [float(np.mean(y != 0))]
    for i, v in enumerate(nonzero):
        if v > 0:
            first.setdefault(i, s)
    _, correct = m.train_step(data.train_images[idx], data.train_labels[idx])
    acc.append(correct / len(idx))
    if s in (1, 50, 100, 200, 300, 400, 500, 600, 700, 800, len(batches)):
        print(f"step {s:4d}: nonzero scaled pre-act fc1 {nonzero[0]:.1%} fc2 {nonzero[1]:.1%} fc3 {nonzero[2]:.1%} "
              f"out {nonzero[3]:.1%}; train acc (last 50 steps) {np.mean(acc[-50:]):.1%}; "
              f"max|w| fc1 {np.abs(m.blocks[0].w).max()}", flush=True)
print("first step with a non-zero value (fc1, fc2, fc3, out):", [first.get(i) for i in range(4)])
