"""archsim's simulated DRAM traffic, energy and cycles against ZigZag 3.9.1's analytical search, layer by layer.

The problem set: the forward conv/GEMM ops of a workload as ``archsim trace`` records them
(default LeNet-5 WAGE, ``--batch`` 8) plus a few plain GEMMs (``--gemms``, MxNxK). Each op
runs alone on the hardware (default ``hwconfigs/array_16x16.yaml``): on the archsim side as a
one-op :class:`archsim.trace.Trace` through ``simulate`` and ``CostModel.price``; on the ZigZag
side through ``benchmarks/zigzag_side.py``, in ZigZag's own venv, with a memory hierarchy
built from the same spec and the same per-action energies (SRAM pJ per word and DRAM pJ per
bit from archsim's CostModel, MAC pJ at the op's operand widths, PE register pJ per bit).
ZigZag's LOMA search minimises energy (``--objective``); its docstring says how every
archsim concept is mapped.

Per layer it prints DRAM bytes (archsim, ZigZag, ratio, and the compulsory bytes: each
operand once, the result once), dynamic energy (archsim without leakage, ZigZag has none),
cycles, archsim's mapping+simulation ms and ZigZag's wall/CPU seconds, then the energy split
and ZigZag's DRAM bytes per operand and spatial mapping, and the totals.

ZigZag is not an archsim dependency. Install it in its own venv:
    python3.11 -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install zigzag-dse==3.9.1 six
Run: PYTHONPATH=. python benchmarks/compare_zigzag.py --zigzag-python /tmp/zzvenv/bin/python
     [--mapping fixed] [--hw FILE] [--workload FILE] [--batch 8] [--gemms 128x512x3136,...]
     [--lpf-limit 6] [--spatial-mappings 3] [--timeout 300] [--json OUT]
``--mapping VALUE`` (default ``energy``) sets the hardware's ``mapping`` key on the archsim side
(``fixed``: the baseline mapper without a search).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from archsim.config import ConfigError, load_workload
from archsim.config.hardware import HardwareSpec, hardware_from_mapping, load_hardware
from archsim.cost.model import CostModel, CostReport
from archsim.data import load_dataset
from archsim.hw.sim import simulate
from archsim.trace import Op, TensorAccess, Trace
from archsim.train import record_trace

HERE = Path(__file__).resolve().parent
ZIGZAG_SIDE = HERE / "zigzag_side.py"
DEFAULT_GEMMS = "128x512x3136,256x256x256,64x1024x128"
SINGLE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                  "NUMEXPR_NUM_THREADS")}
INSTALL = """ZigZag's python {py!r} {why}.
ZigZag 3.9.1 is not an archsim dependency; give it its own venv and pass its interpreter:
    python3.11 -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install zigzag-dse==3.9.1 six
    PYTHONPATH=. python benchmarks/compare_zigzag.py --zigzag-python /tmp/zzvenv/bin/python"""


# --- the problem set -------------------------------------------------------------------------

def forward_ops(workload: str, batch: int) -> Trace:
    """The trace ``archsim trace --workload FILE --batch N`` records (embedded mini data set)."""
    spec = load_workload(workload)
    return record_trace(spec, load_dataset(spec.dataset, "mini"), batch_size=batch)


def gemm_op(label: str, m: int, n: int, k: int, a_bits: int, b_bits: int, acc_bits: int = 32) -> Op:
    """A plain forward GEMM (m x k times k x n), no zeros measured."""
    return Op("gemm", f"{label}/forward/gemm", label, "forward",
              (TensorAccess(f"{label}.x", m * k, a_bits, 0.0), TensorAccess(f"{label}.w", k * n, b_bits, 0.0)),
              (TensorAccess(f"{label}.z", m * n, acc_bits, 0.0),),
              {"m": m, "n": n, "k": k, "acc_bits": acc_bits, "product": "forward"})


def _shape(text: str) -> tuple[int, int, int]:
    m, n, k = (int(x) for x in text.lower().split("x"))
    return m, n, k


def zigzag_layer(op: Op) -> dict:
    """The op in zigzag_side.py's terms (geometry and operand widths)."""
    p = op.params
    bits = {"input": op.reads[0].bits, "weight": op.reads[1].bits, "output": p["acc_bits"]}
    if op.kind == "conv2d":
        geo = {g: p[g] for g in ("batch", "in_c", "out_c", "in_h", "in_w", "out_h", "out_w", "kernel", "stride",
                                 "padding")}
        return {"name": op.layer, "kind": "conv2d", **geo, "operand_bits": bits}
    return {"name": op.layer, "kind": "gemm", "m": p["m"], "n": p["n"], "k": p["k"], "operand_bits": bits}


