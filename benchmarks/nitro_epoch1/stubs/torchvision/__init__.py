"""Stand-in for torchvision.datasets.FashionMNIST: there is no internet for torchvision's download, so
this reads the same idx .gz files from $FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist).

The authors' code only reads ``.data.numpy()`` (uint8, N×28×28) and ``.targets``; ``.data`` mimics a
torch tensor just enough for that.
"""
import gzip
import os

import numpy as _np

_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return _np.frombuffer(raw, dtype=_np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


class _Tensor:
    def __init__(self, a):
        self._a = a

    @property
    def data(self):
        return self

    def numpy(self):
        return self._a


class _FashionMNIST:
    def __init__(self, root=None, train=True, download=False):
        split = "train" if train else "t10k"
        self.data = _Tensor(_idx(os.path.join(_DIR, f"{split}-images-idx3-ubyte.gz")))
        self.targets = _idx(os.path.join(_DIR, f"{split}-labels-idx1-ubyte.gz"))


class datasets:
    FashionMNIST = _FashionMNIST
