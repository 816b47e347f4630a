"""Workload specs: the network, the training algorithm with its hyper-parameters, the numerics.

A workload YAML names the algorithm and may carry numeric defaults (bit widths,
accumulator, rounding) for a standalone ``archsim train``; a hardware spec overrides
them when the two are joined.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError
from .reader import Section, load_yaml, show

ALGORITHMS = ("wage", "nitro_d")
MAX_DIVISOR = 1 << 31
"""Bound on NITRO-D's learning-rate divisors (int32 constants)."""
MAX_INPUT_SIDE = 4096
"""Bound on each of network.input's H, W, C; the data set's image shape is checked before training."""
DATASETS = ("fashion_mnist",)
ROUNDING = ("half_even", "half_up", "half_away", "toward_zero", "floor")
OVERFLOW = ("wrap", "saturate")
LAYER_KINDS = {"wage": ("conv", "fc", "maxpool", "qrelu"), "nitro_d": ("conv", "fc", "maxpool", "dropout")}
NITRO_RELU_MEAN = {3: 31, 4: 36, 5: 38, 7: 40, 8: 42, 10: 43, 15: 44, 16: 44, 20: 45}
"""NITRO-ReLU mean correction per inverse negative slope (from the authors' code)."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``kind`` plus its geometry (unused fields stay 0)."""

    kind: str
    name: str
    out_channels: int = 0
    kernel: int = 0
    padding: int = 0
    stride: int = 1
    out_features: int = 0
    size: int = 0
    drop_remainder: bool = False
    rate: float = 0.0


@dataclass(frozen=True)
class NumericSpec:
    """Datapath numerics training must obey: WAGE bit widths, accumulator, rounding, random bits."""

    k_w: int = 2
    k_a: int = 8
    k_g: int = 8
    k_e: int = 8
    accumulator_bits: int = 32
    overflow: str = "wrap"
    rounding: str = "half_even"
    random_bits: int = 16

    def label(self) -> str:
        """Short name such as ``2-8-8-8``."""
        return f"{self.k_w}-{self.k_a}-{self.k_g}-{self.k_e}"

    def describe(self, algorithm: str) -> str:
        """One line for progress output."""
        if algorithm == "wage":
            return f"WAGE {self.label()}, {self.accumulator_bits}-bit {self.overflow} accumulators"
        return (f"int{self.k_a} activations, int{self.k_w} weights, int{self.k_e} head errors, "
                f"{self.accumulator_bits}-bit {self.overflow} accumulators, {self.rounding} division")


NITRO_NUMERICS = NumericSpec(k_w=16, k_a=8, k_g=32, k_e=8, accumulator_bits=32, overflow="wrap",
                             rounding="toward_zero", random_bits=16)
"""NITRO-D's datapath: int8 activations, int16 weight storage, int32 accumulators, truncating division."""


@dataclass(frozen=True)
class EtaPhase:
    """From ``at_fraction`` of the training's steps on, WAGE's learning rate is η = 2^eta_log2."""

    at_fraction: float
    eta_log2: int


@dataclass(frozen=True)
class WageSpec:
    """WAGE hyper-parameters (paper and code defaults)."""

    beta: float = 1.5
    eta_schedule: tuple[EtaPhase, ...] = (EtaPhase(0.0, 3), EtaPhase(2 / 3, 0), EtaPhase(5 / 6, -3))
    fp32_lr: float = 1.0
    fp32_momentum: float = 0.0
    fp32_clip: bool = True


@dataclass(frozen=True)
class NitroSpec:
    """NITRO-D hyper-parameters (defaults from the authors' code and paper runs)."""

    lr_inv: int = 512
    eta_inv_forward: int = 10000
    eta_inv_learning: int = 8000
    amplification: int = 640
    conv_amplification: str = "reference"
    """``reference``: conv blocks use AF = amplification, what the authors' code effectively does
    (its optimizer caches the factor before the per-block adjustment is applied);
    ``adjusted``: AF = amplification·⌊H·W / head-pool area⌋, the adjustment as written."""
    onehot_value: int = 32
    head_max_features: int = 4096
    relu_slope_inv: int = 4
    augmentation: bool = False
    plateau_factor: int = 3
    plateau_patience: int = 15
    plateau_start_epoch: int = 10
    early_stop_patience: int = 35
    early_stop_start_epoch: int = 30
    min_delta: float = 0.01
    stats_images: int = 25000

    @property
    def relu_mean(self) -> int:
        """NITRO-ReLU's mean correction for this slope."""
        return NITRO_RELU_MEAN[self.relu_slope_inv]