def mac_key(op: Op, hw: HardwareSpec) -> str:
    return "fp32" if hw.array.datatype == "fp32" else f"{op.reads[0].bits}x{op.reads[1].bits}"


def zigzag_hardware(hw: HardwareSpec, cm: CostModel, register_pj_per_bit: float) -> dict:
    """The hardware block of zigzag_side.py's input: the same banks, DRAM and energies."""
    banks = {}
    for operand in ("input", "weight", "output"):
        b = hw.bank_for(operand)
        s = cm.sram[b.name]
        banks[operand] = {"name": b.name, "bytes": b.capacity_bytes, "word_bits": b.word_bits, "ports": b.ports,
                          "read_pj": s.read_pj_per_access, "write_pj": s.write_pj_per_access}
    return {"rows": hw.array.rows, "cols": hw.array.cols, "dataflow": hw.array.dataflow, "banks": banks,
            "dram": {"bytes_per_cycle": hw.dram.bytes_per_cycle, "pj_per_bit": cm.dram_pj_per_bit},
            "mac_pj": cm.mac_pj(f"{hw.array.operand_bits}x{hw.array.operand_bits}"),
            "operand_bits": {"input": hw.array.operand_bits, "weight": hw.array.operand_bits,
                             "output": hw.array.accumulator_bits},
            "register_pj_per_bit": register_pj_per_bit, "systolic": True}


# --- archsim side ----------------------------------------------------------------------------

def archsim_hardware(path: str, mapping: str) -> HardwareSpec:
    """The hardware with its ``mapping`` key set to ``mapping`` (validated like a file)."""
    hw = load_hardware(path)
    return hardware_from_mapping({**hw.to_dict(), "mapping": mapping}, f"{path} (with mapping: {mapping})",
                                 hw.name)


def energy_split(report: CostReport) -> dict[str, float]:
    """Dynamic energy by kind (pJ) and the leakage over the op's runtime."""
    out = {"mac": 0.0, "register": 0.0, "sram": 0.0, "dram": 0.0, "other": 0.0, "leakage": 0.0}
    for name, comp in report.components.items():
        out["leakage"] += comp.leakage_pj(report.runtime_s)
        for a in comp.actions:
            if name == "pe_array":
                out["register" if a.action == "register bit" else "mac"] += a.pj
            elif name.startswith("sram:"):
                out["sram"] += a.pj
            elif name == "dram":
                out["dram"] += a.pj
            else:
                out["other"] += a.pj
    out["dynamic"] = sum(out[k] for k in ("mac", "register", "sram", "dram", "other"))
    return out


def run_archsim(base: Trace, op: Op, hw: HardwareSpec, cm: CostModel, repeats: int) -> dict:
    trace = Trace(base.workload, base.algorithm, base.batch, base.numerics, [op])
    best_wall = best_cpu = float("inf")
    from archsim.hw import mapping as mapping_search
    for _ in range(max(1, repeats)):
        mapping_search.choose.cache_clear()          # every repeat maps from scratch and simulates
        mapping_search._candidates_memo.cache_clear()
        w0, c0 = time.perf_counter(), time.process_time()
        timing, actions = simulate(trace, hw, max_tiles=None, memo=False)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    report = cm.price(timing, actions)
    t = timing.ops[0]
    reg = next((a.pj_each for a in report.components["pe_array"].actions if a.action == "register bit"), 0.0)
    return {"dram_read_bytes": t.dram_read_bytes, "dram_write_bytes": t.dram_write_bytes,
            "dram_bytes": t.dram_read_bytes + t.dram_write_bytes, "compulsory_dram_bytes": t.compulsory_dram_bytes,
            "cycles": t.cycles, "tiles": t.tiles, "bound": t.bound, "energy_pj": energy_split(report),
            "register_pj_per_bit": reg, "wall_ms": 1e3 * best_wall, "cpu_ms": 1e3 * best_cpu, "macs": op.macs}


# --- ZigZag side -----------------------------------------------------------------------------

