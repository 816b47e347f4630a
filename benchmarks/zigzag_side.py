"""Run ZigZag 3.9.1 (PyPI ``zigzag-dse``) on layers described in archsim's terms; print JSON.

This file runs in a separate venv that has ZigZag installed; it never imports archsim.
``benchmarks/compare_zigzag.py`` (archsim's venv) builds the problem and calls it:

    python3.11 -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install zigzag-dse==3.9.1 six
    /tmp/zzvenv/bin/python benchmarks/zigzag_side.py problem.json     # or the JSON on stdin

Input (JSON)::

    {"hardware": {"rows": R, "cols": C, "dataflow": "os" | "ws" | "is",
                  "banks": {"input":  {"bytes": .., "word_bits": .., "read_pj": .., "write_pj": ..,
                                       "ports": 1, "name": "ifmap"},
                            "weight": {...}, "output": {...}},
                  "dram": {"bytes_per_cycle": .., "pj_per_bit": ..},
                  "mac_pj": .., "operand_bits": {"input": 8, "weight": 8, "output": 32},
                  "register_pj_per_bit": 0.0,        # optional, PE registers (default 0)
                  "systolic": true},                 # optional, default true
     "layers": [{"name": .., "kind": "gemm", "m": .., "n": .., "k": ..},
                {"name": .., "kind": "conv2d", "batch": .., "in_c": .., "out_c": .., "in_h": .., "in_w": ..,
                 "out_h": .., "out_w": .., "kernel": .., "stride": .., "padding": ..}],
     "objective": "energy",                          # or "latency", "EDP"
     "loma": {"lpf_limit": 6, "nb_spatial_mappings": 3, "mixed_spatial": true,
              "temporal_mapping_type": "uneven"}}    # optional, these are the defaults

A layer may override ``operand_bits`` and ``mac_pj`` (a 8x2 conv next to 8x8 GEMMs). Output
(stdout, JSON): ``{"zigzag_version", "settings", "layers": [...]}``; each layer has ``ok`` and
either ``error`` or the DRAM traffic (``dram.read_bytes``/``write_bytes``, also per operand, in
ZigZag's word accesses x port width and as exact element bytes), ``energy_pj`` (total, mac,
register, sram, dram), ``latency_cycles`` (ZigZag's ``latency_total2``, with its parts under
``latency``), the mappings ZigZag chose, and ``wall_s``/``cpu_s`` of ZigZag's search for that
layer (``time.perf_counter`` / ``time.process_time``; the ZigZag import is excluded). A layer
that fails is reported and the next one runs.

How archsim's concepts map onto ZigZag's
----------------------------------------
* Operands: archsim ``input`` (GEMM A, m x k; a conv's activations) = ZigZag layer operand
  ``I`` = memory operand ``I1``; ``weight`` (B, k x n) = ``W`` = ``I2``; ``output`` (the m x n
  result, 32-bit partial sums and final results) = ``O`` = ``O``. ``operand_precision`` is
  I/W from ``operand_bits``, ``O`` = ``O_final`` = ``operand_bits.output``.
* Dims: a GEMM (m, n, k) is ``O[b][k] += I[b][c] * W[c][k]`` with ZigZag ``B`` = m, ``K`` = n,
  ``C`` = k. A conv is native (not im2col): ``O[b][k][oy][ox] += W[k][c][fy][fx] * I[b][c][iy][ix]``
  with ``ix = stride*ox + fx``, ``B`` = batch, ``K`` = out_c, ``C`` = in_c, ``OY/OX`` = out_h/out_w,
  ``FY = FX`` = kernel, and the padding given to ZigZag (``pr_loop_sizes`` = in_w, in_h) so the
  input tensor is the un-padded one archsim moves. archsim's im2col (m = batch*out_h*out_w,
  k = kernel^2*in_c) is thus B*OY*OX and C*FY*FX here.
* Array: D1 = the R rows, D2 = the C columns (``systolic_dimensions: [D1, D2]`` unless
  ``systolic`` is false, which adds ZigZag's drain cycles). Spatial mapping by dataflow, as
  ``spatial_mapping_hint`` (ZigZag's SpatialMappingGeneratorStage picks the unroll factors,
  mixing several dims on one array axis when ``mixed_spatial``; keeps ``nb_spatial_mappings``
  candidates, runs LOMA on each and keeps the best by the objective):
  os (rows = m, cols = n, k in time): D1 <- {B, OX, OY}, D2 <- {K};
  ws (rows = k, cols = n, m in time): D1 <- {C, FX, FY}, D2 <- {K};
  is (rows = k, cols = m, n in time): D1 <- {C, FX, FY}, D2 <- {B, OX, OY}.
  ZigZag unrolls whole divisors (products of divisors when mixed) of each dim; archsim
  flattens the im2col matrix, so e.g. m = 8*28*28 fills all 16 rows in both, but a dim like
  28 alone would use 14 rows in ZigZag.
* Memories, lowest first: one register per PE per operand (``served_dimensions: []``), as small
  as ZigZag allows: one element (I, W: their bits; O: the 32-bit accumulator), energy
  ``register_pj_per_bit`` x width per access; one SRAM per archsim bank with exactly its
  capacity (bits), ``r_cost``/``w_cost`` = read_pj/write_pj per ``word_bits`` word, serving the
  whole array (D1, D2); a bank that holds several operands (same ``name``) is one shared
  ZigZag memory; one port per archsim port (1 port: read_write; 2 ports: one read, one write),
  ``bandwidth_max`` = word_bits and ``bandwidth_min`` = the narrowest operand it holds, so a
  partial word costs its fraction of a word as in archsim. DRAM: holds I1, I2 and O, one
  read_write port of ``bandwidth_max`` = 8 x bytes_per_cycle bits, ``bandwidth_min`` = 8 bits,
  ``r_cost = w_cost`` = pj_per_bit x the port width. Areas are 0, ``latency`` 1, no CACTI.
* Search: the ``get_hardware_performance_zigzag`` pipeline without its save/visualisation
  stages: WorkloadParser, AcceleratorParser, WorkloadStage, Minimal<objective>Stage,
  SpatialMappingGeneratorStage, Minimal<objective>Stage, LOMA (TemporalMappingGeneratorStage)
  with ``loma_lpf_limit`` = ``lpf_limit`` (ZigZag's default 6; it raises it to the number of
  temporal dims if that is larger), ``temporal_mapping_type`` uneven, and
  ``access_same_data_considered_as_no_access=True`` (ZigZag's default). Each layer is its own
  one-layer workload: nothing stays on chip between layers (``exploit_data_locality`` off),
  every layer starts and ends in DRAM, as archsim's per-op runs do.
* Results: DRAM bytes are ZigZag's DRAM word accesses (rd to low = read, wr in by low =
  write) x the port's ``bandwidth_max``/8, per operand; ``element_bytes`` are the same
  transfers counted element by element (amount x precision x periods x unit count / 8),
  without ZigZag's per-period rounding to ``bandwidth_min``. Energy: ``mac`` = ZigZag's
  ``mac_energy``; ``register``/``sram``/``dram`` = its ``mem_energy_breakdown`` summed by memory
  kind. Latency: ``latency_total2`` (computation + stalls + on-/off-loading + systolic drain).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # one thread: the machine is shared

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

OPERAND_TO_MEM = {"input": "I1", "weight": "I2", "output": "O"}
OPERAND_TO_LAYER = {"input": "I", "weight": "W", "output": "O"}
HINTS = {"os": {"D1": ["B", "OX", "OY"], "D2": ["K"]},
         "ws": {"D1": ["C", "FX", "FY"], "D2": ["K"]},
         "is": {"D1": ["C", "FX", "FY"], "D2": ["B", "OX", "OY"]}}
LOMA_DEFAULTS = {"lpf_limit": 6, "nb_spatial_mappings": 3, "mixed_spatial": True, "temporal_mapping_type": "uneven"}


def _yaml_dump(data, path: Path) -> None:
    import yaml  # ZigZag depends on PyYAML
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _ports(mem_ops: list[str], n_ports: int, bw_min: int, bw_max: int) -> list[dict]:
    """ZigZag port list: 1 port = read_write for every direction; >= 2 = one read, one write
    port (ZigZag's allocation has one port per direction and operand)."""
    reads, writes = [], []
    for op in mem_ops:
        if op == "O":
            reads += ["O, tl", "O, th"]
            writes += ["O, fh", "O, fl"]
        else:
            reads.append(f"{op}, tl")
            writes.append(f"{op}, fh")
    if n_ports <= 1:
        return [{"name": "rw_port_1", "type": "read_write", "bandwidth_min": bw_min, "bandwidth_max": bw_max,
                 "allocation": reads + writes}]
    return [{"name": "r_port_1", "type": "read", "bandwidth_min": bw_min, "bandwidth_max": bw_max,
             "allocation": reads},
            {"name": "w_port_1", "type": "write", "bandwidth_min": bw_min, "bandwidth_max": bw_max,
             "allocation": writes}]


def accelerator_yaml(hw: dict, bits: dict, mac_pj: float) -> dict:
    """The ZigZag accelerator description of ``hw`` for operands of ``bits``."""
    reg_pj = float(hw.get("register_pj_per_bit", 0.0))
    memories: dict[str, dict] = {}
    # PE registers, one element each
    for operand in ("input", "weight", "output"):
        mop, b = OPERAND_TO_MEM[operand], int(bits[operand])
        # the accumulator: a read and a write port each way (to the MAC, to/from the SRAM)
        directions = ([("r_port_1", "read", "O, tl"), ("r_port_2", "read", "O, th"),
                       ("w_port_1", "write", "O, fh"), ("w_port_2", "write", "O, fl")] if mop == "O" else
                      [("r_port_1", "read", f"{mop}, tl"), ("w_port_1", "write", f"{mop}, fh")])
        ports = [{"name": name, "type": kind, "bandwidth_min": b, "bandwidth_max": b, "allocation": [alloc]}
                 for name, kind, alloc in directions]
        memories[f"reg_{operand}"] = {"size": b, "r_cost": reg_pj * b, "w_cost": reg_pj * b, "area": 0.0,
                                      "latency": 1, "operands": [mop], "ports": ports, "served_dimensions": []}
    # SRAM banks (operands sharing a bank name share one ZigZag memory)
    groups: dict[str, list[str]] = {}
    for operand in ("input", "weight", "output"):
        groups.setdefault(hw["banks"][operand].get("name", operand), []).append(operand)
    for name, operands in groups.items():
        bank = hw["banks"][operands[0]]
        mem_ops = [OPERAND_TO_MEM[o] for o in operands]
        word = int(bank["word_bits"])
        narrowest = min(int(bits[o]) for o in operands)
        memories[f"sram_{name}"] = {
            "size": int(bank["bytes"]) * 8, "r_cost": float(bank["read_pj"]), "w_cost": float(bank["write_pj"]),
            "area": 0.0, "latency": 1, "operands": mem_ops,
            "ports": _ports(mem_ops, int(bank.get("ports", 1)), min(narrowest, word), word),
            "served_dimensions": ["D1", "D2"]}
    d = hw["dram"]
    dram_bw = int(d["bytes_per_cycle"]) * 8
    access_pj = float(d["pj_per_bit"]) * dram_bw
    memories["dram"] = {"size": 1 << 50, "r_cost": access_pj, "w_cost": access_pj, "area": 0.0, "latency": 1,
                        "operands": ["I1", "I2", "O"], "ports": _ports(["I1", "I2", "O"], 1, 8, dram_bw),
                        "served_dimensions": ["D1", "D2"]}
    array = {"unit_energy": float(mac_pj), "unit_area": 1.0, "dimensions": ["D1", "D2"],
             "sizes": [int(hw["rows"]), int(hw["cols"])]}
    if hw.get("systolic", True):
        array["systolic_dimensions"] = ["D1", "D2"]
    return {"name": "archsim_mirror", "memories": memories, "operational_array": array}


def workload_yaml(layer: dict, bits: dict) -> list[dict]:
    """One ZigZag layer (id 0; both inputs are constant operands, i.e. start in DRAM)."""
    prec = {"I": int(bits["input"]), "W": int(bits["weight"]), "O": int(bits["output"]),
            "O_final": int(bits["output"])}
    common = {"id": 0, "name": "layer", "operand_precision": prec, "operand_source": {"I": 0, "W": 0}}
    if layer["kind"] == "gemm":
        return [{**common, "operator_type": "Gemm", "equation": "O[b][k]+=I[b][c]*W[c][k]",
                 "dimension_relations": [], "loop_dims": ["B", "K", "C"],
                 "loop_sizes": [int(layer["m"]), int(layer["n"]), int(layer["k"])]}]
    if layer["kind"] == "conv2d":
        s, p, f = int(layer["stride"]), int(layer["padding"]), int(layer["kernel"])
        return [{**common, "operator_type": "Conv", "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                 "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
                 "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                 "loop_sizes": [int(layer["batch"]), int(layer["out_c"]), int(layer["in_c"]), int(layer["out_h"]),
                                int(layer["out_w"]), f, f],
                 "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [int(layer["in_w"]), int(layer["in_h"])],
                 "padding": [[p, p], [p, p]]}]
    raise ValueError(f"layer kind {layer['kind']!r}: expected gemm or conv2d")


