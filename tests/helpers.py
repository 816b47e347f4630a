"""Small builders shared by the tests."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from archsim.config import load_workload

TINY_LAYERS = [
    {"type": "conv", "name": "conv1", "out_channels": 2, "kernel": 3, "padding": 1},
    {"type": "maxpool", "name": "pool1", "size": 2},
    {"type": "qrelu", "name": "act1"},
    {"type": "fc", "name": "fc2", "out_features": 10},
]


def workload_dict(layers=None, numerics=None, input_shape=(6, 6, 1), **training) -> dict:
    """A valid WAGE workload as a dict (tiny by default)."""
    return {
        "name": "tiny",
        "algorithm": {"name": "wage"},
        "network": {"input": list(input_shape), "layers": copy.deepcopy(layers or TINY_LAYERS)},
        "numerics": numerics or {},
        "training": {"epochs": 1, "batch_size": 4, "seed": 5, **training},
    }


def write_workload(tmp_path: Path, data: dict, name: str = "w.yaml") -> Path:
    """Write a workload dict as YAML and return its path."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_spec(tmp_path: Path, **kw):
    """Load a tiny workload through the real loader."""
    return load_workload(write_workload(tmp_path, workload_dict(**kw)))
