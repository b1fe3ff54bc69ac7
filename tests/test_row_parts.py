"""A read of X in parts that threads take at once (``skgd._row_parts``).

- The parts cover every row once, in order, none empty, with about equal
  numbers of entries (CSR cuts follow the non-zeros, not the rows).
- ``map_parts`` returns each part's result in the parts' order.
- sgd's J read in three parts is the objective's own NumPy pass, dense and
  CSR, weighted (zero weights included) and over several targets.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import make_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import skgd._build
from skgd import GradientDescentRegressor, _row_parts
from skgd._algorithms import make_algorithm


@pytest.fixture
def three_cores(monkeypatch):
    monkeypatch.setattr(_row_parts, "_usable_cores", lambda: 3)
    monkeypatch.setattr(_row_parts, "MIN_PART_ENTRIES", 1)


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(1, 200), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_the_parts_cover_the_rows_in_order_with_equal_shares_of_the_entries(n_rows, density, seed):
    rng = np.random.default_rng(seed)
    nnz = rng.binomial(40, density, size=n_rows)
    nnz[rng.integers(n_rows)] += 500  # one long row
    indptr = np.concatenate(([0], np.cumsum(nnz)))
    saved = _row_parts._usable_cores, _row_parts.MIN_PART_ENTRIES
    _row_parts._usable_cores, _row_parts.MIN_PART_ENTRIES = (lambda: 3), 1
    try:
        for pointers in (None, indptr):
            entries = int(indptr[-1]) if pointers is not None else 40 * n_rows
            parts = _row_parts.row_parts(n_rows, entries, pointers)
            assert 1 <= len(parts) <= min(3, n_rows)
            assert [part.start for part in parts] == [0, *(part.stop for part in parts[:-1])]
            assert parts[-1].stop == n_rows and all(part.stop > part.start for part in parts)
            if pointers is None:
                sizes = [part.stop - part.start for part in parts]
                assert max(sizes) - min(sizes) <= 1
            else:
                # No part holds more than its share of the non-zeros and one row.
                wanted = min(3, entries, n_rows) if entries else 1
                held = [int(indptr[part.stop] - indptr[part.start]) for part in parts]
                assert max(held) <= entries / wanted + nnz.max()
    finally:
        _row_parts._usable_cores, _row_parts.MIN_PART_ENTRIES = saved


def test_a_small_read_is_one_part():
    assert _row_parts.row_parts(1000, _row_parts.MIN_PART_ENTRIES - 1) == [slice(0, 1000)]


def test_map_parts_returns_the_results_in_the_parts_order(three_cores):
    parts = _row_parts.row_parts(90, 90)
    assert len(parts) == 3
    assert _row_parts.map_parts(lambda part: (part.start, part.stop), parts) == [(0, 30), (30, 60), (60, 90)]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_sgd_j_in_parts_is_the_objectives_numpy_pass(monkeypatch, three_cores, sparse, n_targets):
    made = []

    def recording(*args, **kwargs):
        made.append(make_algorithm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(skgd._build, "make_algorithm", recording)
    X, Y = make_problem(n=301, d=5, n_targets=n_targets, seed=4)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.6, X, 0.0))
    weights = np.random.default_rng(1).uniform(0.0, 2.0, size=301)
    weights[::7] = 0.0
    reg = GradientDescentRegressor(solver="sgd", loss="huber", penalty="l2", alpha=0.1, max_iter=2, tol=None)
    reg.fit(X, Y, sample_weight=weights)
    (algorithm,) = made
    assert len(algorithm.rows.parts) == 3
    coef = np.random.default_rng(2).standard_normal((n_targets, 5))
    intercept = np.array([0.3, -1.0][:n_targets])
    np.testing.assert_allclose(
        algorithm.value(coef, intercept), algorithm.objective.value(coef, intercept), rtol=1e-13, atol=0
    )
