"""Per-epoch training checkpoints: written atomically, resumed only by the run that wrote them."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

CHECKPOINT_NAME = "checkpoint.npz"


class CheckpointError(ValueError):
    """A checkpoint cannot be used to resume this run (message is user-facing)."""


def save_checkpoint(out_dir: str | Path, run_key: dict, epochs_done: int, records: list[dict],
                    train_seconds: float, state: dict) -> Path:
    """Write model state plus progress; the file is replaced atomically so a crash never leaves half a file.

    ``state`` holds arrays in "weights" (and optionally "velocity") and everything else,
    JSON-serialisable, in "json".
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for group in ("weights", "velocity"):
        for name, value in state.get(group, {}).items():
            arrays[f"{group}/{name}"] = value
    meta = {"run_key": run_key, "epochs_done": epochs_done, "records": records, "train_seconds": train_seconds,
            "model": state.get("json", {})}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = out / CHECKPOINT_NAME
    tmp = out / (CHECKPOINT_NAME + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def _read(path: Path) -> tuple[dict, dict]:
    """(meta, arrays grouped as {"weights": {...}, "velocity": {...}}) of a checkpoint file."""
    with np.load(path) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        state: dict = {"weights": {}, "velocity": {}}
        for key in data.files:
            if "/" in key:
                group, name = key.split("/", 1)
                state[group][name] = data[key]
    return meta, state


def load_checkpoint(out_dir: str | Path, run_key: dict) -> tuple[int, list[dict], float, dict] | None:
    """(epochs done, epoch records, train seconds, model state) or None when there is no checkpoint."""
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        meta, state = _read(path)
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc}); delete it to start over") from None
    if meta["run_key"] != run_key:
        changed = sorted(k for k in set(meta["run_key"]) | set(run_key) if meta["run_key"].get(k) != run_key.get(k))
        raise CheckpointError(f"{path}: checkpoint belongs to a different run (differs in: {', '.join(changed)}); "
                              "use another --out or delete it")
    state["json"] = meta["model"]
    return meta["epochs_done"], meta["records"], meta["train_seconds"], state


def unfinished_checkpoint(out_dir: str | Path) -> int | None:
    """Epochs done by an interrupted run whose checkpoint sits in ``out_dir`` (None if none or finished)."""
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        meta, _ = _read(path)
        total = meta["run_key"]["workload"]["training"]["epochs"]
        stopped = bool(meta["records"]) and meta["records"][-1].get("stopped_early", False)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None if stopped or meta["epochs_done"] >= total else int(meta["epochs_done"])