def check_zigzag(python: str) -> str | None:
    """ZigZag's version in that interpreter, or None after printing why it cannot be used."""
    if not Path(python).exists():
        print(INSTALL.format(py=python, why="does not exist"))
        return None
    try:
        out = subprocess.run([python, "-c", "import importlib.metadata as m, zigzag; print(m.version('zigzag-dse'))"],
                             capture_output=True, text=True, timeout=120, env={**os.environ, **SINGLE_THREAD})
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(INSTALL.format(py=python, why=f"cannot be run ({exc})"))
        return None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        print(INSTALL.format(py=python, why=f"cannot import zigzag ({last})"))
        return None
    return out.stdout.strip()


def run_zigzag(python: str, problem: dict, timeout: float) -> dict:
    """One layer through zigzag_side.py; a failure is returned as ``{"ok": False, "error": ...}``."""
    name = problem["layers"][0]["name"]
    env = {**os.environ, **SINGLE_THREAD}
    env.pop("PYTHONPATH", None)   # the ZigZag venv must not see archsim
    try:
        out = subprocess.run([python, str(ZIGZAG_SIDE)], input=json.dumps(problem), capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"name": name, "ok": False, "error": f"ZigZag took more than --timeout {timeout:.0f} s"}
    except OSError as exc:
        return {"name": name, "ok": False, "error": f"cannot run {python}: {exc}"}
    try:
        result = json.loads(out.stdout)
    except json.JSONDecodeError:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"name": name, "ok": False, "error": f"zigzag_side.py exited {out.returncode}: {tail}"}
    if "error" in result:
        return {"name": name, "ok": False, "error": result["error"]}
    return {**result["layers"][0], "zigzag_version": result.get("zigzag_version")}


# --- report ----------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def _n(x: float) -> str:
    return f"{x:,.0f}"


