"""Every numerics operation equals the pure-integer reference, bit for bit (hypothesis + extremes)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reference as ref
from archsim import numerics as nm
from archsim.numerics.gemm import F32_EXACT_BOUND, F64_EXACT_BOUND, GemmPlan, plan_gemm


def ints(bits: int):
    """Integers of a signed width, biased towards the extremes."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, lo + 1, hi - 1, 0, -1, 1]))


def arrays(shape, bits: int):
    return hnp.arrays(np.int64, shape, elements=ints(bits))


# ---------- widths, wrap, saturate, shifts ----------

@given(st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=50), st.integers(2, 32))
def test_wrap_and_saturate_match_reference(values, bits):
    x = np.array(values, dtype=np.int64)
    wrapped, n_wrapped = nm.wrap_bits(x, bits)
    assert wrapped.tolist() == [ref.wrap(v, bits) for v in values]
    lo, hi = nm.int_range(bits)
    assert n_wrapped == sum(not lo <= v <= hi for v in values)
    sat, n_sat = nm.saturate_bits(x, bits)
    assert sat.tolist() == [min(max(v, lo), hi) for v in values]
    assert n_sat == n_wrapped


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
@given(values=st.lists(st.integers(-(1 << 50), 1 << 50), min_size=1, max_size=40), shift=st.integers(-4, 40))
def test_shift_right_matches_reference(mode, values, shift):
    got = nm.shift_right(np.array(values, dtype=np.int64), shift, mode)
    assert got.tolist() == [ref.shift_right(v, shift, mode) for v in values]


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
def test_shift_right_ties_and_extremes(mode):
    values = [-6, -5, -3, -2, -1, 0, 1, 2, 3, 5, 6, (1 << 62) - 1, -(1 << 62)]
    got = nm.shift_right(np.array(values, dtype=np.int64), 1, mode)
    assert got.tolist() == [ref.shift_right(v, 1, mode) for v in values]


def test_rounding_modes_on_ties_are_what_their_names_say():
    halves = np.array([-5, -3, -1, 1, 3, 5])  # -2.5, -1.5, -0.5, 0.5, 1.5, 2.5
    assert nm.shift_right(halves, 1, "half_even").tolist() == [-2, -2, 0, 0, 2, 2]
    assert nm.shift_right(halves, 1, "half_up").tolist() == [-2, -1, 0, 1, 2, 3]
    assert nm.shift_right(halves, 1, "half_away").tolist() == [-3, -2, -1, 1, 2, 3]
    assert nm.shift_right(halves, 1, "toward_zero").tolist() == [-2, -1, 0, 0, 1, 2]
    assert nm.shift_right(halves, 1, "floor").tolist() == [-3, -2, -1, 0, 1, 2]
    assert np.array_equal(nm.shift_right(halves, 1, "half_even"), np.rint(halves / 2).astype(int))


@given(st.integers(1, 1 << 60))
def test_round_log2_matches_reference(m):
    assert nm.round_log2(m) == ref.round_log2(m)
    if m < (1 << 50):
        assert nm.round_log2(m) == round(math.log2(m))


# ---------- random bits and stochastic rounding ----------

def test_random_bits_are_documented_pcg64_lanes():
    rb = nm.RandomBits(7)
    words = np.random.PCG64(np.random.SeedSequence(7)).random_raw(3)
    lanes16 = [(int(w) >> (16 * i)) & 0xFFFF for w in words for i in range(4)]
    assert rb.draw(10, 16).tolist() == lanes16[:10]
    rb = nm.RandomBits(7)
    assert rb.draw(5, 5).tolist() == [v & 31 for v in lanes16[:5]]
    assert rb.bits_drawn == 25
    rb = nm.RandomBits(7)
    lanes32 = [(int(w) >> (32 * i)) & 0xFFFFFFFF for w in words for i in range(2)]
    assert rb.draw(5, 20).tolist() == [v & ((1 << 20) - 1) for v in lanes32[:5]]


@given(values=st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=40),
       shift=st.integers(-3, 30), bits=st.integers(1, 24), seed=st.integers(0, 1000))
