"""Per-epoch training checkpoints: written atomically, resumed only by the run that wrote them."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .fileio import write_npz

CHECKPOINT_NAME = "checkpoint.npz"
_DAMAGE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)
"""What reading a truncated, emptied or corrupted ``.npz`` can raise."""


class CheckpointError(ValueError):
    """A checkpoint cannot be used to resume this run (message is user-facing)."""


class DamagedCheckpoint(CheckpointError):
    """The checkpoint file exists but cannot be read; callers name it and start over."""


def save_checkpoint(out_dir: str | Path, run_key: dict, epochs_done: int, records: list[dict],
                    train_seconds: float, state: dict) -> Path:
    """Write model state plus progress; the file is replaced atomically so a crash never leaves half a file.

    ``state`` holds arrays in "weights" (and optionally "velocity") and everything else,
    JSON-serialisable, in "json".
    """
    arrays = {}
    for group in ("weights", "velocity"):
        for name, value in state.get(group, {}).items():
            arrays[f"{group}/{name}"] = value
    meta = {"run_key": run_key, "epochs_done": epochs_done, "records": records, "train_seconds": train_seconds,
            "model": state.get("json", {})}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return write_npz(Path(out_dir) / CHECKPOINT_NAME, arrays)


def _read(path: Path) -> tuple[dict, dict]:
    """(meta, arrays grouped as {"weights": {...}, "velocity": {...}}) of a checkpoint file;
    any damage is a :class:`DamagedCheckpoint` naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            state: dict = {"weights": {}, "velocity": {}}
            for key in data.files:
                if "/" in key:
                    group, name = key.split("/", 1)
                    state[group][name] = data[key]
        if not isinstance(meta, dict) or not isinstance(meta.get("run_key"), dict):
            raise ValueError("no run key")
        int(meta["epochs_done"]), list(meta["records"]), float(meta["train_seconds"]), dict(meta["model"])
    except _DAMAGE as exc:
        raise DamagedCheckpoint(f"{path}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:80]})") from None
    return meta, state


def diff_paths(a: object, b: object, prefix: str = "") -> list[str]:
    """Key paths (``workload.training.seed``) where two JSON-like values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out += [path] if (key in a) != (key in b) else diff_paths(a[key], b[key], path)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in diff_paths(x, y, f"{prefix}[{i}]")]
    return [] if a == b else [prefix or "(whole value)"]


def load_checkpoint(out_dir: str | Path, run_key: dict) -> tuple[int, list[dict], float, dict] | None:
    """(epochs done, epoch records, train seconds, model state) or None when there is no checkpoint.

    A damaged file raises :class:`DamagedCheckpoint`; one of another run a :class:`CheckpointError`.
    """
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    meta, state = _read(path)
    if meta["run_key"] != run_key:
        changed = diff_paths(meta["run_key"], run_key)
        shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
        raise CheckpointError(f"{path}: checkpoint belongs to a different run (differs in: {shown}); "
                              "use another --out or delete it")
    state["json"] = meta["model"]
    return int(meta["epochs_done"]), meta["records"], float(meta["train_seconds"]), state


def unfinished_checkpoint(out_dir: str | Path) -> int | None:
    """Epochs done by an interrupted run whose checkpoint sits in ``out_dir`` (None if none, damaged or finished)."""
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        meta, _ = _read(path)
        total = meta["run_key"]["workload"]["training"]["epochs"]
        stopped = bool(meta["records"]) and meta["records"][-1].get("stopped_early", False)
    except (DamagedCheckpoint, KeyError, TypeError, AttributeError):
        return None
    return None if stopped or meta["epochs_done"] >= total else int(meta["epochs_done"])
