"""Exact integer 2-D convolution (NHWC, weights kh·kw·C_in·C_out) and its two backward products.

All three products are GEMMs over an im2col matrix whose columns are ordered
(kh, kw, C) with C innermost, so they run through :func:`accumulate_matmul` and obey
the same exactness rules and accumulator semantics as a plain GEMM. The input
gradient is computed as a full correlation of the (stride-dilated, padded) output
gradient with the rotated kernel, which sums exactly the same products as col2im
would, without a scatter.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .accumulator import Accumulator
from .engine import GemmEngine, as_engine
from .errors import NumericsError


def conv_output_size(size: int, kernel: int, padding: int, stride: int) -> int:
    """Output length of a convolution along one axis (floor mode); raises if it would be < 1."""
    if kernel < 1 or stride < 1 or padding < 0:
        raise NumericsError(f"convolution needs kernel>=1, stride>=1, padding>=0; got {kernel}, {stride}, {padding}")
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise NumericsError(f"kernel {kernel} with padding {padding} does not fit an input of size {size}")
    return out


def pad_hw(x: np.ndarray, before: int, after: int | None = None) -> np.ndarray:
    """Zero-pad the two spatial axes of an NHWC tensor."""
    after = before if after is None else after
    if before == 0 and after == 0:
        return x
    return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))


def im2col(x: np.ndarray, kernel: int, padding: int, stride: int) -> np.ndarray:
    """Patches of an NHWC tensor as a (B·Ho·Wo, kernel²·C) matrix, C innermost (one copy)."""
    b, h, w, c = x.shape
    ho = conv_output_size(h, kernel, padding, stride)
    wo = conv_output_size(w, kernel, padding, stride)
    xp = np.ascontiguousarray(pad_hw(x, padding))
    sb, sh, sw, sc = xp.strides
    patches = as_strided(xp, shape=(b, ho, wo, kernel, kernel, c),
                         strides=(sb, sh * stride, sw * stride, sh, sw, sc), writeable=False)
    return patches.reshape(b * ho * wo, kernel * kernel * c)


def _check_conv_shapes(x_shape: tuple, w: np.ndarray) -> None:
    if len(x_shape) != 4 or w.ndim != 4 or w.shape[0] != w.shape[1] or w.shape[2] != x_shape[3]:
        raise NumericsError(f"conv2d shapes do not chain: input {tuple(x_shape)} (NHWC), kernel {w.shape} (kh,kw,Cin,Cout)")


IM2COL_CHUNK_BYTES = 2 << 20
"""Target size of one im2col block: small blocks stay in cache and make conv ~2.5x faster here."""


def batch_chunk(per_image_bytes: int, batch: int) -> int:
    """Images per im2col block so that a block is about IM2COL_CHUNK_BYTES."""
    return max(1, min(batch, IM2COL_CHUNK_BYTES // max(per_image_bytes, 1)))


def conv2d(x: np.ndarray, w: np.ndarray, padding: int, stride: int,
           acc: Accumulator | GemmEngine) -> tuple[np.ndarray, int]:
    """y[b,i,j,o] = Σ x[b, i·s+p-pad, j·s+q-pad, c]·w[p,q,c,o]; returns (int64 NHWC, overflow events).

    ``acc`` is the accumulator of the exact integer path, or :class:`Float32Gemm` for floats.
    """
    gemm = as_engine(acc)
    _check_conv_shapes(x.shape, w)
    k, cout = w.shape[0], w.shape[3]
    b, h, wd, _ = x.shape
    ho, wo = conv_output_size(h, k, padding, stride), conv_output_size(wd, k, padding, stride)
    xc, wc, bounds = gemm.prepare(x, w, k * k * w.shape[2])
    w2 = wc.reshape(-1, cout)
    step = batch_chunk(ho * wo * w2.shape[0] * xc.itemsize, b)
    parts, n_over = [], 0
    for i in range(0, b, step):  # every output keeps its own K order: chunking the batch is exact for any accumulator
        y, n = gemm(im2col(xc[i:i + step], k, padding, stride), w2, bounds)
        parts.append(y)
        n_over += n
    y = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return y.reshape(b, ho, wo, cout), n_over


def dilate_hw(x: np.ndarray, stride: int) -> np.ndarray:
    """Insert stride-1 zeros between spatial elements (the transpose of a strided read)."""
    if stride == 1:
        return x
    b, h, w, c = x.shape
    out = np.zeros((b, (h - 1) * stride + 1, (w - 1) * stride + 1, c), dtype=x.dtype)
    out[:, ::stride, ::stride, :] = x
    return out


def conv2d_input_grad(dy: np.ndarray, w: np.ndarray, x_shape: tuple, padding: int, stride: int,
                      acc: Accumulator | GemmEngine) -> tuple[np.ndarray, int]:
    """dx = ∂(Σ dy·y)/∂x for :func:`conv2d`; returns (NHWC of ``x_shape``, overflow events)."""
    _check_conv_shapes(x_shape, w)
    k, cin = w.shape[0], w.shape[2]
    b, h, wd, _ = x_shape
    w_rot = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))  # (k,k,Cout,Cin)
    dyd = dilate_hw(dy, stride)
    before = k - 1 - padding
    after_h, after_w = h + k - 1 - dyd.shape[1] - before, wd + k - 1 - dyd.shape[2] - before
    if before >= 0 and after_h >= 0 and after_h == after_w:  # compute exactly the rows of x, no crop
        dyp = np.pad(dyd, ((0, 0), (before, after_h), (before, after_w), (0, 0)))
        return conv2d(dyp, w_rot, 0, 1, acc)
    full, n_over = conv2d(dyd, w_rot, k - 1, 1, acc)
    hp, wp = h + 2 * padding, wd + 2 * padding
    dx_padded = np.zeros((b, hp, wp, cin), dtype=full.dtype)
    dx_padded[:, :full.shape[1], :full.shape[2]] = full[:, :hp, :wp]
    return dx_padded[:, padding:padding + h, padding:padding + wd], n_over


def conv2d_weight_grad(x: np.ndarray, dy: np.ndarray, kernel: int, padding: int, stride: int,
                       acc: Accumulator | GemmEngine) -> tuple[np.ndarray, int]:
    """dw[p,q,c,o] = Σ_{b,i,j} x[b, i·s+p-pad, j·s+q-pad, c]·dy[b,i,j,o]; returns (dw, events)."""
    gemm = as_engine(acc)
    b, cin, cout = x.shape[0], x.shape[3], dy.shape[3]
    pixels = dy.shape[1] * dy.shape[2]
    if (b, dy.shape[1], dy.shape[2]) != (dy.shape[0],
                                          conv_output_size(x.shape[1], kernel, padding, stride),
                                          conv_output_size(x.shape[2], kernel, padding, stride)):
        raise NumericsError(f"conv2d weight gradient: output gradient {dy.shape} does not match input {x.shape}")
    k_total = b * pixels
    xc, dyc, bounds = gemm.prepare(x, dy, k_total)
    dy2 = dyc.reshape(-1, cout)
    if not gemm.splittable(k_total, bounds):  # a saturating sum that may saturate: one ordered pass
        dw, n_over = gemm(im2col(xc, kernel, padding, stride).T, dy2, bounds)
        return dw.reshape(kernel, kernel, cin, cout), n_over
    step = batch_chunk(pixels * kernel * kernel * cin * xc.itemsize, b)
    total = None
    for i in range(0, b, step):  # K split at image boundaries; exact partial sums add exactly
        part = gemm.product(im2col(xc[i:i + step], kernel, padding, stride).T, dy2[i * pixels:(i + step) * pixels],
                            bounds)
        total = part if total is None else total + part
    dw, n_over = gemm.finish(total)
    return dw.reshape(kernel, kernel, cin, cout), n_over
