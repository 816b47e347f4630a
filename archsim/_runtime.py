"""Process-level tuning applied once at start-up (command line and tests)."""
from __future__ import annotations

import ctypes
import ctypes.util

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