def test_stochastic_shift_matches_reference(values, shift, bits, seed):
    got = nm.shift_right_stochastic(np.array(values, dtype=np.int64), shift, nm.RandomBits(seed), bits)
    if shift <= 0:
        assert got.tolist() == [v << -shift for v in values]
        return
    r = nm.RandomBits(seed).draw(len(values), bits).tolist()
    assert got.tolist() == [ref.stochastic_shift(v, shift, ri, bits) for v, ri in zip(values, r)]


def test_stochastic_rounding_is_unbiased_and_only_rounds_to_neighbours():
    x = np.full(200_000, -37, dtype=np.int64)  # -37/8 = -4.625
    y = nm.shift_right_stochastic(x, 3, nm.RandomBits(3), bits=16)
    assert set(np.unique(y).tolist()) == {-5, -4}
    assert abs(y.mean() - (-4.625)) < 0.005


# ---------- GEMM ----------

@given(st.data(), st.integers(1, 5), st.integers(1, 40), st.integers(1, 5), st.integers(2, 20), st.integers(2, 20))
def test_matmul_exact_matches_reference(data, m, k, n, bits_a, bits_b):
    a = data.draw(arrays((m, k), bits_a))
    b = data.draw(arrays((k, n), bits_b))
    assert nm.matmul_exact(a, b).tolist() == ref.matmul(a.tolist(), b.tolist())


BOUND_CASES = [
    # (max|A|, max|B|, K at the bound, path at the bound, path just past it)
    (1 << 11, 1 << 11, 4, "f32", "f64"),           # 4·2^22 = 2^24; chunks of 4 are too thin
    (1 << 9, 1 << 9, 64, "f32", "f32_chunked"),     # 64·2^18 = 2^24; past it: chunks of 64
    (1 << 26, 1 << 26, 2, "f64", "int64"),          # 2·2^52 = 2^53
]


@pytest.mark.parametrize("max_a,max_b,k,at_path,past_path", BOUND_CASES)
@pytest.mark.parametrize("signs", ["all_max", "all_min", "mixed"])
def test_gemm_at_and_just_past_each_bound(max_a, max_b, k, at_path, past_path, signs):
    for kk, path in ((k, at_path), (k + 1, past_path)):
        assert plan_gemm(kk, max_a, max_b).path == path
        rng = np.random.default_rng(kk)
        if signs == "all_max":
            a, b = np.full((3, kk), max_a), np.full((kk, 2), max_b)
        elif signs == "all_min":
            a, b = np.full((3, kk), -max_a), np.full((kk, 2), max_b)
        else:
            a = rng.choice([-max_a, max_a, max_a - 1], size=(3, kk))
            b = rng.choice([-max_b, max_b, 1], size=(kk, 2))
        assert nm.matmul_exact(a, b).tolist() == ref.matmul(a.tolist(), b.tolist())


def test_plain_float32_would_be_wrong_past_the_bound_but_we_are_exact():
    a = np.array([[1 << 12, 1]])
    b = np.array([[1 << 12], [1]])
    assert int((a.astype(np.float32) @ b.astype(np.float32))[0, 0]) != (1 << 24) + 1
    assert nm.matmul_exact(a, b)[0, 0] == (1 << 24) + 1
    assert F32_EXACT_BOUND == 1 << 24 and F64_EXACT_BOUND == 1 << 53


@pytest.mark.parametrize("path", ["f32", "f32_chunked", "f64", "int64"])
@given(data=st.data())
def test_every_path_is_exact_within_its_bound(path, data):
    k = data.draw(st.integers(1, 300))
    a = data.draw(arrays((3, k), 8))
    b = data.draw(arrays((k, 2), 8))
    plan = GemmPlan(path, 37 if path == "f32_chunked" else k)
    if path == "f32" and k * 128 * 128 > F32_EXACT_BOUND:
        return
    assert nm.matmul_exact(a, b, plan).tolist() == ref.matmul(a.tolist(), b.tolist())


def test_gemm_beyond_int64_is_refused():
    with pytest.raises(nm.NumericsError, match="64-bit"):
        plan_gemm(2, 1 << 31, 1 << 31)


