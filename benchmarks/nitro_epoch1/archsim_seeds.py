"""archsim's NITRO-D MLP2 (workloads/mlp2_nitro.yaml) on all of Fashion-MNIST for EPOCHS epochs per seed.
Test accuracy is over all 10,000 test images.

Writes OUT.csv rows ``archsim,seed,epoch,test_acc,train_acc`` (fractions); prints one line per seed.

usage: .venv/bin/python archsim_seeds.py OUT.csv EPOCHS SEED [SEED ...]
"""
import sys
import time

import common

common.archsim_side()
from archsim.config import load_workload
from archsim.data import load_dataset
from archsim.train import train

out, epochs, seeds = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
with open(out, "w") as csv:
    for seed in seeds:
        t = time.time()
        spec = load_workload(common.WORKLOAD).with_overrides(epochs=epochs, seed=seed)
        res, _ = train(spec, load_dataset(spec.dataset, "full"))
        for r in res.epoch_records:
            csv.write(f"archsim,{seed},{r.epoch},{r.test_accuracy:.5f},{r.train_accuracy:.5f}\n")
        csv.flush()
        print(seed, [round(a * 100, 2) for a in res.test_accuracy_per_epoch], f"{time.time() - t:.0f}s", flush=True)