def print_tables(rows: list[dict]) -> None:
    head = (f"{'layer':<14} {'MACs':>12} {'arch DRAM B':>12} {'ZZ DRAM B':>12} {'a/z':>6} {'compuls. B':>11} "
            f"{'arch nJ':>9} {'ZZ nJ':>9} {'a/z':>6} {'arch cyc':>9} {'ZZ cyc':>9} {'a/z':>6} "
            f"{'arch ms':>8} {'ZZ s':>7} {'ZZ cpu s':>8}")
    print(head)
    print("-" * len(head))
    tot = dict.fromkeys(("macs", "ad", "zd", "cd", "ae", "ze", "ac", "zc", "ams", "zs", "zcpu"), 0.0)
    ok_rows = 0
    for r in rows:
        a, z = r["archsim"], r["zigzag"]
        arch_cols = (f"{r['name']:<14} {_n(a['macs']):>12} {_n(a['dram_bytes']):>12}")
        if not z.get("ok"):
            print(f"{arch_cols} {'ZigZag failed: ' + z.get('error', '?')}")
            continue
        ok_rows += 1
        zd = z["dram"]["read_bytes"] + z["dram"]["write_bytes"]
        ae, ze = a["energy_pj"]["dynamic"], z["energy_pj"]["total"]
        vals = dict(macs=a["macs"], ad=a["dram_bytes"], zd=zd, cd=a["compulsory_dram_bytes"], ae=ae, ze=ze,
                    ac=a["cycles"], zc=z["latency_cycles"], ams=a["wall_ms"], zs=z["wall_s"], zcpu=z["cpu_s"])
        for k, v in vals.items():
            tot[k] += v
        print(f"{arch_cols} {_n(zd):>12} {_ratio(a['dram_bytes'], zd):>6} {_n(a['compulsory_dram_bytes']):>11} "
              f"{ae / 1e3:>9,.1f} {ze / 1e3:>9,.1f} {_ratio(ae, ze):>6} {_n(a['cycles']):>9} "
              f"{_n(z['latency_cycles']):>9} {_ratio(a['cycles'], z['latency_cycles']):>6} "
              f"{a['wall_ms']:>8.1f} {z['wall_s']:>7.1f} {z['cpu_s']:>8.1f}")
    print("-" * len(head))
    print(f"{'total (' + str(ok_rows) + ' ok)':<14} {_n(tot['macs']):>12} {_n(tot['ad']):>12} {_n(tot['zd']):>12} "
          f"{_ratio(tot['ad'], tot['zd']):>6} {_n(tot['cd']):>11} {tot['ae'] / 1e3:>9,.1f} {tot['ze'] / 1e3:>9,.1f} "
          f"{_ratio(tot['ae'], tot['ze']):>6} {_n(tot['ac']):>9} {_n(tot['zc']):>9} {_ratio(tot['ac'], tot['zc']):>6} "
          f"{tot['ams']:>8.1f} {tot['zs']:>7.1f} {tot['zcpu']:>8.1f}")

    print("\n# energy split, nJ (archsim dynamic | ZigZag) and leakage archsim adds; ZigZag DRAM bytes per operand")
    head2 = (f"{'layer':<14} {'a mac':>8} {'a reg':>8} {'a sram':>8} {'a dram':>8} {'a leak':>7} | "
             f"{'z mac':>8} {'z reg':>8} {'z sram':>8} {'z dram':>8} | {'z I rd':>9} {'z W rd':>9} "
             f"{'z O rd':>9} {'z O wr':>9}  ZigZag spatial mapping")
    print(head2)
    print("-" * len(head2))
    for r in rows:
        a, z = r["archsim"]["energy_pj"], r["zigzag"]
        left = (f"{r['name']:<14} {a['mac'] / 1e3:>8,.1f} {a['register'] / 1e3:>8,.1f} {a['sram'] / 1e3:>8,.1f} "
                f"{a['dram'] / 1e3:>8,.1f} {a['leakage'] / 1e3:>7,.1f}")
        if not z.get("ok"):
            print(f"{left} | ZigZag failed")
            continue
        e, d = z["energy_pj"], z["dram"]["by_operand"]
        print(f"{left} | {e['mac'] / 1e3:>8,.1f} {e['register'] / 1e3:>8,.1f} {e['sram'] / 1e3:>8,.1f} "
              f"{e['dram'] / 1e3:>8,.1f} | {_n(d['input']['read_bytes']):>9} {_n(d['weight']['read_bytes']):>9} "
              f"{_n(d['output']['read_bytes']):>9} {_n(d['output']['write_bytes']):>9}  {z['spatial_mapping']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zigzag-python", default="/tmp/zzvenv/bin/python", help="the interpreter with zigzag-dse")
    ap.add_argument("--hw", default="hwconfigs/array_16x16.yaml")
    ap.add_argument("--workload", default="workloads/lenet5_wage.yaml")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--gemms", default=DEFAULT_GEMMS, help="comma-separated MxNxK ('' for none)")
    ap.add_argument("--gemm-bits", default="8x8", help="input x weight bits of the --gemms")
    ap.add_argument("--mapping", default="energy",
                    help="archsim hardware 'mapping' key: energy, latency, edp or fixed")
    ap.add_argument("--objective", default="energy", choices=("energy", "latency", "EDP"), help="ZigZag's")
    ap.add_argument("--lpf-limit", type=int, default=6, help="LOMA loop-prime-factor limit")
    ap.add_argument("--spatial-mappings", type=int, default=3, help="spatial mappings ZigZag evaluates per layer")
    ap.add_argument("--no-mixed-spatial", action="store_true", help="one layer dim per array axis in ZigZag")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per ZigZag layer")
    ap.add_argument("--repeats", type=int, default=3, help="archsim runs per layer (best time kept)")
    ap.add_argument("--layers", help="comma-separated layer names to keep (default all)")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    args = ap.parse_args(argv)

    try:
        hw = archsim_hardware(args.hw, args.mapping)
        trace = forward_ops(args.workload, args.batch)
        a_bits, b_bits = (int(x) for x in args.gemm_bits.lower().split("x"))
        gemms = [_shape(g) for g in args.gemms.split(",") if g.strip()]
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    zz_version = check_zigzag(args.zigzag_python)
    if zz_version is None:
        return 2

    ops = [op for op in trace.ops if op.phase == "forward" and op.kind in ("gemm", "conv2d")]
    ops += [gemm_op(f"gemm{m}x{n}x{k}", m, n, k, a_bits, b_bits) for m, n, k in gemms]
    if args.layers:
        keep = set(args.layers.split(","))
        ops = [op for op in ops if op.layer in keep]
    if hw.array.datatype == "fp32":
        print("note: a float32 datapath; both sides use 32-bit operands")
    cm = CostModel(hw)
    for w in cm.warnings:
        print(f"warning: {w}")
    print(f"# {trace.workload} forward conv/gemm ops (batch {args.batch}) + {len(gemms)} GEMMs on {hw.name} "
          f"({hw.array.rows}x{hw.array.cols} {hw.array.dataflow}, "
          f"{', '.join(f'{b.name} {b.kbytes} KiB/{b.word_bits}b' for b in hw.banks)}, "
          f"DRAM {hw.dram.bytes_per_cycle} B/cycle {cm.dram_pj_per_bit} pJ/bit), archsim mapping: "
          f"{getattr(hw, 'mapping', 'fixed (no mapping key in this archsim)')}")
    print(f"# ZigZag {zig_version_line(zz_version, args)}; python {sys.version.split()[0]}")

    rows = []
    for op in ops:
        if hw.array.datatype == "fp32":
            op = Trace(trace.workload, trace.algorithm, trace.batch, trace.numerics, [op]).at_width(32).ops[0]
        arch = run_archsim(trace, op, hw, cm, args.repeats)
        layer = {**zigzag_layer(op), "mac_pj": cm.mac_pj(mac_key(op, hw))}
        problem = {"hardware": zigzag_hardware(hw, cm, arch["register_pj_per_bit"]), "layers": [layer],
                   "objective": args.objective,
                   "loma": {"lpf_limit": args.lpf_limit, "nb_spatial_mappings": args.spatial_mappings,
                            "mixed_spatial": not args.no_mixed_spatial, "temporal_mapping_type": "uneven"}}
        print(f"  {op.layer}: archsim {arch['wall_ms']:.1f} ms; ZigZag ...", end="", flush=True, file=sys.stderr)
        zz = run_zigzag(args.zigzag_python, problem, args.timeout)
        print(f" {zz['wall_s']:.1f} s" if zz.get("ok") else f" failed: {zz.get('error')}", file=sys.stderr)
        rows.append({"name": op.layer, "kind": op.kind, "params": op.params, "mac_key": mac_key(op, hw),
                     "archsim": arch, "zigzag": zz, "zigzag_input": problem})
    print()
    print_tables(rows)
    step = whole_step_comparison(args, hw, cm, rows)
    if args.json:
        args.json.write_text(json.dumps({"zigzag_version": zz_version, "hardware": args.hw,
                                         "mapping": getattr(hw, "mapping", "fixed"), "batch": args.batch,
                                         "rows": rows, "whole_step": step}, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return 0 if all(r["zigzag"].get("ok") for r in rows) else 1


def whole_step_comparison(args: argparse.Namespace, hw: HardwareSpec, cm: CostModel, rows: list[dict]) -> dict:
    """Per hardware configuration: ZigZag's CPU seconds for the workload's forward layers against
    archsim's for its whole training step (every op: forward, gradients, update; mapping search with
    empty memos, simulation and pricing) at the same batch on the same hardware."""
    from archsim.hw import mapping as mapping_search
    full = record_trace(load_workload(args.workload), load_dataset(load_workload(args.workload).dataset, "mini"),
                        hw.numerics_for(load_workload(args.workload).algorithm), args.batch)
    forward = {op.layer for op in full.ops if op.phase == "forward" and op.kind in ("gemm", "conv2d")}
    zz = [r["zigzag"] for r in rows if r["name"] in forward]
    if not zz or not all(z.get("ok") for z in zz):
        print("\n(whole-step comparison skipped: ZigZag did not map every forward layer)")
        return {}
    zz_cpu = sum(z["cpu_s"] for z in zz)
    mapping_search.choose.cache_clear()
    mapping_search._candidates_memo.cache_clear()
    start = time.process_time()
    timing, actions = simulate(full, hw, memo=False)
    cm.price(timing, actions)
    ours = time.process_time() - start
    gemms = sum(1 for op in full.ops if op.kind in ("gemm", "conv2d"))
    print(f"\nper hardware config: ZigZag maps the {len(zz)} forward layers of {full.workload} (batch {args.batch}) "
          f"in {zz_cpu:.1f} CPU s; archsim maps, simulates and prices its whole training step ({len(full.ops)} ops, "
          f"{gemms} of them GEMM/conv, forward, gradients and update) in {ours:.3f} CPU s: {zz_cpu / ours:,.0f}x")
    return {"zigzag_forward_cpu_s": zz_cpu, "archsim_step_cpu_s": ours, "ops": len(full.ops), "gemm_ops": gemms}


def zig_version_line(version: str, args: argparse.Namespace) -> str:
    return (f"{version}, LOMA lpf_limit {args.lpf_limit}, {args.spatial_mappings} spatial mapping(s) per layer"
            f"{'' if args.no_mixed_spatial else ' (mixed allowed)'}, objective {args.objective}, 1 thread, "
            f"one layer per process")


if __name__ == "__main__":
    sys.exit(main())
