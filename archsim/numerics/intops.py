"""Bit-width bookkeeping and rounding right shifts on int64 arrays.

Every function here is exact integer arithmetic on ``numpy.int64``; results are
identical on every machine. Counts of saturated / wrapped elements are returned so
callers can report overflow events instead of hiding them.
"""
from __future__ import annotations

import numpy as np

from .errors import NumericsError

ROUNDING_MODES = ("floor", "toward_zero", "half_up", "half_away", "half_even")
"""Deterministic rounding modes of :func:`shift_right`. ``stochastic`` lives in :mod:`.stochastic`."""

MAX_BITS = 64


def check_bits(bits: int, what: str = "bit width") -> int:
    """Return ``bits`` if it is a usable signed width (2..64), else raise :class:`NumericsError`."""
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= bits <= MAX_BITS:
        raise NumericsError(f"{what} must be an integer in 1..{MAX_BITS}, got {bits!r}")
    return int(bits)


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Inclusive (lo, hi) of a two's-complement (or unsigned) ``bits``-bit integer."""
    bits = check_bits(bits)
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def symmetric_limit(bits: int) -> int:
    """Largest magnitude of a symmetric signed ``bits``-bit grid: 2^(bits-1) - 1 (e.g. 127 for 8)."""
    return (1 << (check_bits(bits) - 1)) - 1


def saturate(x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int]:
    """Clip integer ``x`` to [lo, hi]; return the result (``x`` itself when nothing clips) and the count."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        x = x.astype(np.int64)
    if x.size == 0 or (int(x.min()) >= lo and int(x.max()) <= hi):
        return x, 0
    n_clipped = int(np.count_nonzero((x < lo) | (x > hi)))
    return np.clip(x, lo, hi), n_clipped


def saturate_bits(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Saturate ``x`` to a signed ``bits``-bit two's-complement range."""
    lo, hi = int_range(bits)
    return saturate(x, lo, hi)


def wrap_bits(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Wrap ``x`` modulo 2^bits into the signed range; return result (``x`` itself when nothing wraps) and count."""
    bits = check_bits(bits)
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        x = x.astype(np.int64)
    lo, hi = int_range(bits)
    if bits == 64 or x.size == 0 or (int(x.min()) >= lo and int(x.max()) <= hi):
        return x, 0
    x = x.astype(np.int64)
    n_wrapped = int(np.count_nonzero((x < lo) | (x > hi)))
    half = np.int64(1 << (bits - 1))
    mask = np.int64((1 << bits) - 1)
    return ((x + half) & mask) - half, n_wrapped


def shift_right(x: np.ndarray, shift: int, mode: str = "half_even") -> np.ndarray:
    """Arithmetic right shift by ``shift`` bits (divide by 2^shift) with the given rounding.

    ``shift <= 0`` is an exact left shift. Modes: ``floor`` (plain arithmetic shift),
    ``toward_zero`` (truncation), ``half_up`` (ties toward +inf), ``half_away`` (ties away
    from zero), ``half_even`` (ties to the even neighbour, like ``numpy.rint``).
    """
    x = np.asarray(x, dtype=np.int64)
    shift = int(shift)
    if mode not in ROUNDING_MODES:
        raise NumericsError(f"rounding mode must be one of {', '.join(ROUNDING_MODES)}, got {mode!r}")
    if shift <= 0:
        return x << np.int64(-shift)
    if shift >= 63:
        raise NumericsError(f"shift of {shift} bits is out of range for 64-bit values")
    s = np.int64(shift)
    if mode == "floor":
        return x >> s
    if mode == "half_up":
        return (x + np.int64(1 << (shift - 1))) >> s
    if mode == "toward_zero":
        q = np.abs(x) >> s
        return np.where(x < 0, -q, q)
    if mode == "half_away":
        q = (np.abs(x) + np.int64(1 << (shift - 1))) >> s
        return np.where(x < 0, -q, q)
    # half_even
    q = x >> s
    r = x & np.int64((1 << shift) - 1)
    half = np.int64(1 << (shift - 1))
    round_up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + round_up


FLOAT_DIVIDE_BOUND = 1 << 52
"""Below this, float64 division decides every rounding exactly (see :func:`_divide_via_float`)."""


def _divide_via_float(x: np.ndarray, divisor: int, mode: str) -> np.ndarray:
    """x / d rounded by ``mode`` through one float64 division; exact for |x|, d < 2^52.

    The correctly rounded quotient r has an absolute error below |x/d|·2^-53 < 1/(2d),
    while a non-integer x/d is at least 1/d from an integer and a non-tie is at least
    1/(2d) from a half-integer; so floor/trunc/round of r equal those of x/d, and exact
    quotients and ties are representable (|r| < 2^52 keeps r ± 0.5 exact too).
    """
    r = x / np.float64(divisor)
    if mode == "floor":
        q = np.floor(r)
    elif mode == "toward_zero":
        q = np.trunc(r)
    elif mode == "half_up":
        q = np.floor(r + 0.5)
    elif mode == "half_away":
        q = np.copysign(np.floor(np.abs(r) + 0.5), r)
    else:
        q = np.rint(r)
    return q.astype(np.int64)


def divide(x: np.ndarray, divisor: int, mode: str = "toward_zero") -> np.ndarray:
    """x / divisor for a positive integer constant (any value, not only powers of two), exactly rounded.

    This is the constant-divider operation (NITRO-D's scaling and update divisions use
    ``toward_zero``). Modes as in :func:`shift_right`.
    """
    divisor = int(divisor)
    if divisor < 1:
        raise NumericsError(f"divisor must be a positive integer, got {divisor}")
    if mode not in ROUNDING_MODES:
        raise NumericsError(f"rounding mode must be one of {', '.join(ROUNDING_MODES)}, got {mode!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        x = x.astype(np.int64)
    if divisor == 1:
        return x.astype(np.int64)
    if divisor < FLOAT_DIVIDE_BOUND and (x.dtype.itemsize <= 4 or x.size == 0
                                         or max(-int(x.min()), int(x.max())) < FLOAT_DIVIDE_BOUND):
        return _divide_via_float(x, divisor, mode)
    x = x.astype(np.int64)
    d = np.int64(divisor)
    if mode == "floor":
        return x // d
    if mode == "toward_zero":
        q = np.abs(x) // d
        return np.where(x < 0, -q, q)
    if mode == "half_up":
        return (2 * x + d) // (2 * d)
    if mode == "half_away":
        q = (2 * np.abs(x) + d) // (2 * d)
        return np.where(x < 0, -q, q)
    q, r = np.divmod(x, d)  # half_even: r in [0, d)
    round_up = (2 * r > d) | ((2 * r == d) & ((q & 1) == 1))
    return q + round_up


def round_log2(m: int) -> int:
    """round(log2 m) for a positive integer, exactly (no float): ties cannot occur for integers."""
    m = int(m)
    if m <= 0:
        raise NumericsError(f"round_log2 needs a positive integer, got {m}")
    p = m.bit_length() - 1  # floor(log2 m)
    # round up iff log2 m >= p + 1/2  <=>  m^2 >= 2^(2p+1); equality is impossible for integers
    return p + 1 if m * m > (1 << (2 * p + 1)) else p
