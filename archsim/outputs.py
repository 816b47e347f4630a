"""Output folders: names unique per configuration, and finished results that are never replaced silently.

Every command's result file (``train.json``, ``result.json``, ``simulate.json``) records the
*identity* of the configuration that produced it: a JSON mapping of everything that
determines the numbers. Before any work a command *claims* its output: a folder holding the
same configuration's finished result is reported as done (the numbers would be identical),
one holding another configuration's result is refused, and ``--force`` replaces either.
Default folder names end in a digest of the identity, so two hardware points that share a
``name:`` never share a folder.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any

from .checkpoint import diff_paths

DIGEST_CHARS = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class OutputExists(Exception):
    """The output already holds a finished result (message is user-facing)."""

    def __init__(self, message: str, same_config: bool) -> None:
        super().__init__(message)
        self.same_config = same_config


def plain(obj: Any) -> Any:
    """A JSON-ready copy of a dataclass tree (tuples as lists, source files dropped)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "source_file"):
            obj = replace(obj, source_file="")
        obj = asdict(obj)
    return json.loads(json.dumps(obj, default=str))  # paths as strings


def digest(identity: Any, chars: int = DIGEST_CHARS) -> str:
    """A short stable hash of a JSON-like value: canonical JSON (sorted keys, integral floats as
    integers), so neither dict order nor how a number was written changes it."""
    text = json.dumps(_canonical(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:chars]


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def safe_name(name: str) -> str:
    """``name`` as one harmless path component (no separators, no leading dot, bounded length)."""
    cleaned = _UNSAFE.sub("_", str(name)).lstrip(".")[:80]
    return cleaned or "unnamed"


def default_folder(*parts: str, identity: Any) -> Path:
    """``runs/<part>-<part>-...-<digest>``: readable, and unique per configuration."""
    return Path("runs") / "-".join([*(safe_name(p) for p in parts), digest(identity)])


def claim(result_file: Path, identity: Any, force: bool) -> None:
    """Allow writing ``result_file`` or raise :class:`OutputExists` (done already, or another
    configuration's result); with ``force`` anything may be replaced."""
    if force or not result_file.exists():
        return
    try:
        stored = json.loads(result_file.read_text()).get("identity")
    except (OSError, ValueError, AttributeError):
        stored = None
    if stored == plain(identity):
        raise OutputExists(f"{result_file}: already holds this configuration's finished result "
                           "(pass --force to compute it again)", same_config=True)
    if stored is None:
        why = "a finished result whose configuration is not recorded"
    else:
        changed = diff_paths(stored, plain(identity))
        why = (f"the finished result of another configuration (differs in: {', '.join(changed[:5])}"
               f"{' and more' if len(changed) > 5 else ''})")
    raise OutputExists(f"{result_file}: holds {why}; pass --force to replace it, or choose another --out",
                       same_config=False)


__all__ = ["OutputExists", "claim", "default_folder", "digest", "plain", "safe_name"]
