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


INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def shift_left_exact(x: np.ndarray, shift: int) -> np.ndarray:
    """x · 2^shift (``shift >= 0``) on int64, refusing instead of wrapping when a result overflows.

    Raises :class:`NumericsError` if some element of ``x`` times 2^shift falls outside int64.
    """
    x = np.asarray(x, dtype=np.int64)
    if shift == 0:
        return x.copy()
    if x.size:
        # x·2^k fits iff ceil(INT64_MIN / 2^k) <= x <= floor(INT64_MAX / 2^k)
        lo, hi = int(x.min()), int(x.max())
        for v, ok in ((lo, lo >= -((-INT64_MIN) >> shift)), (hi, hi <= INT64_MAX >> shift)):
            if not ok:
                raise NumericsError(f"left shift by {shift} bits of {v} overflows 64-bit values")
    if shift >= 64:  # only zeros (and nothing else) get here
        return np.zeros_like(x)
    return x << np.int64(shift)


def shift_right(x: np.ndarray, shift: int, mode: str = "half_even") -> np.ndarray:
    """Arithmetic right shift by ``shift`` bits (divide by 2^shift) with the given rounding.

    ``shift <= 0`` is an exact left shift. Modes: ``floor`` (plain arithmetic shift),
    ``toward_zero`` (truncation), ``half_up`` (ties toward +inf), ``half_away`` (ties away
    from zero), ``half_even`` (ties to the even neighbour, like ``numpy.rint``).

    Exact over the whole int64 range (including -2^63 and 2^63-1) for ``1 <= shift <= 62``:
    every rounded quotient fits in int64 and no intermediate overflows (the rounding is
    decided from the floor shift and the discarded low bits, never from |x| or x + half).
    ``shift >= 63`` and a left shift whose exact result does not fit in int64 raise
    :class:`NumericsError` rather than wrap.
    """
    x = np.asarray(x, dtype=np.int64)
    shift = int(shift)
    if mode not in ROUNDING_MODES:
        raise NumericsError(f"rounding mode must be one of {', '.join(ROUNDING_MODES)}, got {mode!r}")
    if shift <= 0:
        return shift_left_exact(x, -shift)
    if shift >= 63:
        raise NumericsError(f"shift of {shift} bits is out of range for 64-bit values")
    s = np.int64(shift)
    mask = np.int64((1 << shift) - 1)
    half = np.int64(1 << (shift - 1))
    if mode == "floor":
        return x >> s
    if mode == "half_up":
        # floor((x + half) / 2^s) = floor((y + 1) / 2) with y = floor(x / 2^(s-1)); x + half may overflow
        if shift == 1:
            q = x >> s
            q += x & 1
            return q
        q = x >> np.int64(shift - 1)  # y in [-2^62, 2^62), so y + 1 cannot overflow
        q += 1
        q >>= 1
        return q
    if mode == "toward_zero":
        # ceil(x / 2^s) for x < 0 is floor((x + 2^s - 1) / 2^s); x + mask cannot overflow for x < 0
        q = x >> np.int64(63)  # -1 where x < 0, else 0
        q &= mask
        q += x
        q >>= s
        return q
    q = x >> s
    r = x & mask  # x - q·2^s, in [0, 2^s)
    if mode == "half_away":
        # round up iff r > half, or r == half and x >= 0: r + (x < 0 ? -1 : 0) >= half
        r += x >> np.int64(63)
        q += r >= half
        return q
    # half_even
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

    Exact for every int64 ``x`` (including -2^63 and 2^63-1) and every divisor in
    1..2^63-1: all rounded quotients fit in int64, and the integer path never forms |x|,
    2x or 2r (it floor-divides x plus an offset chosen by the sign of x so the sum stays
    in int64, or compares the floor remainder r, taken modulo 2^64, with d - r). A divisor
    of 2^63 or more raises :class:`NumericsError`.
    """
    divisor = int(divisor)
    if divisor < 1:
        raise NumericsError(f"divisor must be a positive integer, got {divisor}")
    if divisor > INT64_MAX:
        raise NumericsError(f"divisor must fit in int64 (at most 2^63 - 1), got {divisor}")
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
    x = x.astype(np.int64, copy=False)  # never written to below
    if x.ndim == 0:  # the in-place steps below need arrays
        return divide(x.reshape(1), divisor, mode)[0]
    d = np.int64(divisor)
    if mode == "floor":
        return x // d
    if mode == "toward_zero":
        # ceil(x / d) for x < 0 is floor((x + d - 1) / d); x + d - 1 cannot overflow for x < 0
        t = x >> np.int64(63)  # -1 where x < 0, else 0
        t &= d - 1
        t += x
        t //= d
        return t
    if mode in ("half_up", "half_away"):
        # floor((x + c) / d) with c = d // 2 rounds ties up and c = ceil(d/2) - 1 rounds them down.
        # x + c may overflow only for x >= 0, where floor((x + c - d) / d) + 1 is used instead.
        half = divisor // 2
        c_neg = half if mode == "half_up" else divisor - 1 - half  # ties of x < 0: up / away from 0
        c_pos = half - divisor  # ties of x >= 0 go up in both modes
        sign = x >> np.int64(63)  # -1 where x < 0, else 0
        t = sign & np.int64(c_neg - c_pos)
        t += np.int64(c_pos)
        t += x
        t //= d
        t += sign
        t += 1
        return t
    # half_even
    q = x // d  # floor quotient
    # remainder in [0, d), computed modulo 2^64 (q·d itself may lie below -2^63); np.divmod is slower
    r = (x.view(np.uint64) - q.view(np.uint64) * np.uint64(divisor)).view(np.int64)
    rest = d - r  # in (0, d]: 2r > d  <=>  r > d - r, without forming 2r
    q += (r > rest) | ((r == rest) & ((q & 1) == 1))
    return q


def round_log2(m: int) -> int:
    """round(log2 m) for a positive integer, exactly (no float): ties cannot occur for integers."""
    m = int(m)
    if m <= 0:
        raise NumericsError(f"round_log2 needs a positive integer, got {m}")
    p = m.bit_length() - 1  # floor(log2 m)
    # round up iff log2 m >= p + 1/2  <=>  m^2 >= 2^(2p+1); equality is impossible for integers
    return p + 1 if m * m > (1 << (2 * p + 1)) else p
