"""Durable file output: every file archsim writes goes through here.

A file is written to a uniquely named temporary file in its own folder, flushed and
fsync'ed, then renamed over the target (and the folder fsync'ed), so a kill at any
moment leaves the old complete file or the new complete file, never a partial one.
OS problems (read-only folder, a file in the way, full disk) become one
:class:`OutputError` line naming the path. :func:`locked` serialises processes that
share a folder (the training cache) with an advisory ``flock``.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import glob
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 3600.0
"""A temporary file this old was left by a killed writer (a write takes seconds): removed."""


class OutputError(OSError):
    """A file or folder archsim must write cannot be written (message is user-facing)."""


def describe_os_error(exc: OSError) -> str:
    """The reason of an OS error in words (``No space left on device``)."""
    return exc.strerror or (errno.errorcode.get(exc.errno, "") if exc.errno else "") or str(exc)


def make_dirs(folder: str | Path) -> Path:
    """Create ``folder`` and its parents; an OS error becomes an :class:`OutputError` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder}: cannot create the folder: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({describe_os_error(exc)})") from None
    if not folder.is_dir():
        raise OutputError(f"{folder}: cannot create the folder: a file of that name is in the way")
    return folder


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete temporary files of ``name`` that killed writers left behind (older than an hour)."""
    now = time.time()
    for tmp in folder.glob(f".{glob.escape(name)}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > STALE_TEMP_S:
                tmp.unlink()


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> Path:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary file that then replaces ``path``."""
    path = Path(path)
    folder = make_dirs(path.parent)
    _remove_stale_temps(folder, path.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({describe_os_error(exc)})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600; results and caches stay readable
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{path}: cannot write ({describe_os_error(exc)})") from None
        raise
    _fsync_dir(folder)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write bytes."""
    return atomic_write(path, lambda fh: fh.write(data))


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """Atomically write ``data`` as JSON (one trailing newline)."""
    return write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Atomically write dict rows as CSV with the first row's keys as header."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buf.getvalue())


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> Path:
    """Atomically write a numpy ``.npz`` archive."""
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda fh: save(fh, **arrays))


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be created in it, before any long work."""
    folder = make_dirs(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".archsim-write-check.", suffix=TEMP_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write into the folder ({describe_os_error(exc)})") from None
    return folder


class LockBusy(OSError):
    """Another process holds the lock (raised by ``locked(..., wait=False)``)."""


@contextlib.contextmanager
def locked(folder: str | Path, name: str = ".lock", wait: bool = True) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder/name``: block until other holders let go, or
    with ``wait=False`` raise :class:`LockBusy` at once."""
    folder = make_dirs(folder)
    path = folder / name
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the lock file ({describe_os_error(exc)})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(f"{path}: held by another process") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


__all__ = ["LockBusy", "OutputError", "atomic_write", "check_writable", "describe_os_error", "locked", "make_dirs",
           "write_bytes", "write_csv", "write_json", "write_npz", "write_text"]