# ---------- accumulators ----------

@given(st.data(), st.integers(1, 4), st.integers(1, 30), st.integers(1, 4), st.integers(8, 24))
def test_wrap_accumulator_matches_reference(data, m, k, n, acc_bits):
    a = data.draw(arrays((m, k), 8))
    b = data.draw(arrays((k, n), 8))
    got, events = nm.accumulate_matmul(a, b, nm.Accumulator(acc_bits, "wrap"))
    exact = ref.matmul(a.tolist(), b.tolist())
    assert got.tolist() == [[ref.wrap(v, acc_bits) for v in row] for row in exact]
    lo, hi = nm.int_range(acc_bits)
    assert events == sum(not lo <= v <= hi for row in exact for v in row)


@given(st.data(), st.integers(1, 4), st.integers(1, 30), st.integers(1, 4), st.integers(8, 20))
def test_saturating_accumulator_matches_ordered_reference(data, m, k, n, acc_bits):
    a = data.draw(arrays((m, k), 8))
    b = data.draw(arrays((k, n), 8))
    got, events = nm.accumulate_matmul(a, b, nm.Accumulator(acc_bits, "saturate"))
    want, want_events = ref.saturating_matmul(a.tolist(), b.tolist(), acc_bits)
    assert got.tolist() == want and events == want_events


def test_saturating_accumulator_depends_on_order_and_counts_events():
    a = np.array([[127, 127, 127, -127]])
    b = np.full((4, 1), 127)
    got, events = nm.accumulate_matmul(a, b, nm.Accumulator(16, "saturate"))
    # 3·16129 = 48387 saturates at 32767, then -16129 → 16638 (the exact sum is 32258)
    assert got[0, 0] == 32767 - 16129 and events == 1
    reordered, _ = nm.accumulate_matmul(a[:, ::-1], b, nm.Accumulator(16, "saturate"))
    assert reordered[0, 0] == 32258


def test_bad_accumulator_is_rejected():
    with pytest.raises(nm.NumericsError):
        nm.Accumulator(0)
    with pytest.raises(nm.NumericsError):
        nm.Accumulator(32, "clamp")


# ---------- convolution and pooling ----------

conv_geometry = st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3),
                          st.sampled_from([1, 3, 5]), st.integers(0, 2), st.integers(1, 2))


@given(st.data(), conv_geometry)
def test_conv2d_and_its_gradients_match_reference(data, geo):
    b, h, cin, cout, k, pad, stride = geo
    if h + 2 * pad < k:
        return
    x = data.draw(arrays((b, h, h, cin), 8))
    w = data.draw(arrays((k, k, cin, cout), 3))
    acc = nm.Accumulator(32)
    y, _ = nm.conv2d(x, w, pad, stride, acc)
    assert y.tolist() == ref.conv2d(x.tolist(), w.tolist(), pad, stride)
    dy = data.draw(arrays(y.shape, 8))
    dx, _ = nm.conv2d_input_grad(dy, w, x.shape, pad, stride, acc)
    assert dx.tolist() == ref.conv2d_input_grad(dy.tolist(), w.tolist(), x.shape, pad, stride)
    dw, _ = nm.conv2d_weight_grad(x, dy, k, pad, stride, acc)
    assert dw.tolist() == ref.conv2d_weight_grad(x.tolist(), dy.tolist(), k, pad, stride)


def test_conv2d_wraps_in_a_narrow_accumulator_and_counts():
    x = np.full((1, 3, 3, 4), 127)
    w = np.full((3, 3, 4, 1), 127)
    y, events = nm.conv2d(x, w, 0, 1, nm.Accumulator(16))
    exact = 36 * 127 * 127
    assert y[0, 0, 0, 0] == ref.wrap(exact, 16) and events == 1


