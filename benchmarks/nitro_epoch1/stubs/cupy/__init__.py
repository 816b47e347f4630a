"""Stand-in for cupy: the machine has no GPU, so the authors' NITRO-D code runs with device='cpu'
and every cupy call it makes goes to numpy.

cupy.random.seed(s) re-seeds numpy: the authors always call np.random.seed(s) and cp.random.seed(s)
with the same s, so numpy's random stream is the one a CPU run of their code gets.
"""
import numpy as _np

ndarray = _np.ndarray


class _Random:
    @staticmethod
    def seed(s=None):
        _np.random.seed(s)


random = _Random()


def get_array_module(*args):
    return _np


def asnumpy(a, blocking=False):
    return _np.asarray(a)


def asarray(a, blocking=False):
    return _np.asarray(a)