def mapping_yaml(dataflow: str) -> list[dict]:
    links = {"O": "O", "W": "I2", "I": "I1"}
    hint = HINTS[dataflow]
    return [{"name": name, "spatial_mapping_hint": hint, "memory_operand_links": links}
            for name in ("default", "Gemm", "Conv")]


def _stages(objective: str):
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, MinimalEnergyStage, MinimalLatencyStage
    from zigzag.stages.workload_iterator import WorkloadStage

    reduce = {"energy": MinimalEnergyStage, "latency": MinimalLatencyStage, "EDP": MinimalEDPStage}[objective]
    return [WorkloadParserStage, AcceleratorParserStage, WorkloadStage, reduce, SpatialMappingGeneratorStage,
            reduce, TemporalMappingGeneratorStage, CostModelStage]


def _memory_kind(name: str) -> str:
    return "register" if name.startswith("reg_") else "sram" if name.startswith("sram_") else "dram"


def extract(cme) -> dict:
    """DRAM traffic, energy split and latency of one CostModelEvaluation."""
    from zigzag.mapping.data_movement import DataMoveAttr
    from zigzag.hardware.architecture.memory_port import DataDirection

    links = cme.layer.memory_operand_links
    hierarchy = cme.accelerator.memory_hierarchy
    energy = {"mac": float(cme.mac_energy), "register": 0.0, "sram": 0.0, "dram": 0.0}
    by_operand: dict[str, dict] = {}
    for operand, lop_name in OPERAND_TO_LAYER.items():
        layer_op = next(op for op in cme.layer.layer_operands if str(op) == lop_name)
        mem_op = links.layer_to_mem_op(layer_op)
        levels = hierarchy.get_memory_levels(mem_op=mem_op)
        for lvl, (level, pj) in enumerate(zip(levels, cme.mem_energy_breakdown[layer_op])):
            energy[_memory_kind(level.name)] += float(pj)
        dram_lvl = next(i for i, lv in enumerate(levels) if _memory_kind(lv.name) == "dram")
        if dram_lvl >= len(cme.memory_word_access[layer_op]):
            by_operand[operand] = {"read_bytes": 0.0, "write_bytes": 0.0, "read_element_bytes": 0.0,
                                   "write_element_bytes": 0.0, "note": "DRAM level not active"}
            continue
        level = levels[dram_lvl]
        acc = cme.memory_word_access[layer_op][dram_lvl]
        bw_r = level.get_max_bandwidth(mem_op, DataDirection.RD_OUT_TO_LOW) or 0
        bw_w = level.get_max_bandwidth(mem_op, DataDirection.WR_IN_BY_LOW) or 0
        reads = acc.get(DataDirection.RD_OUT_TO_LOW) + acc.get(DataDirection.RD_OUT_TO_HIGH)
        writes = acc.get(DataDirection.WR_IN_BY_LOW) + acc.get(DataDirection.WR_IN_BY_HIGH)
        # the same transfers element by element
        move = cme.mapping.unit_mem_data_movement[layer_op][dram_lvl]
        amount = move.get_attribute(DataMoveAttr.DATA_TRANS_AMOUNT_PER_PERIOD)
        precision = move.get_attribute(DataMoveAttr.DATA_PRECISION)
        periods = move.get_attribute(DataMoveAttr.DATA_TRANS_PERIOD_COUNT)
        units = cme.mapping.spatial_mapping.unit_count[layer_op][dram_lvl + 1]

        def elem_bytes(direction) -> float:
            return float(amount.get(direction) * precision.get(direction) * periods.get(direction) * units) / 8

        by_operand[operand] = {
            "read_words": reads, "write_words": writes, "word_bits": bw_r,
            "read_bytes": reads * bw_r / 8, "write_bytes": writes * bw_w / 8,
            "read_element_bytes": elem_bytes(DataDirection.RD_OUT_TO_LOW),
            "write_element_bytes": elem_bytes(DataDirection.WR_IN_BY_LOW)}
    energy["total"] = float(cme.energy_total)
    latency = {"total2": float(cme.latency_total2), "computation_with_stalls": float(cme.latency_total0),
               "onloading": float(cme.latency_total1 - cme.latency_total0),
               "offloading": float(cme.latency_total2 - cme.latency_total1 - cme.systolic_drain_cycle),
               "systolic_drain": float(cme.systolic_drain_cycle), "ideal": float(cme.ideal_cycle),
               "ideal_temporal": float(cme.ideal_temporal_cycle)}
    return {"dram": {"read_bytes": sum(v["read_bytes"] for v in by_operand.values()),
                     "write_bytes": sum(v["write_bytes"] for v in by_operand.values()),
                     "read_element_bytes": sum(v["read_element_bytes"] for v in by_operand.values()),
                     "write_element_bytes": sum(v["write_element_bytes"] for v in by_operand.values()),
                     "by_operand": by_operand},
            "energy_pj": energy, "latency_cycles": float(cme.latency_total2), "latency": latency,
            "macs": int(cme.layer.total_mac_count),
            "spatial_mapping": str(cme.layer.spatial_mapping),
            "temporal_mapping": str(cme.temporal_mapping)}