@given(st.data(), st.integers(1, 2), st.integers(2, 7), st.integers(1, 3), st.sampled_from([2, 3]))
def test_maxpool_matches_reference(data, b, h, c, size):
    if h < size:
        return
    x = data.draw(hnp.arrays(np.int64, (b, h, h, c), elements=st.integers(-3, 3)))  # many ties
    y, arg = nm.maxpool2d(x, size)
    want_y, want_arg = ref.maxpool(x.tolist(), size)
    assert y.tolist() == want_y and arg.tolist() == want_arg
    dy = data.draw(hnp.arrays(np.int64, y.shape, elements=st.integers(-100, 100)))
    dx = nm.maxpool2d_backward(dy, arg, x.shape, size)
    for bi in range(b):
        for i in range(h // size):
            for j in range(h // size):
                for ch in range(c):
                    p, q = divmod(want_arg[bi][i][j][ch], size)
                    assert dx[bi, i * size + p, j * size + q, ch] == dy[bi, i, j, ch]
    assert int(np.abs(dx).sum()) == int(np.abs(dy).sum())


@pytest.mark.parametrize("acc", [nm.Accumulator(32), nm.Accumulator(12, "wrap"), nm.Accumulator(14, "saturate"),
                                 nm.Accumulator(32, "saturate")])
def test_conv_split_into_batch_chunks_is_exact_for_every_accumulator(monkeypatch, acc):
    import archsim.numerics.conv as conv
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (3, 5, 5, 2))
    w = rng.integers(-8, 8, (3, 3, 2, 3))
    dy = rng.integers(-128, 128, (3, 5, 5, 3))
    whole = (nm.conv2d(x, w, 1, 1, acc), nm.conv2d_input_grad(dy, w, x.shape, 1, 1, acc),
             nm.conv2d_weight_grad(x, dy, 3, 1, 1, acc))
    monkeypatch.setattr(conv, "IM2COL_CHUNK_BYTES", 1)  # one image per block
    split = (nm.conv2d(x, w, 1, 1, acc), nm.conv2d_input_grad(dy, w, x.shape, 1, 1, acc),
             nm.conv2d_weight_grad(x, dy, 3, 1, 1, acc))
    for (a, na), (b, nb) in zip(whole, split):
        assert np.array_equal(a, b) and na == nb
    exact_dw = np.array(ref.conv2d_weight_grad(x.tolist(), dy.tolist(), 3, 1, 1))
    if acc.overflow == "wrap":
        assert split[2][0].tolist() == np.vectorize(lambda v: ref.wrap(int(v), acc.bits))(exact_dw).tolist()


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
@given(values=st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=40),
       divisor=st.one_of(st.integers(1, 3_000_000), st.sampled_from([1, 2, 3, 2304, 200704, 294912])))
def test_constant_divide_matches_reference(mode, values, divisor):
    got = nm.divide(np.array(values, dtype=np.int64), divisor, mode)
    assert got.tolist() == [ref.divide(v, divisor, mode) for v in values]


def test_divide_by_a_power_of_two_equals_the_shift():
    x = np.arange(-300, 300)
    for mode in nm.ROUNDING_MODES:
        assert np.array_equal(nm.divide(x, 8, mode), nm.shift_right(x, 3, mode))


