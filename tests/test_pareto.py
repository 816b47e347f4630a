"""Pareto mask, DataFrame front and hypervolume against plain brute-force references."""
from __future__ import annotations

import importlib
import itertools
import math
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archsim.dse.pareto import hypervolume, hypervolume_of, pareto, pareto_mask

# ``archsim.dse`` re-exports the function ``pareto``, which shadows the module attribute.
pareto_module = importlib.import_module("archsim.dse.pareto")


# ----------------------------------------------------------------------------------------------
# brute-force references


def brute_mask(values, senses) -> list[bool]:
    """Double loop over rows with the dominance definition."""
    rows = [[v if s == "min" else -v for v, s in zip(row, senses)] for row in np.asarray(values, float).tolist()]
    ok = [not any(math.isnan(v) for v in row) for row in rows]

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [ok[i] and not any(ok[j] and dominates(rows[j], rows[i]) for j in range(len(rows)))
            for i in range(len(rows))]


def brute_mask_numpy(v: np.ndarray) -> np.ndarray:
    """The same definition, all pairs at once (minimisation, no NaN), for larger inputs."""
    le = np.all(v[:, None, :] <= v[None, :, :], axis=2)
    lt = np.any(v[:, None, :] < v[None, :, :], axis=2)
    return ~(le & lt).any(axis=0)


def cell_count_volume(points, senses, reference) -> int:
    """Dominated volume for integer points by counting unit cells: the cell with lower corner
    ``c`` is covered iff some point is <= c in every (minimised) objective and c < reference."""
    sign = [1 if s == "min" else -1 for s in senses]
    pts = [[v * g for v, g in zip(row, sign)] for row in points
           if not any(math.isnan(v) for v in row)]
    ref = [int(r * g) for r, g in zip(reference, sign)]
    if not pts:
        return 0
    lows = [int(min(p[j] for p in pts)) for j in range(len(ref))]
    count = 0
    for cell in itertools.product(*(range(lo, r) for lo, r in zip(lows, ref))):
        if any(all(p[j] <= cell[j] for j in range(len(ref))) for p in pts):
            count += 1
    return count


def inclusion_exclusion_volume(points, reference) -> float:
    """Union of boxes [p, reference] (minimisation) by inclusion-exclusion over subsets."""
    pts = [p for p in points if all(x < r for x, r in zip(p, reference))]
    total = 0.0
    for k in range(1, len(pts) + 1):
        for subset in itertools.combinations(pts, k):
            corner = [max(col) for col in zip(*subset)]
            total += (-1) ** (k + 1) * math.prod(r - c for r, c in zip(reference, corner))
    return total


# ----------------------------------------------------------------------------------------------
# strategies


@st.composite
def problems(draw, max_rows=25, min_objectives=1, max_objectives=4, nan=True):
    """Small integer-valued arrays (values 0..4: ties and duplicates are frequent), mixed senses,
    some NaN cells."""
    m = draw(st.integers(min_objectives, max_objectives))
    n = draw(st.integers(0, max_rows))
    values = np.array(draw(st.lists(st.lists(st.integers(0, 4), min_size=m, max_size=m),
                                    min_size=n, max_size=n)), dtype=float).reshape(n, m)
    if nan and n and draw(st.booleans()):
        for i, j in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), max_size=3)):
            values[i, j] = np.nan
    senses = draw(st.lists(st.sampled_from(["min", "max"]), min_size=m, max_size=m))
    return values, senses


def tuned(leaf: int, chunk: int):
    """Small leaf and block sizes so that tiny inputs go through every code path."""
    return mock.patch.multiple(pareto_module, _LEAF=leaf, _CHUNK=chunk)


# ----------------------------------------------------------------------------------------------
# pareto_mask


@given(problems(), st.integers(1, 6), st.integers(1, 6))
def test_mask_matches_brute_force(problem, leaf, chunk):
    values, senses = problem
    with tuned(leaf, chunk):
        mask = pareto_mask(values, senses)
    assert mask.dtype == bool and mask.shape == (len(values),)
    assert mask.tolist() == brute_mask(values, senses)


@given(problems(nan=False), st.randoms(use_true_random=False))
def test_mask_follows_a_permutation_of_rows(problem, rnd):
    values, senses = problem
    perm = list(range(len(values)))
    rnd.shuffle(perm)
    with tuned(2, 3):
        assert pareto_mask(values[perm], senses).tolist() == pareto_mask(values, senses)[perm].tolist()