def run_layer(layer: dict, hw: dict, objective: str, loma: dict, workdir: Path) -> dict:
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.main import MainStage

    bits = {**hw["operand_bits"], **layer.get("operand_bits", {})}
    mac_pj = layer.get("mac_pj", hw["mac_pj"])
    acc_path, map_path = workdir / "accelerator.yaml", workdir / "mapping.yaml"
    _yaml_dump(accelerator_yaml(hw, bits, mac_pj), acc_path)
    _yaml_dump(mapping_yaml(hw["dataflow"]), map_path)
    main = MainStage(
        _stages(objective),
        accelerator=str(acc_path), workload=workload_yaml(layer, bits), mapping=str(map_path),
        loma_lpf_limit=int(loma["lpf_limit"]), loma_show_progress_bar=False,
        nb_mappings_generated=int(loma["nb_spatial_mappings"]),
        enable_mix_spatial_mapping_generation=bool(loma["mixed_spatial"]),
        access_same_data_considered_as_no_access=True,
        temporal_mapping_type=TemporalMappingType(loma["temporal_mapping_type"]),
        dump_folder=str(workdir), pickle_filename=str(workdir / "cmes.pickle"))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(sys.stderr):   # keep stdout for our JSON
        answers = main.run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    cme = answers[0][0]
    return {"name": layer["name"], "ok": True, **extract(cme), "wall_s": wall, "cpu_s": cpu}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        text = Path(argv[0]).read_text() if argv and argv[0] != "-" else sys.stdin.read()
        problem = json.loads(text)
        hw, layers = problem["hardware"], problem["layers"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(json.dumps({"error": f"cannot read the problem JSON: {exc}"}))
        return 2
    objective = problem.get("objective", "energy")
    loma = {**LOMA_DEFAULTS, **problem.get("loma", {})}
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    logging.getLogger("zigzag").setLevel(logging.ERROR)
    try:
        from importlib.metadata import version
        zz_version = version("zigzag-dse")
        import zigzag  # noqa: F401
    except Exception as exc:  # ZigZag missing or broken in this interpreter
        print(json.dumps({"error": f"ZigZag is not importable in {sys.executable}: {exc}"}))
        return 3
    results = []
    for layer in layers:
        with tempfile.TemporaryDirectory(prefix="zigzag_side_") as tmp:
            try:
                results.append(run_layer(layer, hw, objective, loma, Path(tmp)))
            except Exception as exc:  # report and go on with the next layer
                results.append({"name": layer.get("name", "?"), "ok": False,
                                "error": f"{type(exc).__name__}: {exc}",
                                "traceback": traceback.format_exc(limit=6)})
    print(json.dumps({"zigzag_version": zz_version, "python": sys.version.split()[0], "objective": objective,
                      "settings": loma, "layers": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
