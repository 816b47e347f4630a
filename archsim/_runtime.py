"""Process-level tuning applied once at start-up (command line and tests)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_DONE = False


def tune_malloc() -> None:
    """Keep large numpy temporaries on the heap instead of fresh mmaps.

    With glibc's defaults every multi-MB temporary is a new mmap whose page faults make
    some element-wise expressions ~20x slower on the target machines; raising the mmap
    and trim thresholds to 1 GiB removes that. A no-op off glibc.
    """
    global _DONE
    if _DONE:
        return
    _DONE = True
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------
# BLAS / OpenMP threads
# ---------------------------------------------------------------------------------------

BLAS_THREADS_ENV = "ARCHSIM_BLAS_THREADS"
DEFAULT_BLAS_THREADS = 1
"""Measured with benchmarks/bench_threads.py on a 2-core machine: a second OpenBLAS thread makes
single GEMMs 1.3-2x faster but training only 0-7% faster when the machine is idle, and training
1.7-2.3x slower with one competing busy process (5-9x under other jobs' load). OpenBLAS's idle
worker keeps spinning after each call, taking the core the main thread needs for its
element-wise work. One thread never collapses."""

_LIMITER = None  # the live threadpoolctl limiter: kept for the rest of the run, never exited


def _threads_from_env() -> int:
    raw = os.environ.get(BLAS_THREADS_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_BLAS_THREADS
    try:
        n = int(raw.strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{BLAS_THREADS_ENV} must be a positive integer (BLAS threads), got {raw!r}")
    return n


def set_blas_threads(n: int | None = None) -> int:
    """Limit the BLAS and OpenMP thread pools of this process to ``n`` threads; returns the count applied.

    ``None`` means the default: ``$ARCHSIM_BLAS_THREADS`` if set (a positive integer,
    else ValueError), otherwise 1. The limit stays in force for the rest of the run (a
    later call replaces it). It applies to the libraries loaded at the time of the call;
    numpy (and with it OpenBLAS) is imported first, so numpy's BLAS is always covered.
    """
    global _LIMITER
    if n is None:
        n = _threads_from_env()
    elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"BLAS threads must be a positive integer, got {n!r}")
    import numpy  # noqa: F401  (loads OpenBLAS so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    if _LIMITER is not None:
        _LIMITER.restore_original_limits()
    _LIMITER = threadpool_limits(limits=n)
    return n


def blas_threads() -> int:
    """The thread count of the loaded BLAS library (the largest if several); 0 if none is loaded.

    numpy is imported first, so its OpenBLAS is always among the libraries reported.
    """
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    counts = [int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts, default=0)