@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("kind", ["int", "float", "all_front"])
def test_mask_larger_inputs(m, kind):
    rng = np.random.default_rng(m)
    n = 1500
    if kind == "int":
        v = rng.integers(0, 6, (n, m)).astype(float)
    elif kind == "float":
        v = rng.random((n, m))
    else:   # points on a simplex: none dominates another
        v = rng.random((n, m))
        v /= v.sum(axis=1, keepdims=True)
    senses = (["min", "max"] * m)[:m]
    sign = np.where(np.array(senses) == "min", 1.0, -1.0)
    v = v * sign   # in minimisation terms the simplex stays a simplex
    expected = brute_mask_numpy(v * sign)
    with tuned(8, 64):
        assert (pareto_mask(v, senses) == expected).all()
    assert (pareto_mask(v, senses) == expected).all()
    if kind == "all_front":
        assert expected.all()


def test_all_duplicates_are_all_on_the_front():
    v = np.tile([[1.0, 2.0, 3.0]], (7, 1))
    assert pareto_mask(v, ["min", "max", "min"]).all()
    v = np.vstack([v, [[0.0, 2.0, 3.0]]])   # now one row dominates the copies
    assert pareto_mask(v, ["min", "max", "min"]).tolist() == [False] * 7 + [True]


def test_duplicates_of_a_front_point_and_signed_zero():
    v = np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert pareto_mask(v, ["min", "min"]).tolist() == [True, True, True, False]


def test_single_row_and_empty():
    assert pareto_mask(np.array([[3.0, 1.0]]), ["min", "max"]).tolist() == [True]
    empty = pareto_mask(np.empty((0, 3)), ["min"] * 3)
    assert empty.shape == (0,) and empty.dtype == bool


def test_nan_rows_never_on_the_front_and_never_dominate():
    v = np.array([[np.nan, 0.0], [5.0, 5.0], [np.nan, np.nan]])
    assert pareto_mask(v, ["min", "min"]).tolist() == [False, True, False]
    assert not pareto_mask(np.full((4, 3), np.nan), ["min"] * 3).any()


def test_infinities_compare_as_numbers():
    v = np.array([[-np.inf, 5.0], [0.0, 0.0], [np.inf, -1.0], [np.inf, 0.0]])
    assert pareto_mask(v, ["min", "min"]).tolist() == [True, True, True, False]


@pytest.mark.parametrize("values, senses, message", [
    (np.zeros(3), ["min"], "2-D"),
    (np.zeros((3, 0)), [], "at least one objective"),
    (np.zeros((3, 2)), ["min"], "1 senses given for 2"),
    (np.zeros((3, 2)), ["min", "up"], "'up'"),
    (np.zeros((3, 1)), "min", "not the string"),
])
def test_mask_rejects_malformed_input(values, senses, message):
    with pytest.raises(ValueError, match=message):
        pareto_mask(values, senses)


# ----------------------------------------------------------------------------------------------
# pareto(DataFrame)


@given(problems(max_objectives=3))
def test_dataframe_front_keeps_index_and_order(problem):
    values, senses = problem
    names = [f"obj{j}" for j in range(values.shape[1])]
    index = [f"r{(7 * i) % 31}" for i in range(len(values))]   # not sorted
    df = pd.DataFrame(values, columns=names, index=index)
    df["label"] = [f"p{i}" for i in range(len(df))]
    front = pareto(df, minimize=[c for c, s in zip(names, senses) if s == "min"],
                   maximize=[c for c, s in zip(names, senses) if s == "max"])
    expected = df[np.array(brute_mask(values, senses), dtype=bool)]
    pd.testing.assert_frame_equal(front, expected)
    assert list(front.columns) == list(df.columns)


def test_dataframe_front_example():
    df = pd.DataFrame({"latency": [3.0, 1.0, 2.0, 1.0, 4.0], "accuracy": [0.9, 0.5, 0.9, 0.5, 0.95],
                       "name": list("abcde")}, index=[10, 5, 7, 1, 0])
    front = pareto(df, minimize="latency", maximize=["accuracy"])
    assert front.index.tolist() == [5, 7, 1, 0]
    assert front["name"].tolist() == ["b", "c", "d", "e"]


def test_dataframe_nullable_and_empty():
    df = pd.DataFrame({"a": pd.array([1, None, 0], dtype="Int64"), "b": [0.0, -5.0, 1.0]})
    assert pareto(df, minimize=["a", "b"]).index.tolist() == [0, 2]
    empty = pareto(df.iloc[:0], minimize=["a"], maximize=["b"])
    assert empty.empty and list(empty.columns) == ["a", "b"]