@dataclass(frozen=True)
class TrainingSpec:
    """Epochs, batch size, seed."""

    epochs: int = 10
    batch_size: int = 128
    seed: int = 1
    eval_batch_size: int = 500


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything needed to train one network."""

    name: str
    algorithm: str
    dataset: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]
    numerics: NumericSpec
    training: TrainingSpec
    wage: WageSpec = field(default_factory=WageSpec)
    nitro: NitroSpec = field(default_factory=NitroSpec)
    num_classes: int = 10
    source_file: str = ""

    def with_overrides(self, **training: int) -> "WorkloadSpec":
        """A copy with some TrainingSpec fields replaced (None values are ignored)."""
        values = {k: v for k, v in training.items() if v is not None}
        return replace(self, training=replace(self.training, **values)) if values else self


def _read_layer(sec: Section, index: int, algorithm: str) -> LayerSpec:
    kind = sec.string("type", choices=LAYER_KINDS[algorithm])
    name = sec.string("name", f"{kind}{index}")
    if kind == "conv":
        kernel = (sec.integer("kernel", 3, lo=1, hi=15) if algorithm == "nitro_d"  # NITRO-D's convs are 3x3
                  else sec.integer("kernel", lo=1, hi=15))
        pad_raw = sec.raw("padding", "same")
        if pad_raw == "same":
            if kernel % 2 == 0:
                raise sec.error("padding", "'same' padding needs an odd kernel")
            padding = kernel // 2
        else:
            padding = sec.integer("padding", lo=0, hi=kernel)
        spec = LayerSpec(kind, name, out_channels=sec.integer("out_channels", lo=1, hi=1 << 16),
                         kernel=kernel, padding=padding, stride=sec.integer("stride", 1, lo=1, hi=8))
    elif kind == "fc":
        spec = LayerSpec(kind, name, out_features=sec.integer("out_features", lo=1, hi=1 << 20))
    elif kind == "maxpool":
        drop = sec.boolean("drop_remainder", False)
        spec = LayerSpec(kind, name, size=sec.integer("size", 2, lo=2, hi=8), drop_remainder=drop)
    elif kind == "dropout":
        rate = sec.number("rate")
        if not 0 <= rate < 1:
            raise sec.error("rate", f"expected a dropout rate in [0, 1), got {rate}")
        spec = LayerSpec(kind, name, rate=rate)
    else:
        spec = LayerSpec(kind, name)
    sec.done()
    return spec


def layer_output_shapes(spec_layers: tuple[LayerSpec, ...], input_shape: tuple[int, int, int],
                        file: str = "", num_classes: int = 10) -> list[tuple[int, ...]]:
    """Output shape of every layer ((H,W,C) or (features,)); raises ConfigError if shapes do not chain."""
    shape: tuple[int, ...] = tuple(input_shape)
    shapes = []
    for i, layer in enumerate(spec_layers):
        where = f"network.layers[{i}]"
        if layer.kind == "conv":
            if len(shape) != 3:
                raise ConfigError(file, where, f"a conv layer needs an image input (H,W,C), but the previous layer gives {shape}")
            h, w, _ = shape
            ho = (h + 2 * layer.padding - layer.kernel) // layer.stride + 1
            wo = (w + 2 * layer.padding - layer.kernel) // layer.stride + 1
            if ho < 1 or wo < 1:
                raise ConfigError(file, where + ".kernel", f"kernel {layer.kernel} does not fit an input of {h}x{w}")
            shape = (ho, wo, layer.out_channels)
        elif layer.kind == "maxpool":
            if len(shape) != 3 or shape[0] < layer.size or shape[1] < layer.size:
                raise ConfigError(file, where + ".size", f"a {layer.size}x{layer.size} max-pool does not fit input {shape}")
            if (shape[0] % layer.size or shape[1] % layer.size) and not layer.drop_remainder:
                raise ConfigError(file, where + ".size",
                                  f"a {layer.size}x{layer.size} max-pool does not divide its {shape[0]}x{shape[1]} "
                                  "input; set drop_remainder: true to drop the last rows/columns (floor mode)")
            shape = (shape[0] // layer.size, shape[1] // layer.size, shape[2])
        elif layer.kind == "fc":
            shape = (layer.out_features,)
        shapes.append(shape)
    if not spec_layers or spec_layers[-1].kind != "fc":
        raise ConfigError(file, "network.layers", "the last layer must be an fc layer (the classifier)")
    if shape != (num_classes,):
        raise ConfigError(file, f"network.layers[{len(spec_layers) - 1}].out_features",
                          f"the classifier must have {num_classes} outputs (one per class), got {shape[0]}")
    return shapes


def read_numerics(sec: Section, algorithm: str) -> NumericSpec:
    """The numeric datapath of a workload or hardware section, with the algorithm's defaults."""
    d = NITRO_NUMERICS if algorithm == "nitro_d" else NumericSpec()
    spec = NumericSpec(
        k_w=sec.integer("k_w", d.k_w, lo=2, hi=16), k_a=sec.integer("k_a", d.k_a, lo=2, hi=16),
        k_g=sec.integer("k_g", d.k_g, lo=2, hi=32), k_e=sec.integer("k_e", d.k_e, lo=2, hi=16),
        accumulator_bits=sec.integer("accumulator_bits", d.accumulator_bits, lo=8, hi=32),
        overflow=sec.string("overflow", d.overflow, OVERFLOW),
        rounding=sec.string("rounding", d.rounding, ROUNDING),
        random_bits=sec.integer("random_bits", d.random_bits, lo=1, hi=32))
    if algorithm == "wage" and spec.k_g < spec.k_w:
        raise sec.error("k_g", f"k_g must be >= k_w ({spec.k_w}): weights are stored on the k_g grid")
    if algorithm == "nitro_d":
        if spec.k_a != 8:
            raise sec.error("k_a", f"NITRO-D's scaling and ReLU are defined on int8 activations: k_a must be 8, got {spec.k_a}")
        if spec.k_w < 8:
            raise sec.error("k_w", f"NITRO-D weights need at least 8 bits (initial bound 64), got {spec.k_w}")
    sec.done()
    return spec


