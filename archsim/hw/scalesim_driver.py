"""Drives the real SCALE-Sim 3.0 (PyPI ``scalesim``, optional) for comparisons with
archsim's ``scalesim`` counting mode: writes its config and topology, runs it without
traces and returns its COMPUTE_REPORT rows. Used by an optional test and a benchmark.
"""
from __future__ import annotations

import csv
import gc
import warnings
from pathlib import Path

RUN_NAME = "archsim_check"
GEMM_HEADER = "Layer Name, M, N, K,"
CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"


def config_text(dataflow: str, rows: int, cols: int, sram_kb: int = 64, bandwidth: int = 64) -> str:
    """A SCALE-Sim 3.0 config. Every key is read without fallback, so all are written; in USER
    mode the ifmap/filter DRAM bandwidths are the [layout] bank bandwidths and ``Bandwidth``
    is the ofmap drain."""
    return f"""[general]
run_name = {RUN_NAME}

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {sram_kb}
FilterSramSzkB = {sram_kb}
OfmapSramSzkB = {sram_kb}
IfmapOffset = 0
FilterOffset = 100000000
OfmapOffset = 200000000
Bandwidth = {bandwidth}
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = {bandwidth}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = {bandwidth}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 4
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = USER
UseRamulatorTrace = False
"""


def run_scalesim(workdir: Path, dataflow: str, rows: int, cols: int, topology_rows: list[str], gemm: bool,
                 sram_kb: int = 64, bandwidth: int = 64) -> list[dict[str, str]]:
    """Run SCALE-Sim on one topology (layers as comma-separated rows); its report rows as dicts."""
    from scalesim.scale_sim import scalesim

    workdir.mkdir(parents=True)
    config, topology, layout = workdir / "arch.cfg", workdir / "topology.csv", workdir / "layout.csv"
    config.write_text(config_text(dataflow, rows, cols, sram_kb, bandwidth))
    # the parser drops the last comma-separated field, hence the trailing commas
    topology.write_text((GEMM_HEADER if gemm else CONV_HEADER) + "\n" + "".join(r + ",\n" for r in topology_rows))
    layout.write_text("Layer name,\n")  # must exist; unused without custom layouts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # int() of 1-element arrays in 3.0.0
        sim = scalesim(save_disk_space=True, verbose=False, config=str(config), topology=str(topology),
                       layout=str(layout), input_type_gemm=gemm)
        sim.run_scale(top_path=str(workdir / "out"))
    del sim
    gc.collect()
    with open(workdir / "out" / RUN_NAME / "COMPUTE_REPORT.csv", newline="") as f:
        table = [[cell.strip() for cell in row] for row in csv.reader(f)]
    return [dict(zip(table[0], row)) for row in table[1:] if any(row)]