def test_dataframe_errors_name_the_column():
    df = pd.DataFrame({"lat": [1.0], "energy": [2.0], "name": ["x"]})
    with pytest.raises(ValueError, match="'power'"):
        pareto(df, minimize=["lat", "power"])
    with pytest.raises(ValueError, match="'acc'"):
        pareto(df, minimize=["lat"], maximize=["acc"])
    with pytest.raises(ValueError, match="no objective"):
        pareto(df)
    with pytest.raises(ValueError, match="'name' is not numeric"):
        pareto(df, minimize=["lat", "name"])
    with pytest.raises(ValueError, match="'lat' is both"):
        pareto(df, minimize=["lat"], maximize=["lat"])
    twice = pd.DataFrame([[1.0, 2.0]], columns=["lat", "lat"])
    with pytest.raises(ValueError, match="'lat' appears more than once"):
        pareto(twice, minimize=["lat"])


# ----------------------------------------------------------------------------------------------
# hypervolume


@st.composite
def hv_problems(draw, min_objectives=1, max_objectives=4):
    values, senses = draw(problems(max_rows=12, min_objectives=min_objectives, max_objectives=max_objectives))
    # Reference: sometimes not worse than every point, so some points contribute nothing.
    reference = [draw(st.integers(1, 5)) if s == "min" else draw(st.integers(-1, 3)) for s in senses]
    return values, senses, reference


@given(hv_problems())
def test_hypervolume_matches_unit_cell_count(problem):
    values, senses, reference = problem
    assert hypervolume(values, senses, reference) == cell_count_volume(values.tolist(), senses, reference)


@given(hv_problems(min_objectives=2))
def test_hypervolume_of_front_equals_that_of_all_points(problem):
    values, senses, reference = problem
    front = values[pareto_mask(values, senses)]
    assert hypervolume(front, senses, reference) == hypervolume(values, senses, reference)


@given(st.integers(2, 4).flatmap(lambda m: st.tuples(
    st.lists(st.lists(st.floats(0, 1), min_size=m, max_size=m), max_size=7),
    st.lists(st.floats(0.5, 1.5), min_size=m, max_size=m))))
def test_hypervolume_of_floats_matches_inclusion_exclusion(problem):
    points, reference = problem
    m = len(reference)
    values = np.array(points, dtype=float).reshape(len(points), m)
    expected = inclusion_exclusion_volume(points, reference)
    assert hypervolume(values, ["min"] * m, reference) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_hypervolume_examples():
    assert hypervolume([[1, 1]], ["min", "min"], [3, 3]) == 4.0
    assert hypervolume([[1, 2], [2, 1]], ["min", "min"], [3, 3]) == 3.0
    assert hypervolume([[1, 2], [2, 1]], ["max", "max"], [0, 0]) == 3.0
    assert hypervolume([[0, 0, 0], [np.nan, -9, -9]], ["min"] * 3, [2, 2, 2]) == 8.0
    assert hypervolume([[5, 5]], ["min", "min"], [3, 3]) == 0.0
    assert hypervolume(np.empty((0, 3)), ["min"] * 3, [1, 1, 1]) == 0.0
    assert hypervolume([[-np.inf, 0]], ["min", "min"], [1, 1]) == math.inf


def test_hypervolume_3d_large_front_is_close_to_the_sphere_octant():
    rng = np.random.default_rng(0)
    u = np.abs(rng.normal(size=(20_000, 3)))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    # points on the unit sphere, maximised, reference at the origin: volume -> pi/6 from below
    volume = hypervolume(u, ["max"] * 3, [0, 0, 0])
    assert math.pi / 6 * 0.99 < volume < math.pi / 6


@pytest.mark.parametrize("reference, message", [([1.0], "1 entries for 2"), ([1.0, np.inf], "finite"),
                                                ([np.nan, 1.0], "finite")])
def test_hypervolume_rejects_bad_reference(reference, message):
    with pytest.raises(ValueError, match=message):
        hypervolume([[0.0, 0.0]], ["min", "min"], reference)


def test_hypervolume_of_dataframe():
    df = pd.DataFrame({"lat": [1.0, 2.0, 3.0], "acc": [0.5, 0.8, 0.7], "tag": list("xyz")})
    expected = hypervolume(df[["lat", "acc"]].to_numpy(), ["min", "max"], [4.0, 0.0])
    assert hypervolume_of(df, minimize=["lat"], maximize=["acc"], reference={"lat": 4.0, "acc": 0.0}) == expected
    assert expected == pytest.approx(3 * 0.5 + 2 * 0.3)
    with pytest.raises(ValueError, match="'acc'"):
        hypervolume_of(df, ["lat"], ["acc"], {"lat": 4.0})
    with pytest.raises(ValueError, match="'energy'"):
        hypervolume_of(df, ["lat"], ["acc"], {"lat": 4.0, "acc": 0.0, "energy": 1.0})
    with pytest.raises(ValueError, match="'power'"):
        hypervolume_of(df, ["power"], reference={"power": 1.0})
    with pytest.raises(ValueError, match="reference is required"):
        hypervolume_of(df, ["lat"])
