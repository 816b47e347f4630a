"""Optional SRAM cost backend: CACTI, queried through the Accelergy project's ``hwcomponents``.

Why optional: hwcomponents needs Python >= 3.12, its CACTI binary has to be compiled on the
machine (the published wheel's binary needs glibc 2.38), and CACTI's licence forbids passing it
on for compensation. archsim's own table stays the default; this backend is for cross-checks and
for generating SRAM numbers offline. Install it with ``make hwc`` or :data:`PIP_INSTALL`.

Why a cache of our own: one CACTI run takes 0.2 to 10 s. hwcomponents keeps its own cache inside
site-packages, capped at 200 files, so a design-space sweep keeps recomputing. Results are
memoised in a JSON file (see :func:`cache_path`), keyed by the hwcomponents-cacti version, and
CACTI's scratch files go to a temporary folder instead of site-packages.

Numbers are for ONE bank (``n_banks=1``, one read/write port) and the default hwcomponents CACTI
set-up: itrs-lstp cells and periphery, leakage-weighted optimisation objective, 300 K.
"""
from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from ..cache import CACHE_ENV, cache_root  # noqa: F401  (CACHE_ENV: re-exported for callers)
from ..fileio import locked, write_json
from .sram_cost import SramCost

CACHE_FILE_NAME = "hwcomponents-sram.json"
CACHE_FORMAT = 1

# CACTI has technology data for these nodes; hwcomponents interpolates linearly between them.
CACTI_NATIVE_NODES_NM = (22, 32, 45, 65, 90)
# Below 22 nm hwcomponents scales the 22 nm result (energy ~ sqrt(node), area ~ node, leakage
# ~ 0.79 sqrt(node)): a projection, not CACTI. Above 90 nm its code takes the same 22 nm branch
# and returns numbers below the 45 nm ones, so those nodes are refused.
MIN_NODE_NM = 7
MAX_NODE_NM = max(CACTI_NATIVE_NODES_NM)

PIP_INSTALL = ("pip install --no-binary hwcomponents-cacti "
               "hwcomponents==1.0.114 hwcomponents-cacti==1.0.40")
INSTALL_HINT = (f"it is an optional backend that needs Python >= 3.12: run `make hwc` in the archsim checkout, "
                f"then run archsim from that environment, `.venv-hwc/bin/archsim ... --sram-backend hwcomponents` "
                f"(or `{PIP_INSTALL}` into a Python >= 3.12 environment)")


def _import_cacti() -> ModuleType:
    """Import ``hwcomponents_cacti`` lazily, so this module itself imports on Python 3.11."""
    try:
        import hwcomponents  # noqa: F401  (hwcomponents_cacti needs it; a clearer error here)
        import hwcomponents_cacti
    except (ImportError, SyntaxError) as exc:  # SyntaxError: hwcomponents on Python < 3.12
        raise RuntimeError(
            f"hwcomponents / CACTI is not importable ({exc}); {INSTALL_HINT}") from exc
    return hwcomponents_cacti


