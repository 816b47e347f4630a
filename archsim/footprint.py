"""Before any array is allocated: does the network fit the data, and does its training fit in memory?

A network whose input is not the data set's image shape fails with a line naming
``network.input``; one whose estimated working set exceeds the memory this machine has
available is refused with the estimate and the largest layer, instead of a numpy
``MemoryError`` (or the kernel's OOM killer) deep inside training.
"""
from __future__ import annotations

import math
import os

from .config import ConfigError, WorkloadSpec, layer_output_shapes
from .data import Dataset

BYTES_PER_VALUE = 8
"""Integer training keeps tensors as int64 (float32 mode uses less)."""
COPIES = 2
"""A weight and its gradient; a layer's output and the error or mask kept for its backward pass.
Convolutions expand their operand in bounded batch chunks, so im2col adds no per-batch term.
Measured peaks of the shipped workloads are 0.7-3x the estimate, so refusing only above the
available memory stops the hopeless (an 8 GB layer) without refusing a training that fits."""

MEMORY_ENV = "ARCHSIM_MEMORY_BYTES"
"""Overrides the memory budget (bytes); by default the kernel's MemAvailable."""


def data_input_shape(data: Dataset) -> tuple[int, int, int]:
    """The (H, W, C) a network must take to read this data set's images."""
    shape = tuple(int(d) for d in data.train_images.shape[1:])
    return (shape[0], shape[1], 1) if len(shape) == 2 else shape  # type: ignore[return-value]


def estimate_training_bytes(spec: WorkloadSpec, batch: int) -> tuple[int, str]:
    """Working-set estimate of a training step at ``batch`` (or of a test pass at the eval
    batch, whichever is larger) and the name of the largest contributor."""
    shapes = layer_output_shapes(spec.layers, spec.input_shape, spec.source_file, spec.num_classes)
    train_total, widest, largest, largest_name = 0, 0, 0, ""
    in_shape: tuple[int, ...] = tuple(spec.input_shape)
    for i, (layer, out_shape) in enumerate(zip(spec.layers, shapes)):
        outputs = math.prod(out_shape)
        widest = max(widest, outputs)
        if layer.kind == "fc":
            weights = math.prod(in_shape) * layer.out_features
        elif layer.kind == "conv":
            weights = layer.kernel * layer.kernel * in_shape[-1] * layer.out_channels
        else:
            weights = 0
        part = (weights + batch * outputs) * COPIES * BYTES_PER_VALUE
        train_total += part
        if part > largest:
            largest, largest_name = part, f"network.layers[{i}] ({layer.name})"
        in_shape = out_shape
    eval_total = spec.training.eval_batch_size * widest * COPIES * BYTES_PER_VALUE
    return max(train_total, eval_total), largest_name


def available_memory_bytes() -> int | None:
    """``$ARCHSIM_MEMORY_BYTES``, else the kernel's MemAvailable, else None (unknown)."""
    explicit = os.environ.get(MEMORY_ENV, "")
    if explicit:
        try:
            value = int(explicit)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"${MEMORY_ENV}", "", f"expected a positive number of bytes, got {explicit[:40]!r}")
        return value
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(spec: WorkloadSpec, data: Dataset, batch: int) -> None:
    """Raise a ConfigError when the network cannot read ``data`` or its training cannot fit in memory."""
    want = data_input_shape(data)
    if tuple(spec.input_shape) != want:
        raise ConfigError(spec.source_file, "network.input",
                          f"expected {list(want)}, the image shape (H, W, C) of {data.name}; got {list(spec.input_shape)}")
    need, where = estimate_training_bytes(spec, batch)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise ConfigError(spec.source_file, "network",
                          f"training at batch {batch} needs about {_gib(need)} of memory (largest: {where}), "
                          f"more than the {_gib(have)} available; shrink the layers or the batch size")


__all__ = ["available_memory_bytes", "check_fits", "data_input_shape", "estimate_training_bytes"]