def _read_wage(sec: Section) -> WageSpec:
    d = WageSpec()
    beta = sec.number("beta", d.beta, positive=True, hi=1024)
    fp32_lr = sec.number("fp32_lr", d.fp32_lr, positive=True, hi=1e6)
    fp32_momentum = sec.number("fp32_momentum", d.fp32_momentum, lo=0)
    fp32_clip = sec.boolean("fp32_clip", d.fp32_clip)
    if not 0 <= fp32_momentum < 1:
        raise sec.error("fp32_momentum", f"expected a momentum in [0, 1), got {fp32_momentum}")
    phases = []
    for phase in sec.sections("eta_schedule", [{"at_fraction": p.at_fraction, "eta": 2.0 ** p.eta_log2}
                                               for p in d.eta_schedule]):
        at = phase.number("at_fraction")
        if not 0 <= at < 1:
            raise phase.error("at_fraction", f"expected a fraction of the training (its steps) in [0, 1), got {at}")
        eta = phase.number("eta", positive=True, lo=2.0 ** -30, hi=2.0 ** 30)
        log2 = round(math.log2(eta))
        if 2.0 ** log2 != eta:
            raise phase.error("eta", f"WAGE's eta must be a power of two (it is a shift), got {eta}")
        phase.done()
        phases.append(EtaPhase(at, log2))
    if not phases or phases[0].at_fraction != 0 or any(b.at_fraction <= a.at_fraction for a, b in zip(phases, phases[1:])):
        raise sec.error("eta_schedule", "expected phases with increasing at_fraction, the first at 0")
    sec.done()
    return WageSpec(beta=beta, eta_schedule=tuple(phases), fp32_lr=fp32_lr, fp32_momentum=fp32_momentum,
                    fp32_clip=fp32_clip)


