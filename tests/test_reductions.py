"""Sums over rows, block by block, against the same sums written out whole.

- ``row_blocks`` covers every row once, within its size bounds.
- ``loss_gradient_sums`` equals the loss and gradient written from the losses'
  textbook piecewise forms over the whole array, whatever the blocks.
- ``SufficientStatistics.of`` equals ``X^T S X``, ``X^T S y``... formed whole in
  float64, also for float32 X and CSR X.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import LOSS_PARAMS, TEXTBOOK_LOSSES, make_problem, make_weights, targets_for

from skgd._loss import LOSSES, make_loss
from skgd._moments import ColumnMoments, SufficientStatistics
from skgd._reductions import (
    MIN_BLOCK_ROWS,
    loss_gradient_sums,
    row_blocks,
    rows_of,
)

EPSILON = 0.7


@pytest.mark.parametrize("n", [0, 1, 255, 256, 1000, 70_001])
@pytest.mark.parametrize("d", [1, 40, 3000])
@pytest.mark.parametrize("min_blocks", [1, 64])
def test_row_blocks_cover_every_row_once_within_bounds(n, d, min_blocks):
    X = np.broadcast_to(np.empty(()), (n, d))  # row_blocks reads only the shape
    elements = 1 << 17
    blocks = row_blocks(X, np, elements, min_blocks=min_blocks)
    covered = np.concatenate([np.arange(n)[b] for b in blocks]) if blocks else np.arange(0)
    np.testing.assert_array_equal(covered, np.arange(n))
    largest = max(MIN_BLOCK_ROWS, min(elements // d, -(-n // min_blocks)))
    assert all(b.stop - b.start <= largest for b in blocks)


def test_a_csr_block_shares_the_arrays_of_x():
    # A pass reads X in place: a block copied would cost more than the pass.
    X = sp.random(1000, 300, density=0.05, format="csr", random_state=0)
    block = rows_of(X, slice(100, 180))
    assert np.shares_memory(block.data, X.data) and np.shares_memory(block.indices, X.indices)
    np.testing.assert_array_equal(block.toarray(), X[100:180].toarray())


def test_row_blocks_of_csr_count_its_non_zeros():
    n = 100_000
    indices = np.random.RandomState(0).randint(0, 10_000, 10 * n).astype(np.int32)
    X = sp.csr_matrix((np.ones(10 * n), indices, np.arange(0, 10 * n + 1, 10)), shape=(n, 10_000))
    blocks = row_blocks(X, np, 1 << 17)
    # 10 non-zeros a row: 13,107 rows a block, not the 256 that 10,000 columns would give.
    assert blocks[0].stop == (1 << 17) // 10 and len(blocks) == 8
    # A pass that densifies its blocks counts the columns.
    assert row_blocks(X, np, 1 << 17, per_row=X.shape[1])[0].stop == MIN_BLOCK_ROWS


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("fmt", ["dense", "csr", "float32"])
def test_loss_gradient_sums_equal_the_whole_array_formulas(name, fmt, row_block_size):
    X, Y = make_problem(n=60, d=5, n_targets=2, density=0.7, noise=2.0)
    Y = targets_for(name, Y)
    s = make_weights(60, low=0.0)
    rng = np.random.RandomState(1)
    coef, intercept = rng.standard_normal((2, 5)), rng.standard_normal(2)
    params = {**LOSS_PARAMS, "epsilon": EPSILON}
    value, derivative = TEXTBOOK_LOSSES[name](X @ coef.T + intercept, Y, params)
    Xin = {"dense": X, "csr": sp.csr_matrix(X), "float32": X.astype(np.float32)}[fmt]
    dtype = np.float32 if fmt == "float32" else np.float64
    got = loss_gradient_sums(make_loss(name, **params), Xin, Y.astype(dtype), s.astype(dtype), coef, intercept)
    rtol = 1e-5 if fmt == "float32" else 1e-12
    np.testing.assert_allclose(got[0], s @ value, rtol=rtol)
    np.testing.assert_allclose(got[1], (s[:, None] * derivative).T @ X, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got[2], s @ derivative, rtol=rtol, atol=rtol)
    assert all(part.dtype == np.float64 for part in got)


@pytest.mark.parametrize("fmt", ["dense", "csr", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sufficient_statistics_equal_the_products_formed_whole(fmt, weighted, row_block_size):
    X, Y = make_problem(n=50, d=5, n_targets=2, density=0.7, noise=2.0)
    s = make_weights(50, low=0.0)
    s = s if weighted else np.ones(50)
    Xin = {"dense": X, "csr": sp.csr_matrix(X), "float32": X.astype(np.float32)}[fmt]
    dtype = np.float32 if fmt == "float32" else np.float64
    Yin, sin = Y.astype(dtype), s.astype(dtype)
    stats = SufficientStatistics.of(Xin, Yin, sin)
    X64 = (Xin.toarray() if sp.issparse(Xin) else Xin).astype(np.float64)
    Y64, s64 = Yin.astype(np.float64), sin.astype(np.float64)
    mean_x, mean_y = s64 @ X64 / s64.sum(), s64 @ Y64 / s64.sum()
    Xc, Yc = X64 - mean_x, Y64 - mean_y
    expected = (
        s64.sum(),
        mean_x,
        mean_y,
        Xc.T @ (s64[:, None] * Xc),
        Xc.T @ (s64[:, None] * Yc),
        s64 @ Yc**2,
    )
    names = ("weight_sum", "mean_x", "mean_y", "scatter_xx", "scatter_xy", "scatter_yy")
    for name, want in zip(names, expected, strict=True):
        got = getattr(stats, name)
        assert np.asarray(got).dtype == np.float64, name
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12, err_msg=name)
    moments = ColumnMoments.of(Xin, sin)
    np.testing.assert_allclose(moments.mean, mean_x, rtol=1e-12)
    np.testing.assert_allclose(moments.squares, np.diag(expected[3]), rtol=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1.5, 2.0])
def test_statistics_of_raw_and_centred_blocks_keep_full_precision(offset):
    # Unit weights on float64 X read blocks in place while a column's mean
    # takes at most MEAN_SHARE of its raw second moment (offsets 0 and 1.5 on
    # a unit spread) and centre a copy beyond it (2): either way the
    # scatters match the centred products formed whole in extended precision.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20_000, 3)) * [1.0, 2.0, 0.5] + offset * np.array([1.0, 2.0, 0.5])
    Y = X @ np.ones((3, 1)) + rng.standard_normal((20_000, 1))
    stats = SufficientStatistics.of(X, Y, np.ones(20_000))
    Xl, Yl = X.astype(np.longdouble), Y.astype(np.longdouble)
    Xc, Yc = Xl - Xl.mean(axis=0), Yl - Yl.mean(axis=0)
    scatter_xx, scatter_xy = Xc.T @ Xc, Xc.T @ Yc
    scale = float(np.max(np.diag(scatter_xx)))
    np.testing.assert_allclose(stats.scatter_xx, scatter_xx.astype(np.float64), rtol=0, atol=1e-14 * scale)
    np.testing.assert_allclose(stats.scatter_xy, scatter_xy.astype(np.float64), rtol=0, atol=1e-14 * scale)
    np.testing.assert_allclose(stats.mean_x, Xl.mean(axis=0).astype(np.float64), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("far_from", [None, 0.1, 0.5])
def test_statistics_keep_full_precision_read_in_place_or_centred(far_from, row_block_size, monkeypatch):
    # Blocks are read in place until one has a column whose mean takes more
    # than MEAN_SHARE of its raw second moment (the rows from ``far_from``
    # on, offset by 1e3: from half-way the whole pass's share stays below
    # 1/2, so the bound is each block's); then every block is centred. The
    # columns' means take a fifth of their raw second moments, the targets
    # sit at 1e6 on a unit spread and their block means drift by 1e2 (sorted
    # data). Either way the scatters match the centred products formed
    # whole in extended precision.
    import skgd._moments

    added = []
    add = skgd._moments._RawSums.add
    monkeypatch.setattr(skgd._moments._RawSums, "add", lambda self, X, Y: added.append(add(self, X, Y)) or added[-1])
    rng = np.random.RandomState(1)
    n = 20_000
    X = (rng.standard_normal((n, 3)) + 0.5) * [1.0, 3.0, 0.1]
    if far_from is not None:
        X[int(far_from * n) :] += 1e3
    Y = X @ np.ones((3, 2)) + 1e6 + np.linspace(0.0, 1e2, n)[:, None] + rng.standard_normal((n, 2))
    stats = SufficientStatistics.of(X, Y, np.ones(n))
    if far_from is not None:
        assert added[0] and not added[-1], "a block far from zero was summed in place"
    elif row_block_size == "blocks as sized":
        assert all(added)
    Xl, Yl = X.astype(np.longdouble), Y.astype(np.longdouble)
    Xc, Yc = Xl - Xl.mean(axis=0), Yl - Yl.mean(axis=0)
    sxx, syy = np.diag(Xc.T @ Xc).astype(np.float64), (Yc * Yc).sum(axis=0).astype(np.float64)
    # Each entry to 1e-13 of its Cauchy-Schwarz bound, the scale its cancellation is measured on; with
    # the targets at 1e6, 1e-12 for their products and 1e-9 for their own scatter (Chan's merge of
    # the means of thousands of 7-row blocks, as centred blocks have always given).
    for name, want, scale, tolerance in (
        ("scatter_xx", Xc.T @ Xc, np.sqrt(sxx[:, None] * sxx[None, :]), 1e-13),
        ("scatter_xy", Xc.T @ Yc, np.sqrt(sxx[:, None] * syy[None, :]), 1e-12),
        ("scatter_yy", (Yc * Yc).sum(axis=0), syy, 1e-9),
    ):
        error = np.abs(getattr(stats, name) - want.astype(np.float64)) / scale
        assert np.max(error) <= tolerance, (name, float(np.max(error)))
    np.testing.assert_allclose(stats.mean_y, Yl.mean(axis=0).astype(np.float64), rtol=1e-14)


@pytest.mark.parametrize("columns", ["in place", "with a constant column"])
def test_column_moments_keep_their_spread_summed_in_place_or_centred(columns, row_block_size):
    # Float64 blocks of unit weights are summed as they lie while each
    # column's mean takes at most MOMENTS_SHARE of its raw second moment
    # (offsets of 3 and 1 on spreads of 1 and 3e-3: the latter loses 17
    # bits); a constant column is centred, so its spread is rounding's in
    # its mean (1e-30 of its raw second moment, not the 1e-16 raw sums give).
    rng = np.random.RandomState(2)
    n = 5000
    X = rng.standard_normal((n, 3)) * [1.0, 1.0, 3e-3] + [0.0, 3.0, 1.0]
    if columns == "with a constant column":
        X = np.column_stack([X, np.full(n, np.pi)])
    moments = ColumnMoments.of(X, np.ones(n))
    Xl = X.astype(np.longdouble)
    expected = ((Xl - Xl.mean(axis=0)) ** 2).sum(axis=0).astype(np.float64)
    np.testing.assert_allclose(moments.squares[:3], expected[:3], rtol=1e-9)
    np.testing.assert_allclose(moments.mean, Xl.mean(axis=0).astype(np.float64), rtol=1e-14)
    assert np.all(moments.squares[3:] <= 1e-24 * n * np.pi**2)


def test_moments_of_a_column_whose_raw_squares_overflow_are_centred():
    # 1e155 squared, summed over rows, passes float64's largest number;
    # centred first, the column's spread (1e150 a row) does not.
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.standard_normal(1000), 1e155 + 1e150 * rng.standard_normal(1000)])
    moments = ColumnMoments.of(X, np.ones(1000))
    Xc = X - X.mean(axis=0)
    np.testing.assert_allclose(moments.squares, (Xc**2).sum(axis=0), rtol=1e-6)


def test_statistics_of_columns_far_from_zero_keep_their_spread():
    # An offset of 1e8 on a unit spread: raw sums would lose the spread to
    # cancellation (1e16 - 1e16, all digits); centred blocks merged by Chan's
    # update keep it to the 1e-8 that storing 1e8 + x already costs.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 2)) + [1e8, -1e8]
    y = X[:, :1] - 1e8
    s = np.ones(1000)
    stats = SufficientStatistics.of(X, y, s)
    Xc = X - X.mean(axis=0)
    np.testing.assert_allclose(stats.scatter_xx, Xc.T @ Xc, rtol=1e-6)
    np.testing.assert_allclose(ColumnMoments.of(X, s).squares, (Xc**2).sum(axis=0), rtol=1e-6)
