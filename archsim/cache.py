"""Where archsim keeps what it can recompute: ``$ARCHSIM_CACHE``, else ``$XDG_CACHE_HOME/archsim``
(absolute paths only, per the XDG rules), else ``~/.cache/archsim``."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ARCHSIM_CACHE"


def cache_root() -> Path:
    """The root folder of archsim's caches (created by whoever writes into it)."""
    explicit = os.environ.get(CACHE_ENV, "")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "archsim"
