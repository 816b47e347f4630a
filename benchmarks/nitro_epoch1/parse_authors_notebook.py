"""The authors' published GPU runs: per-seed train and test accuracy of the first epochs, read from the
outputs of their results/mlp_2_fmnist/train.ipynb (in NITRO_D_DIR).

Prints ``seed,epoch,train_acc_%,test_acc_%`` lines; analyse.py imports ``notebook_rows``.

usage: python3 parse_authors_notebook.py [MAX_EPOCH]   (default 2)
"""
import json
import re
import sys

import common

NOTEBOOK = common.NITRO_D_DIR / "results" / "mlp_2_fmnist" / "train.ipynb"


def notebook_rows(max_epoch=2):
    """(seed, epoch, train %, test %) for every epoch ≤ max_epoch printed in the notebook's outputs."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = "".join("".join(o.get("text", [])) for c in cells for o in c.get("outputs", []))
    seed, rows = None, []
    for line in text.splitlines():
        m = re.search(r"seed (\d+)", line)
        if m:
            seed = int(m.group(1))
        m = re.search(r"Epoch\s+(\d+)/\d+ - Train accuracy: ([\d.]+)% - Test accuracy: ([\d.]+)%", line)
        if m and int(m.group(1)) <= max_epoch:
            rows.append((seed, int(m.group(1)), float(m.group(2)), float(m.group(3))))
    return rows


if __name__ == "__main__":
    for row in notebook_rows(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
        print(*row, sep=",")