def _cacti_version() -> str:
    """Installed hwcomponents-cacti version: part of the cache key."""
    try:
        return metadata.version("hwcomponents-cacti")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def _cacti_binary_problem(cacti_dir: str) -> str | None:
    """None when the CACTI binary in ``cacti_dir`` runs on this machine, else the reason.

    A working binary asked for a missing input file prints "... is missing!" and exits 255;
    one built for a newer glibc exits 1 with "version `GLIBC_2.38' not found (required by ...)".
    """
    try:
        proc = subprocess.run(["./cacti", "-infile", "/nonexistent/archsim-probe.cfg"],
                              cwd=cacti_dir, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {cacti_dir}/cacti: {exc}"
    output = proc.stdout + proc.stderr
    if proc.returncode in (126, 127) or b"not found (required by" in output:
        return (f"{cacti_dir}/cacti does not run here (exit {proc.returncode}): "
                f"{output.decode(errors='replace').strip()[:300]}")
    return None


def _cacti_dir(module: ModuleType) -> str:
    """Folder holding the CACTI executable shipped in the hwcomponents_cacti package."""
    return str(Path(module.__file__).resolve().parent / "cacti")


def available() -> bool:
    """True when hwcomponents and hwcomponents-cacti import and their CACTI binary runs here."""
    try:
        module = _import_cacti()
    except RuntimeError:
        return False
    return _cacti_binary_problem(_cacti_dir(module)) is None


def cache_path() -> Path:
    """The JSON memo inside archsim's cache folder (:func:`archsim.cache.cache_root`)."""
    return cache_root() / CACHE_FILE_NAME


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Entries of the memo file; an absent, unreadable or foreign-format file counts as empty."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _write_cache_entry(path: Path, key: str, cost: SramCost) -> None:
    """Add one entry under the cache folder's lock, re-reading the file first (another process
    may have added some) and replacing it atomically, so no entry is lost and readers never see
    a half-written file."""
    with locked(path.parent, f".{path.name}.lock"):
        entries = _read_cache(path)
        entries[key] = asdict(cost)
        write_json(path, {"format": CACHE_FORMAT, "entries": entries}, sort_keys=True)


def _check_args(capacity_bytes: int, word_bits: int, node_nm: int) -> None:
    """Raise ValueError for a geometry or node that this backend cannot answer for."""
    for name, value in (("capacity_bytes", capacity_bytes), ("word_bits", word_bits),
                        ("node_nm", node_nm)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if (capacity_bytes * 8) % word_bits:
        raise ValueError(f"capacity_bytes={capacity_bytes} is not a whole number of "
                         f"{word_bits}-bit words")
    if not MIN_NODE_NM <= node_nm <= MAX_NODE_NM:
        raise ValueError(
            f"node_nm={node_nm} is outside the hwcomponents CACTI range "
            f"{MIN_NODE_NM}..{MAX_NODE_NM} nm (CACTI data at "
            f"{', '.join(map(str, CACTI_NATIVE_NODES_NM))} nm, interpolated between; "
            f"below 22 nm scaled from 22 nm; above 90 nm hwcomponents returns wrong numbers)")


def _derivation_note(capacity_bytes: int, word_bits: int, node_nm: int) -> str:
    """How hwcomponents derives the numbers (goes into ``SramCost.source``): which node data,
    and whether CACTI saw this geometry or a bigger one scaled down."""
    if node_nm in CACTI_NATIVE_NODES_NM:
        note = f"{node_nm} nm"
    elif node_nm < CACTI_NATIVE_NODES_NM[0]:
        note = f"{node_nm} nm, scaled from 22 nm by hwcomponents"
    else:
        lo = max(n for n in CACTI_NATIVE_NODES_NM if n < node_nm)
        hi = min(n for n in CACTI_NATIVE_NODES_NM if n > node_nm)
        note = f"{node_nm} nm, interpolated between {lo} and {hi} nm"
    # hwcomponents only asks CACTI for words of >= 32 bits (multiples of 8) and >= 64 rows; other
    # shapes are a bigger CACTI array scaled down with its empirical factors.
    if word_bits < 32 or word_bits % 8 or capacity_bytes * 8 // word_bits < 64:
        note += ", geometry scaled from a larger CACTI array by hwcomponents"
    return note


@contextlib.contextmanager
def _cacti_scratch_dir(module: ModuleType) -> Iterator[None]:
    """Send CACTI's input/output files to a temporary folder instead of site-packages.

    hwcomponents_cacti hard-codes its scratch folder next to its own source (a private helper,
    ``_clean_tmp_dir``); site-packages may be read-only, and we memoise results ourselves.
    If a future version drops the helper, its default folder is used.
    """
    impl = getattr(module, "hwcomponents_cacti", None)
    original = getattr(impl, "_clean_tmp_dir", None)
    if original is None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="archsim-cacti-") as scratch:
        impl._clean_tmp_dir = lambda: scratch
        try:
            yield
        finally:
            impl._clean_tmp_dir = original


def _run_cacti(capacity_bytes: int, word_bits: int, node_nm: int) -> SramCost:
    """Ask hwcomponents' CACTI SRAM model for one single-port bank (no memo)."""
    module = _import_cacti()
    problem = _cacti_binary_problem(_cacti_dir(module))
    if problem:
        raise RuntimeError(f"{problem}; rebuild CACTI from source: `pip install --force-reinstall "
                           f"--no-deps --no-binary hwcomponents-cacti "
                           f"hwcomponents-cacti=={_cacti_version()}`")
    # 45e-9 * 1e9 == 45.0 exactly, but 45 * 1e-9 * 1e9 != 45 (hwcomponents would then run CACTI
    # twice to "interpolate" between 45 and 65 nm): build the float from its decimal literal.
    tech_node_m = float(f"{node_nm}e-9")
    try:
        with _cacti_scratch_dir(module):
            # size is in bits; without size= hwcomponents 1.0.x crashes on width+depth.
            sram = module.SRAM(tech_node=tech_node_m, width=word_bits, size=capacity_bytes * 8,
                               n_rw_ports=1, n_banks=1)
            read_j, write_j = sram.read().energy, sram.write().energy
            area_m2, leak_w = sram.area, sram.leak_power
    except Exception as exc:  # hwcomponents raises bare Exception when CACTI fails
        raise RuntimeError(f"CACTI failed for {capacity_bytes} B x {word_bits}-bit words at "
                           f"{node_nm} nm: {exc}") from exc
    return SramCost(
        read_pj_per_access=read_j * 1e12,
        write_pj_per_access=write_j * 1e12,
        area_mm2=area_m2 * 1e6,
        leakage_mw=leak_w * 1e3,
        source=f"CACTI via hwcomponents-cacti {_cacti_version()} "
               f"(1 bank, 1 RW port, itrs-lstp, {_derivation_note(capacity_bytes, word_bits, node_nm)})",
    )


def sram_cost(capacity_bytes: int, word_bits: int, node_nm: int) -> SramCost:
    """Energy per word access, area and leakage of ONE SRAM bank, from CACTI.

    ``capacity_bytes`` is the bank's capacity and ``word_bits`` its port width (the bits moved by
    one read or write). Results come from the memo file when present, else CACTI runs and the
    memo is updated. Raises RuntimeError if hwcomponents / CACTI is missing or unusable and
    ValueError for a node outside :data:`MIN_NODE_NM`..:data:`MAX_NODE_NM` or a bad geometry.
    """
    _check_args(capacity_bytes, word_bits, node_nm)
    _import_cacti()  # a clear RuntimeError before anything else when hwcomponents is absent
    key = (f"hwcomponents-cacti={_cacti_version()};node_nm={node_nm};"
           f"capacity_bytes={capacity_bytes};word_bits={word_bits};n_banks=1")
    path = cache_path()
    hit = _read_cache(path).get(key)
    if hit is not None:
        with contextlib.suppress(TypeError):
            return SramCost(**hit)
    cost = _run_cacti(capacity_bytes, word_bits, node_nm)
    _write_cache_entry(path, key, cost)
    return cost
