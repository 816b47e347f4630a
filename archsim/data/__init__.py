"""Data sets for archsim: Fashion-MNIST (embedded mini subset or the full set).

Public API: :func:`load_dataset`, :class:`Dataset`, :class:`DataError`, and the IDX
reader/writer :func:`read_idx` / :func:`write_idx`.
"""
from .datasets import KNOWN_DATASETS, Dataset, load_dataset
from .errors import DataError
from .idx import read_idx, write_idx

__all__ = ["DataError", "Dataset", "KNOWN_DATASETS", "load_dataset", "read_idx", "write_idx"]
