"""Seeded raw random bits and stochastic rounding built on them.

Bit source (documented so a hardware random unit can reproduce it): numpy's PCG64
(the XSL-RR 128/64 generator seeded through ``numpy.random.SeedSequence(seed)``)
produces 64-bit words with ``bit_generator.random_raw``. Each word is cut into
little-endian lanes of 16 bits (for draws of up to 16 bits) or 32 bits (17..32 bits),
lane 0 being bits 0..15 (or 0..31). A draw of ``b`` bits keeps the low ``b`` bits of
a lane. Every element consumes one lane, so the bit stream is a pure function of the
seed and of the sequence of draw sizes.
"""
from __future__ import annotations

import numpy as np

from .errors import NumericsError
from .intops import INT64_MAX, shift_left_exact

MAX_RANDOM_BITS = 32


class RandomBits:
    """Counted, seeded source of raw uniform integers in [0, 2^bits)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._bit_generator = np.random.PCG64(np.random.SeedSequence(self.seed))
        self.bits_drawn = 0  # random bits actually consumed (b per element)

    def draw(self, n: int, bits: int) -> np.ndarray:
        """Return ``n`` values uniform in [0, 2^bits) as int64."""
        if not 1 <= bits <= MAX_RANDOM_BITS:
            raise NumericsError(f"random bits per draw must be in 1..{MAX_RANDOM_BITS}, got {bits}")
        lane_dtype = np.dtype("<u2") if bits <= 16 else np.dtype("<u4")
        lanes_per_word = 8 // lane_dtype.itemsize
        n_words = -(-n // lanes_per_word)
        words = self._bit_generator.random_raw(n_words).astype("<u8", copy=False)
        lanes = words.view(lane_dtype)[:n]
        self.bits_drawn += n * bits
        return (lanes & np.array((1 << bits) - 1, dtype=lane_dtype)).astype(np.int64)

    def state(self) -> dict:
        """The generator state (for checkpoints)."""
        return {"seed": self.seed, "bits_drawn": self.bits_drawn, "pcg64": self._bit_generator.state}

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`state`."""
        self.seed = state["seed"]
        self.bits_drawn = state["bits_drawn"]
        self._bit_generator.state = state["pcg64"]


def noise_for_shift(random_bits: np.ndarray, bits: int, shift: int) -> np.ndarray:
    """Align ``bits``-bit random integers to a ``shift``-bit fraction: r·2^(shift-bits) (floored)."""
    if shift >= bits:
        return random_bits << np.int64(shift - bits)
    return random_bits >> np.int64(bits - shift)


def shift_right_stochastic(x: np.ndarray, shift: int, rng: RandomBits, bits: int = 16) -> np.ndarray:
    """Stochastically rounded x / 2^shift: floor((x + noise) / 2^shift).

    ``noise`` is a ``bits``-bit random integer aligned to the top of the ``shift``-bit
    fraction. With ``bits >= shift`` the result rounds up with probability exactly
    frac(x / 2^shift) (unbiased); with fewer random bits the fraction is compared at
    ``bits`` bits of resolution. For negative x this is the two's-complement form of
    sgn(x)·(⌊|x|⌋ + Bernoulli(frac)): same distribution, cheaper in hardware.
    ``shift <= 0`` is an exact left shift and draws no bits (a result outside int64 raises
    :class:`NumericsError`). Exact over the whole int64 range for ``1 <= shift <= 62``:
    near 2^63 - 1, where x + noise would overflow, the carry of (x mod 2^shift) + noise
    is added to the floor shift instead.
    """
    x = np.asarray(x, dtype=np.int64)
    shift = int(shift)
    if shift <= 0:
        return shift_left_exact(x, -shift)
    if shift >= 63:
        raise NumericsError(f"shift of {shift} bits is out of range for 64-bit values")
    r = rng.draw(x.size, bits).reshape(x.shape)
    noise = noise_for_shift(r, bits, shift)  # in [0, 2^shift)
    s = np.int64(shift)
    if x.size == 0 or int(x.max()) <= INT64_MAX - ((1 << shift) - 1):  # x + noise cannot overflow
        noise += x
        noise >>= s
        return noise
    noise += x & np.int64((1 << shift) - 1)  # < 2^(shift+1): no overflow
    noise >>= s  # carry, 0 or 1
    noise += x >> s
    return noise
