"""The numbers of archsim's first training step, from an archsim_dump.py folder (authors_lockstep.py shows
the authors' code gives the same): the first batch's inputs, the scaled pre-activations and NITRO-ReLU
outputs per block, the output ŷ and δ = ŷ − y, and per layer the share of weights the first update
changes and its largest |ΔW|.

usage: python3 first_step_numbers.py DUMPDIR   (needs numpy only)
"""
import sys

import numpy as np

import common

d = sys.argv[1]
steps, init = np.load(f"{d}/steps.npz"), np.load(f"{d}/init.npz")
DIVISOR = {"fc1": 512 * 640, "fc2": 512 * 640, "fc3": 512 * 640}  # lr_inv·AF; heads and output: lr_inv
idx = init["order_0"][:64]
x = init["x_train"][idx]
print(f"batch 1 input int8: min {x.min()} max {x.max()} mean {x.mean():.2f}")
for i in range(3):
    s, a = steps[f"first_s_{i}"], steps[f"first_a_{i}"]
    print(f"block {i + 1}: scaled pre-act min {s.min()} max {s.max()} mean {s.mean():.2f}, "
          f"sat(|s|=127) {np.mean(np.abs(s) == 127):.3%}; ReLU out min {a.min()} max {a.max()} mean {a.mean():.2f}")
y = steps["first_y_hat_out"]
t = np.eye(10, dtype=int)[init["y_train"][idx]] * 32
print(f"output y_hat min {y.min()} max {y.max()}; delta=y_hat-y min {(y - t).min()} max {(y - t).max()}")
for k in common.LAYERS:
    dw = init[f"w_{k}"].astype(np.int64) - steps[f"s1_{k}"]
    print(f"step-1 update {k:9s} (divisor {DIVISOR.get(k, 512):>6}): nonzero {np.mean(dw != 0):7.3%}, "
          f"max |dW| {np.abs(dw).max()}")
