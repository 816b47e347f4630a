"""Reader and writer for IDX files, the array format of (Fashion-)MNIST.

Layout: a 4-byte magic ``00 00 <dtype code> <ndim>``, then ``ndim`` unsigned 32-bit
big-endian dimension sizes, then the elements in C order, big-endian. A file may be
gzip-compressed; compression is detected from the gzip magic bytes ``1f 8b``, not
from the file name.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

#: IDX dtype codes and the big-endian numpy dtype each one stands for.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 255  # the ndim field is a single byte


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the content of ``path``, gunzipped if it starts with the gzip magic."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: broken gzip data ({exc})") from exc


def parse_idx(data: bytes, source: str | os.PathLike[str]) -> np.ndarray:
    """Parse uncompressed IDX bytes; ``source`` names the file in error messages.

    Returns a read-only array in native byte order (a view of ``data`` for 1-byte types).
    """
    where = str(source)
    if len(data) < 4:
        raise DataError(f"{where}: too short for an IDX file ({len(data)} bytes, the magic alone is 4)")
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00":
        raise DataError(f"{where}: not an IDX file: magic starts with {zero.hex()} instead of 0000")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise DataError(f"{where}: unknown IDX dtype code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise DataError(f"{where}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{where}: truncated header: {ndim} dimensions need {header_len} bytes, file has {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    have = len(data) - header_len
    if have != expected:
        what = "truncated" if have < expected else "trailing bytes"
        shape = "x".join(str(d) for d in dims)
        raise DataError(
            f"{where}: {what}: header says {shape} = {expected} bytes, file has {have}"
            f" after the {header_len}-byte header"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
    array.setflags(write=False)
    return array


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a read-only numpy array."""
    return parse_idx(read_file_bytes(path), path)


def encode_idx(array: np.ndarray) -> bytes:
    """Return the uncompressed IDX encoding of ``array``."""
    array = np.asarray(array)
    for code, dtype in IDX_DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            break
    else:
        raise DataError(f"dtype {array.dtype} has no IDX code")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise DataError(f"IDX needs 1..{MAX_DIMS} dimensions, array has {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX; gzip it if ``compress`` (default: name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
