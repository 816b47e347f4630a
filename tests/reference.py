"""Slow, obviously-correct pure-Python integer references for every numerics operation.

Nothing here uses numpy arithmetic: values are Python ints in nested lists, so the
results are mathematically exact by construction.
"""
from __future__ import annotations


def shift_right(v: int, s: int, mode: str) -> int:
    """v / 2^s rounded by ``mode`` (s <= 0 is an exact left shift)."""
    return v * (1 << -s) if s <= 0 else divide(v, 1 << s, mode)


def stochastic_shift(v: int, s: int, r: int, bits: int) -> int:
    """floor((v + noise) / 2^s) with noise = r aligned to the top of the s-bit fraction."""
    if s <= 0:
        return v * (1 << -s)
    noise = r * (1 << (s - bits)) if s >= bits else r // (1 << (bits - s))
    return (v + noise) // (1 << s)


def wrap(v: int, bits: int) -> int:
    """Two's-complement wrap of v to ``bits`` bits."""
    m = 1 << bits
    v %= m
    return v - m if v >= m // 2 else v


def matmul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    """Exact integer matrix product."""
    k = len(b)
    return [[sum(a[i][t] * b[t][j] for t in range(k)) for j in range(len(b[0]))] for i in range(len(a))]


def saturating_matmul(a: list[list[int]], b: list[list[int]], bits: int) -> tuple[list[list[int]], int]:
    """Saturating accumulation in ascending k; returns result and the number of saturated additions."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out, events = [], 0
    for i in range(len(a)):
        row = []
        for j in range(len(b[0])):
            acc = 0
            for t in range(len(b)):
                acc += a[i][t] * b[t][j]
                if acc > hi or acc < lo:
                    events += 1
                    acc = min(max(acc, lo), hi)
            row.append(acc)
        out.append(row)
    return out, events


def conv2d(x, w, pad: int, stride: int):
    """NHWC x, (k,k,Cin,Cout) w → NHWC y by the definition, zero padding."""
    bsz, h, wd, cin = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    k, cout = len(w), len(w[0][0][0])
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = [[[[0] * cout for _ in range(wo)] for _ in range(ho)] for _ in range(bsz)]
    for b in range(bsz):
        for i in range(ho):
            for j in range(wo):
                for o in range(cout):
                    s = 0
                    for p in range(k):
                        for q in range(k):
                            r, c = i * stride + p - pad, j * stride + q - pad
                            if 0 <= r < h and 0 <= c < wd:
                                for ch in range(cin):
                                    s += x[b][r][c][ch] * w[p][q][ch][o]
                    y[b][i][j][o] = s
    return y


def conv2d_input_grad(dy, w, x_shape, pad: int, stride: int):
    """dx[b,r,c,ch] = Σ dy[b,i,j,o]·w[p,q,ch,o] over i·s+p-pad = r, j·s+q-pad = c."""
    bsz, h, wd, cin = x_shape
    k, cout = len(w), len(w[0][0][0])
    ho, wo = len(dy[0]), len(dy[0][0])
    dx = [[[[0] * cin for _ in range(wd)] for _ in range(h)] for _ in range(bsz)]
    for b in range(bsz):
        for i in range(ho):
            for j in range(wo):
                for p in range(k):
                    for q in range(k):
                        r, c = i * stride + p - pad, j * stride + q - pad
                        if 0 <= r < h and 0 <= c < wd:
                            for ch in range(cin):
                                dx[b][r][c][ch] += sum(dy[b][i][j][o] * w[p][q][ch][o] for o in range(cout))
    return dx


def conv2d_weight_grad(x, dy, k: int, pad: int, stride: int):
    """dw[p,q,ch,o] = Σ x[b, i·s+p-pad, j·s+q-pad, ch]·dy[b,i,j,o]."""
    bsz, h, wd, cin = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    ho, wo, cout = len(dy[0]), len(dy[0][0]), len(dy[0][0][0])
    dw = [[[[0] * cout for _ in range(cin)] for _ in range(k)] for _ in range(k)]
    for p in range(k):
        for q in range(k):
            for ch in range(cin):
                for o in range(cout):
                    s = 0
                    for b in range(bsz):
                        for i in range(ho):
                            for j in range(wo):
                                r, c = i * stride + p - pad, j * stride + q - pad
                                if 0 <= r < h and 0 <= c < wd:
                                    s += x[b][r][c][ch] * dy[b][i][j][o]
                    dw[p][q][ch][o] = s
    return dw


def maxpool(x, size: int, pad: tuple[int, int] = (0, 0), kernel: tuple[int, int] | None = None):
    """Max-pool (stride = window) with first-maximum tie rule and -inf padding; returns (y, arg)."""
    kh, kw = kernel or (size, size)
    ph, pw = pad
    bsz, h, wd, c = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    ho, wo = (h + 2 * ph - kh) // kh + 1, (wd + 2 * pw - kw) // kw + 1
    y = [[[[0] * c for _ in range(wo)] for _ in range(ho)] for _ in range(bsz)]
    arg = [[[[0] * c for _ in range(wo)] for _ in range(ho)] for _ in range(bsz)]
    for b in range(bsz):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    best, best_idx = None, 0
                    for idx in range(kh * kw):
                        p, q = divmod(idx, kw)
                        r, col = i * kh + p - ph, j * kw + q - pw
                        v = x[b][r][col][ch] if (0 <= r < h and 0 <= col < wd) else float("-inf")
                        if best is None or v > best:
                            best, best_idx = v, idx
                    y[b][i][j][ch], arg[b][i][j][ch] = best, best_idx
    return y, arg


def round_log2(m: int) -> int:
    """round(log2 m) by brute force over powers of two (compare m² with 2^(2p+1))."""
    p = 0
    while (1 << (p + 1)) <= m:
        p += 1
    return p + 1 if m * m > 2 ** (2 * p + 1) else p


def divide(v: int, d: int, mode: str) -> int:
    """v / d rounded by ``mode`` using exact rational comparisons."""
    q, r = divmod(v, d)  # floor
    if mode == "floor":
        return q
    if mode == "toward_zero":
        return q + 1 if (v < 0 and r != 0) else q
    if mode == "half_up":
        return q + 1 if 2 * r >= d else q
    if mode == "half_away":
        return q + 1 if (2 * r > d or (2 * r == d and v > 0)) else q
    if mode == "half_even":
        return q + 1 if (2 * r > d or (2 * r == d and q % 2 == 1)) else q
    raise ValueError(mode)
