"""Typed, validated specs loaded from YAML; every error names the file, the key path and what was expected."""
from .errors import ConfigError
from .workload import (EtaPhase, LayerSpec, NumericSpec, TrainingSpec, WageSpec, WorkloadSpec,
                       layer_output_shapes, load_workload)

__all__ = ["ConfigError", "EtaPhase", "LayerSpec", "NumericSpec", "TrainingSpec", "WageSpec",
           "WorkloadSpec", "layer_output_shapes", "load_workload"]
