"""The NITRO-D authors' code on CPU: MLP 784-200-100-50-10 on Fashion-MNIST for EPOCHS epochs per seed,
following their results/mlp_2_fmnist/train.ipynb protocol with device='cpu'. Test accuracy is their
val_step over 9,984 test images (156 batches of 64).

Writes OUT.csv rows ``authors_cpu,seed,epoch,test_acc,train_acc`` (fractions); prints one line per seed.
Also holds ``config`` and ``layers``, used by the other authors-side scripts.

usage: tvenv/bin/python authors_seeds.py OUT.csv EPOCHS SEED [SEED ...]
"""
import sys
import time

import common

common.authors_side()
import numpy as np
import cupy as cp  # our stand-in, see stubs/cupy
from lib.experiments import build_MLP
from lib.optim.lr_schedulers import ConstantLR
from lib.utils.data import load_integer_dataset, shuffle_dataset
from lib.utils.enums import Dataset, Initialization, NonLinearity, OptimizerName
from lib.utils.train import train_step_local, val_step


def config(seed, epochs):
    """The notebook's configuration for mlp_2_fmnist, on CPU."""
    return dict(dataset=Dataset.FASHION_MNIST.name, subsample_ratio=1.0, ohe_values=(0, 32), data_augmentation=False,
                normalize=True, num_fc_layers=4, num_fc_hidden=[200, 100, 50],
                non_linearity=NonLinearity.NITRO_LEAKY_RELU.name, init=Initialization.UNIFORM_KAIMING_LEAKY_RELU.name,
                dropout_rate=0.0, seed=seed, dtype='int32', device='cpu', local_loss='pred', bias=False, debug=False,
                batch_size=64, num_epochs=epochs, lr_inv=512, lr_amp_factor=640, fwd_decay_inv=10_000,
                subnet_decay_inv=8000, optimizer=OptimizerName.INTEGER_SGD.name)


def layers(model):
    """The model's 7 integer linear layers, in the order of common.LAYERS."""
    out = []
    for block in model.blocks:
        out += [block.layers[0], block.pred_loss_net[0]]
    return out + [model.output_layers[0]]


def main():
    out, epochs, seeds = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    with open(out, "w") as csv:
        for seed in seeds:
            t = time.time()
            cfg = config(seed, epochs)
            np.random.seed(seed)
            cp.random.seed(seed)  # as the notebook's run_experiment does
            X_tr, _, X_te, y_tr, _, y_te = load_integer_dataset(cfg, ohe_values=cfg["ohe_values"], val_dim=0,
                                                                show_images=False, show_log=False)
            m = build_MLP(cfg, X_tr=X_tr, y_tr=y_tr)
            # the epoch loop of their train_test_experiment (its plateau and early stop act from epoch 10 only)
            lr = ConstantLR(cfg["lr_inv"])
            n_train, n_test = len(X_tr) // 64, len(X_te) // 64
            accs = []
            for epoch in range(epochs):
                lr.step()
                X_tr, y_tr = shuffle_dataset(X_tr, y_tr)
                _, train_acc, _, _ = train_step_local(model=m, X_train=X_tr, y_train=y_tr, batch_size=64,
                                                      n_train_batches=n_train, augmentation_pipeline=None,
                                                      lr_inv=lr.get_lr())
                _, test_acc = val_step(model=m, X_val=X_te, y_val=y_te, batch_size=64, n_val_batches=n_test)
                accs.append(float(test_acc))
                csv.write(f"authors_cpu,{seed},{epoch + 1},{float(test_acc):.5f},{float(train_acc):.5f}\n")
            csv.flush()
            print(seed, [round(a * 100, 3) for a in accs], f"{time.time() - t:.0f}s", flush=True)


if __name__ == "__main__":
    main()