def _read_nitro(sec: Section) -> NitroSpec:
    d = NitroSpec()
    slope = sec.integer("relu_slope_inv", d.relu_slope_inv, lo=1, hi=1 << 16)
    if slope not in NITRO_RELU_MEAN:
        raise sec.error("relu_slope_inv", f"expected one of {sorted(NITRO_RELU_MEAN)} (slopes with a known mean "
                                          f"correction), got {slope}")
    aug = sec.boolean("augmentation", d.augmentation)
    plateau = sec.section("plateau", {})
    stop = sec.section("early_stopping", {})
    spec = NitroSpec(
        lr_inv=sec.integer("lr_inv", d.lr_inv, lo=1, hi=MAX_DIVISOR),
        eta_inv_forward=sec.integer("eta_inv_forward", d.eta_inv_forward, lo=1, hi=MAX_DIVISOR),
        eta_inv_learning=sec.integer("eta_inv_learning", d.eta_inv_learning, lo=1, hi=MAX_DIVISOR),
        amplification=sec.integer("amplification", d.amplification, lo=1, hi=1 << 20),
        conv_amplification=sec.string("conv_amplification", d.conv_amplification, ("reference", "adjusted")),
        onehot_value=sec.integer("onehot_value", d.onehot_value, lo=1, hi=127),
        head_max_features=sec.integer("head_max_features", d.head_max_features, lo=1, hi=1 << 20),
        relu_slope_inv=slope, augmentation=aug,
        plateau_factor=plateau.integer("factor", d.plateau_factor, lo=1, hi=1024),
        plateau_patience=plateau.integer("patience", d.plateau_patience, lo=1, hi=10000),
        plateau_start_epoch=plateau.integer("start_epoch", d.plateau_start_epoch, lo=0, hi=10000),
        early_stop_patience=stop.integer("patience", d.early_stop_patience, lo=1, hi=10000),
        early_stop_start_epoch=stop.integer("start_epoch", d.early_stop_start_epoch, lo=0, hi=10000),
        min_delta=sec.number("min_delta", d.min_delta, lo=0, hi=1),
        stats_images=sec.integer("stats_images", d.stats_images, lo=1, hi=10_000_000))
    plateau.done()
    stop.done()
    return spec


def _check_nitro_network(layers: tuple[LayerSpec, ...], file: str) -> None:
    """NITRO-D: weight layers are local-loss blocks except the last fc (the output layer); at least one block."""
    if sum(layer.kind in ("conv", "fc") for layer in layers) < 2:
        raise ConfigError(file, "network.layers", "NITRO-D needs at least one local-loss block (conv or fc) "
                                                  "before the output fc layer")
    seen_fc = False
    for i, layer in enumerate(layers):
        if layer.kind == "conv" and seen_fc:
            raise ConfigError(file, f"network.layers[{i}]", "a conv block cannot follow an fc block")
        seen_fc = seen_fc or layer.kind == "fc"


def _check_wage_quantised_inputs(layers: tuple[LayerSpec, ...], file: str) -> None:
    """In WAGE every weight layer after the first reads k_A-bit activations: a qrelu must come before it."""
    seen_weight, quantised = False, True
    for i, layer in enumerate(layers):
        if layer.kind in ("conv", "fc"):
            if seen_weight and not quantised:
                raise ConfigError(file, f"network.layers[{i}]",
                                  f"a {layer.kind} layer in WAGE reads quantised activations: put a qrelu "
                                  "between it and the previous conv/fc layer")
            seen_weight, quantised = True, False
        elif layer.kind == "qrelu":
            quantised = True


def load_workload(path: str | Path) -> WorkloadSpec:
    """Read and validate a workload YAML file."""
    file = str(path)
    top = Section(file, "", load_yaml(path))
    name = top.string("name", Path(path).stem)
    alg = top.section("algorithm")
    algorithm = alg.string("name", choices=ALGORITHMS)
    wage, nitro = (_read_wage(alg), NitroSpec()) if algorithm == "wage" else (WageSpec(), _read_nitro(alg))
    alg.done()
    dataset = top.string("dataset", "fashion_mnist", DATASETS)
    net = top.section("network")
    input_shape = net.int_list("input", 3, [28, 28, 1], hi=MAX_INPUT_SIDE)
    layers = tuple(_read_layer(s, i, algorithm) for i, s in enumerate(net.sections("layers")))
    net.done()
    layer_output_shapes(layers, input_shape, file)
    if algorithm == "wage":
        _check_wage_quantised_inputs(layers, file)
    else:
        _check_nitro_network(layers, file)
    names = [layer.name for layer in layers]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ConfigError(file, f"network.layers[{i}].name", f"layer names must be unique; {show(n)} repeats")
    numerics = read_numerics(top.section("numerics", {}), algorithm)
    tr = top.section("training", {})
    d = TrainingSpec()
    training = TrainingSpec(epochs=tr.integer("epochs", d.epochs, lo=1, hi=10000),
                            batch_size=tr.integer("batch_size", d.batch_size, lo=1, hi=65536),
                            seed=tr.integer("seed", d.seed, lo=0, hi=2**63 - 1),
                            eval_batch_size=tr.integer("eval_batch_size", d.eval_batch_size, lo=1, hi=65536))
    tr.done()
    top.done()
    return WorkloadSpec(name=name, algorithm=algorithm, dataset=dataset, input_shape=input_shape,
                        layers=layers, numerics=numerics, training=training, wage=wage, nitro=nitro,
                        source_file=file)