@given(st.data(), st.integers(2, 9), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2))
def test_padded_rectangular_maxpool_matches_reference(data, h, kh, kw, ph, pw):
    if ph >= kh or pw >= kw or h + 2 * ph < kh or h + 2 * pw < kw:
        return
    x = data.draw(hnp.arrays(np.int32, (2, h, h, 2), elements=st.integers(-3, 3)))
    y, arg = nm.maxpool2d(x, (kh, kw), (ph, pw))
    want_y, want_arg = ref.maxpool(x.tolist(), 0, (ph, pw), (kh, kw))
    assert y.tolist() == want_y and arg.tolist() == want_arg
    dy = data.draw(hnp.arrays(np.int64, y.shape, elements=st.integers(-100, 100)))
    dx = nm.maxpool2d_backward(dy, arg, x.shape, (kh, kw), (ph, pw))
    assert dx.shape == x.shape
    want = np.zeros(x.shape, dtype=np.int64)
    for b, i, j, c in np.ndindex(*y.shape):
        p, q = divmod(want_arg[b][i][j][c], kw)
        r, col = i * kh + p - ph, j * kw + q - pw
        if 0 <= r < h and 0 <= col < h:
            want[b, r, col, c] += dy[b, i, j, c]
    assert np.array_equal(dx, want)


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
def test_divide_at_the_float_fast_path_bound(mode):
    from archsim.numerics.intops import FLOAT_DIVIDE_BOUND
    b = FLOAT_DIVIDE_BOUND
    values = [b - 1, -(b - 1), b - 2, b, -b, b + 1, 3 * (b // 4) + 1, -(3 * (b // 4)) - 1, 5, -5, 0]
    for d in (1, 2, 3, 7, 1000, b - 1, b, b + 3):
        got = nm.divide(np.array(values, dtype=np.int64), d, mode)
        assert got.tolist() == [ref.divide(v, d, mode) for v in values], d
    for d in (2, 6, 10):  # exact ties
        halves = [d // 2 + k * d for k in range(-4, 4)]
        assert nm.divide(np.array(halves), d, mode).tolist() == [ref.divide(v, d, mode) for v in halves]


# ---------- the whole int64 range (64-bit accumulators) ----------

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
INT64_EXTREMES = [INT64_MIN, INT64_MIN + 1, INT64_MIN + 2, -(1 << 62) - 1, -(1 << 62), -(1 << 62) + 1,
                  (1 << 62) - 1, 1 << 62, (1 << 62) + 1, INT64_MAX - 1, INT64_MAX, 0, 1, -1]
DIVISOR_EXTREMES = [2, 3, 7, (1 << 52) - 1, 1 << 52, (1 << 52) + 1, (1 << 62) - 1, 1 << 62, (1 << 62) + 1,
                    3 << 61, INT64_MAX - 1, INT64_MAX]


def int64s():
    """Any int64, with the extremes (and their neighbours) drawn often."""
    return st.one_of(st.sampled_from(INT64_EXTREMES), st.integers(INT64_MIN, INT64_MAX))


def int64_arrays():
    return hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=12), elements=int64s())


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
@given(x=int64_arrays(), shift=st.one_of(st.integers(1, 62), st.sampled_from([1, 2, 61, 62])))
def test_shift_right_is_exact_over_the_whole_int64_range(mode, x, shift):
    got = nm.shift_right(x, shift, mode)
    assert got.dtype == np.int64
    assert got.tolist() == np.vectorize(lambda v: ref.shift_right(int(v), shift, mode), otypes=[object])(x).tolist()


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
@given(x=int64_arrays(), divisor=st.one_of(st.integers(1, INT64_MAX), st.integers(1, 1000),
                                           st.sampled_from(DIVISOR_EXTREMES)))
def test_divide_is_exact_over_the_whole_int64_range(mode, x, divisor):
    got = nm.divide(x, divisor, mode)
    assert got.dtype == np.int64
    assert got.tolist() == np.vectorize(lambda v: ref.divide(int(v), divisor, mode), otypes=[object])(x).tolist()


@given(values=st.lists(int64s(), min_size=1, max_size=40), shift=st.one_of(st.integers(1, 62), st.sampled_from([1, 62])),
       bits=st.integers(1, 32), seed=st.integers(0, 1000))
def test_stochastic_shift_is_exact_over_the_whole_int64_range(values, shift, bits, seed):
    got = nm.shift_right_stochastic(np.array(values, dtype=np.int64), shift, nm.RandomBits(seed), bits)
    r = nm.RandomBits(seed).draw(len(values), bits).tolist()
    assert got.tolist() == [ref.stochastic_shift(v, shift, ri, bits) for v, ri in zip(values, r)]


@given(values=st.lists(int64s(), min_size=1, max_size=20), k=st.integers(0, 66))
def test_left_shift_is_exact_or_refused(values, k):
    x = np.array(values, dtype=np.int64)
    want = [v << k for v in values]
    for op in (lambda: nm.shift_right(x, -k), lambda: nm.shift_right_stochastic(x, -k, nm.RandomBits(0))):
        if all(INT64_MIN <= w <= INT64_MAX for w in want):
            assert op().tolist() == want
        else:
            with pytest.raises(nm.NumericsError, match="overflows 64-bit"):
                op()


# the cases of issue item 14: wrong signs at |x| >= 2^62 and at x = -2^63 (old code)
ISSUE_14_SHIFTS = [
    (INT64_MIN, 1, "toward_zero", -(1 << 62)),
    (INT64_MIN, 62, "toward_zero", -2),
    (INT64_MIN, 1, "half_away", -(1 << 62)),
    (INT64_MIN + 1, 1, "half_away", -(1 << 62)),
    (INT64_MAX, 1, "half_up", 1 << 62),
    (INT64_MAX, 62, "half_up", 2),
    (INT64_MAX, 1, "half_away", 1 << 62),
    (INT64_MAX, 5, "half_away", 1 << 58),
]
ISSUE_14_DIVIDES = [
    (INT64_MIN, 3, "toward_zero", -3074457345618258602),
    (INT64_MIN, (1 << 52) + 1, "toward_zero", -2047),
    (INT64_MIN, INT64_MAX, "toward_zero", -1),
    (INT64_MIN, 3, "half_up", -3074457345618258603),
    (1 << 62, 3, "half_up", 1537228672809129301),
    (INT64_MIN, INT64_MAX, "half_up", -1),
    (-(1 << 62), (1 << 52) + 1, "half_away", -1024),
    (INT64_MIN + 1, 3, "half_away", -3074457345618258602),
    (1 << 62, (1 << 62) + 1, "half_even", 1),
    (INT64_MIN, INT64_MAX, "half_even", -1),
    (-(1 << 62) + 1, INT64_MAX, "half_even", 0),
]


@pytest.mark.parametrize("x,shift,mode,want", ISSUE_14_SHIFTS)
def test_issue_14_shift_right_at_the_int64_extremes(x, shift, mode, want):
    assert ref.shift_right(x, shift, mode) == want
    assert nm.shift_right(np.array([x, -5, 5]), shift, mode).tolist() == [want] + [ref.shift_right(v, shift, mode)
                                                                                    for v in (-5, 5)]


@pytest.mark.parametrize("x,divisor,mode,want", ISSUE_14_DIVIDES)
def test_issue_14_divide_at_the_int64_extremes(x, divisor, mode, want):
    assert ref.divide(x, divisor, mode) == want
    assert nm.divide(np.array([x, -5, 5]), divisor, mode).tolist() == [want] + [ref.divide(v, divisor, mode)
                                                                                 for v in (-5, 5)]


@pytest.mark.parametrize("mode", nm.ROUNDING_MODES)
def test_every_extreme_by_every_extreme_shift_and_divisor(mode):
    x = np.array(INT64_EXTREMES, dtype=np.int64)
    for shift in (1, 2, 3, 31, 32, 52, 53, 61, 62):
        assert nm.shift_right(x, shift, mode).tolist() == [ref.shift_right(v, shift, mode) for v in INT64_EXTREMES]
    for d in DIVISOR_EXTREMES:
        assert nm.divide(x, d, mode).tolist() == [ref.divide(v, d, mode) for v in INT64_EXTREMES], d


def test_stochastic_shift_near_int64_max_does_not_wrap():
    x = np.full(64, INT64_MAX, dtype=np.int64)
    got = nm.shift_right_stochastic(x, 4, nm.RandomBits(5), bits=4)
    r = nm.RandomBits(5).draw(64, 4).tolist()
    assert any(r) and got.tolist() == [ref.stochastic_shift(INT64_MAX, 4, ri, 4) for ri in r]
    assert got.min() > 0


def test_what_cannot_be_exact_in_int64_is_refused():
    with pytest.raises(nm.NumericsError, match="at most 2\\^63 - 1"):
        nm.divide(np.array([1]), 1 << 63)
    with pytest.raises(nm.NumericsError, match="out of range"):
        nm.shift_right(np.array([1]), 63)
    with pytest.raises(nm.NumericsError, match="overflows 64-bit"):
        nm.shift_right(np.array([1 << 62]), -1)
    assert nm.shift_right(np.array([-(1 << 62), -1]), -1).tolist() == [INT64_MIN, -2]
    assert nm.shift_right(np.array([-1, 0]), -63).tolist() == [INT64_MIN, 0]
