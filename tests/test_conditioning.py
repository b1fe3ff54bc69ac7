"""learning_rate="auto" on raw data: the same objective in better coordinates.

Features in their own units (offsets, scales from 1e-3 to 1e4, sparse columns
of very different norms) are fitted as well as least squares, Lasso and Ridge
fit them, quietly, and the result does not depend on the units of y. Sparse
rows keep their zeros under sgd (scaled, not centred) and reach what their
dense copy reaches.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, PoissonRegressor, QuantileRegressor, Ridge

from skgd import GradientDescentRegressor

pytestmark = pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")


def least_squares(X, y, sample_weight=None):
    """The least-squares MSE by numpy.linalg.lstsq on centred data (weighted)."""
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    root = np.sqrt(s / s.sum())
    Xc, yc = X - s @ X / s.sum(), y - s @ y / s.sum()
    w = np.linalg.lstsq(Xc * root[:, None], yc * root, rcond=None)[0]
    return float(s @ (Xc @ w - yc) ** 2 / s.sum())


def raw_units(n=5000, seed=0):
    """The issue's repro, with noise: columns at scales 1, 1e2, 1e4, one offset by 3e4."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3))
    X = Z * [1, 1e2, 1e4] + [0, 0, 3e4]
    return X, Z @ [1.0, 1.0, 1.0] + 2 + 0.1 * rng.normal(size=n)


DATASETS = {
    "raw units": raw_units(),
    "diabetes": load_diabetes(return_X_y=True),
    "diabetes, raw": load_diabetes(return_X_y=True, scaled=False),
    "friedman1": make_friedman1(n_samples=2000, random_state=0),
}


@pytest.mark.parametrize("name", list(DATASETS))
def test_default_batch_fit_is_least_squares_and_quiet(name):
    X, y = DATASETS[name]
    reg = GradientDescentRegressor().fit(X, y)
    mse = np.mean((reg.predict(X) - y) ** 2)
    assert mse <= (1 + 1e-6) * least_squares(X, y)
    assert reg.stop_reason_ == "converged" and reg.n_iter_ < reg.max_iter


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_sparse_columns_of_very_different_norms(fmt):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 6)) * np.logspace(-3, 4, 6)
    X[rng.rand(3000, 6) < 0.7] = 0.0
    y = X @ (1.0 / np.logspace(-3, 4, 6)) + 0.1 * rng.standard_normal(3000)
    reg = GradientDescentRegressor().fit(sp.csr_matrix(X) if fmt == "csr" else X, y)
    assert np.mean((reg.predict(X) - y) ** 2) <= (1 + 1e-6) * least_squares(X, y)


def sparse_raw(loss="squared_error", n=2000, seed=0, dtype=np.float64):
    """Sparse raw columns (half their entries stored, entries at scales 1e-3 to 1e4) and targets for ``loss``."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(-3, 4, 5)
    X = sp.random(n, 5, density=0.5, format="csr", random_state=rng)
    X = sp.csr_matrix(X @ sp.diags(scales))
    linear = np.asarray(X @ (rng.standard_normal(5) / scales)).ravel() + 0.5
    if loss == "poisson":
        y = rng.poisson(np.exp(linear / (2 * linear.std()))).astype(float)
    else:
        y = linear + 0.3 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def _sgd_optimum(loss, X, y, fit_intercept):
    """The independent optimum of J for ``loss``: lstsq, HiGHS's quantile LP, Newton's Poisson GLM, L-BFGS."""
    A = X.toarray().astype(np.float64)
    mean, std = A.mean(axis=0), A.std(axis=0)
    Z = (A - mean) / std if fit_intercept else A / std
    if loss == "squared_error":
        design = np.column_stack([Z, np.ones(len(y))]) if fit_intercept else Z
        return float(np.mean((design @ np.linalg.lstsq(design, y, rcond=None)[0] - y) ** 2))
    if loss == "quantile":
        peer = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs", fit_intercept=fit_intercept).fit(Z, y)
        return float(np.mean(0.5 * np.abs(peer.predict(Z) - y)))
    if loss == "poisson":
        peer = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12, fit_intercept=fit_intercept)
        mu = peer.fit(Z, y).predict(Z)
        return float(np.mean(2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu)))
    # huber at epsilon = 0.1: smooth, so L-BFGS on the standardised columns
    design = np.column_stack([Z, np.ones(len(y))]) if fit_intercept else Z

    def huber(v):
        r = design @ v - y
        inside = np.abs(r) <= 0.1
        value = np.where(inside, r * r, 0.2 * np.abs(r) - 0.01)
        return value.mean(), design.T @ np.where(inside, 2 * r, 0.2 * np.sign(r)) / len(y)

    start = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(minimize(huber, start, jac=True, method="L-BFGS-B", options=dict(gtol=1e-13, ftol=1e-16)).fun)


def _mean_loss(loss, reg, X, y):
    """J of a fitted model without a penalty, from its predictions (the mean for poisson)."""
    p = reg.predict(X)
    r = p - y
    if loss == "squared_error":
        return float(np.mean(r * r))
    if loss == "quantile":
        return float(np.mean(0.5 * np.abs(r)))
    if loss == "poisson":
        return float(np.mean(2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / p), 0.0) - y + p)))
    return float(np.mean(np.where(np.abs(r) <= 0.1, r * r, 0.2 * np.abs(r) - 0.01)))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared_error", "huber", "quantile", "poisson"])
def test_sgd_on_sparse_raw_columns_is_as_good_as_on_the_dense_copy(loss, fit_intercept):
    """Scaled (uncentred) steps on CSR rows: quiet default fits within 1e-4 of the optimum, like the dense copy's.

    Before, CSR rows were stepped in the user's coordinates and these fits
    ended quietly 2 to 13 times above the optimum.
    """
    X, y = sparse_raw(loss)
    optimum = _sgd_optimum(loss, X, y, fit_intercept)
    params = dict(solver="sgd", loss=loss, epsilon=0.1, fit_intercept=fit_intercept, random_state=0)
    for rows in (X, X.toarray()):
        reg = GradientDescentRegressor(**params).fit(rows, y)
        assert reg.stop_reason_ == "converged"
        assert _mean_loss(loss, reg, X, y) <= (1 + 1e-4) * optimum


def test_sgd_on_the_issues_sparse_repro_lands_on_least_squares():
    X = (sp.random(2000, 3, density=0.5, random_state=0, format="csr") @ sp.diags([1e-2, 1.0, 1e2])).tocsr()
    y = np.asarray(X @ [100.0, 1.0, 0.01]).ravel() + 0.1 * np.random.default_rng(0).normal(size=2000)
    reg = GradientDescentRegressor(solver="sgd", random_state=0).fit(X, y)
    assert np.mean((reg.predict(X) - y) ** 2) <= (1 + 1e-4) * least_squares(X.toarray(), y)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("penalty", ["l1", "l2", "elasticnet"])
def test_penalised_sgd_on_sparse_raw_columns_lands_on_the_peers_objective(penalty, fit_intercept):
    """The penalty stays the user's in the scaled coordinates: ElasticNet's objective (Lasso's zeros) to 1e-4."""
    X, y = sparse_raw()
    alpha, rho = 1e-2, dict(l1=1.0, l2=0.0, elasticnet=0.15)[penalty]
    reg = GradientDescentRegressor(
        solver="sgd", penalty=penalty, alpha=alpha, fit_intercept=fit_intercept, random_state=0
    )
    reg.fit(X, y)
    A = X.toarray()
    if penalty == "l2":
        peer = Ridge(alpha=len(y) * alpha / 2, solver="cholesky", fit_intercept=fit_intercept).fit(A, y)
    else:
        peer = ElasticNet(alpha=alpha / 2, l1_ratio=rho, fit_intercept=fit_intercept, tol=1e-13, max_iter=100_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # CD's own gap stops just above its 1e-13
            peer.fit(A, y)

    def J(model):
        w = model.coef_
        return np.mean((model.predict(A) - y) ** 2) + alpha * (rho * np.abs(w).sum() + (1 - rho) / 2 * w @ w)

    assert J(reg) <= (1 + 1e-4) * J(peer)
    if penalty == "l1":
        np.testing.assert_array_equal(reg.coef_ == 0.0, peer.coef_ == 0.0)


def test_without_an_intercept_sparse_and_dense_copies_take_the_same_steps():
    """Neither centres without an intercept: the CSR loop's scaled rows are the dense loop's conditioned ones.

    Their L2 shrinks and momentum (caught up lazily on CSR rows) are the same
    steps; the cumulative L1 penalty is not (CSR rows apply it to the stored
    columns only, dense rows to all).
    """
    X, y = sparse_raw(n=500)
    params = dict(solver="sgd", fit_intercept=False, penalty="l2", alpha=1e-2, momentum=0.5, average=100)
    params |= dict(tol=None, max_iter=4, random_state=0)
    sparse = GradientDescentRegressor(**params).fit(X, y)
    dense = GradientDescentRegressor(**params).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9)


def test_partial_fit_continues_sparse_in_the_scaled_coordinates():
    """k sparse partial_fit calls are fit(max_iter=k, tol=None); a dense copy may continue a sparse start."""
    X, y = sparse_raw(n=500)
    # tol=None: with a tol, sgd partial_fit calls under the adaptive schedule are an averaging stream.
    params = dict(solver="sgd", shuffle=False, penalty="l2", alpha=1e-3, momentum=0.3, tol=None)
    stream = GradientDescentRegressor(**params)
    for _ in range(3):
        stream.partial_fit(X, y)
    whole = GradientDescentRegressor(**params, max_iter=3).fit(X, y)
    np.testing.assert_allclose(stream.coef_, whole.coef_, rtol=1e-10)
    assert stream.intercept_ == pytest.approx(whole.intercept_, rel=1e-10)
    stream.partial_fit(X.toarray(), y)  # uncentred coordinates suit dense rows too
    whole.partial_fit(X, y)
    np.testing.assert_allclose(stream.coef_, whole.coef_, rtol=1e-9)


def test_a_dense_centred_start_refuses_sparse_continuation_clearly():
    X, y = sparse_raw(n=200)
    reg = GradientDescentRegressor(solver="sgd").partial_fit(X.toarray(), y)
    before = reg.coef_.copy()
    with pytest.raises(ValueError, match="sparse X with solver='sgd' after dense X with an intercept"):
        reg.partial_fit(X, y)
    np.testing.assert_array_equal(reg.coef_, before)


def test_float32_sparse_sgd_stays_float32_and_reaches_the_optimum():
    X, y = sparse_raw(dtype=np.float32)
    reg = GradientDescentRegressor(solver="sgd", random_state=0).fit(X, y)
    assert reg.coef_.dtype == np.float32
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    assert np.mean((reg.predict(X64) - y64) ** 2) <= (1 + 1e-4) * least_squares(X64.toarray(), y64)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_penalties_on_raw_data_land_on_lasso_and_ridge_with_the_same_zeros(penalty):
    X, y = raw_units(n=2000)
    X = np.column_stack([X, np.random.RandomState(1).standard_normal(2000) * 50.0])  # a useless column
    alpha = 0.05
    reg = GradientDescentRegressor(penalty=penalty, alpha=alpha, tol=1e-7, max_iter=20000).fit(X, y)
    if penalty == "l1":
        peer = Lasso(alpha=alpha / 2, tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_array_equal(reg.coef_ == 0.0, peer.coef_ == 0.0)
        assert (reg.coef_ == 0.0).any()
    else:
        peer = Ridge(alpha=len(y) * alpha / 2, solver="cholesky").fit(X, y)
    np.testing.assert_allclose(reg.coef_, peer.coef_, rtol=1e-4, atol=1e-9)
    assert reg.intercept_ == pytest.approx(peer.intercept_, rel=1e-6)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_multiplying_y_changes_neither_the_epochs_nor_the_shape_of_the_model(solver):
    X, y = DATASETS["diabetes"]
    params = dict(solver=solver, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = GradientDescentRegressor(**params).fit(X, y)
        large = GradientDescentRegressor(**params).fit(X, y * 1e4)
    assert abs(large.n_iter_ - small.n_iter_) <= 1
    np.testing.assert_allclose(large.coef_, small.coef_ * 1e4, rtol=1e-6)
    assert large.intercept_ == pytest.approx(small.intercept_ * 1e4, rel=1e-6)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(30, 400),
    st.integers(1, 8),
    st.sampled_from([None, "l2"]),
    st.booleans(),
)
def test_a_silent_fit_is_within_1e_4_of_the_optimum(seed, n, d, penalty, weighted):
    # Random raw problems: columns at scales 1e-3..1e4, random offsets, noise.
    rng = np.random.RandomState(seed)
    scales = 10.0 ** rng.uniform(-3, 4, d)
    X = (rng.standard_normal((n, d)) + rng.choice([0.0, 5.0, -30.0], d)) * scales
    y = X @ (rng.standard_normal(d) / scales) + rng.standard_normal(n)
    s = rng.uniform(0.2, 3.0, n) if weighted else None
    alpha = 1e-2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        reg = GradientDescentRegressor(penalty=penalty, alpha=alpha).fit(X, y, sample_weight=s)
    if caught:
        return  # a fit that says it did not converge promises nothing
    weights = np.ones(n) if s is None else s
    J = float(weights @ (reg.predict(X) - y) ** 2 / weights.sum())
    if penalty is None:
        optimum = least_squares(X, y, s)
    else:
        J += alpha / 2 * float(reg.coef_ @ reg.coef_)
        ridge = Ridge(alpha=weights.sum() * alpha / 2, solver="cholesky", tol=1e-12).fit(X, y, sample_weight=s)
        optimum = float(weights @ (ridge.predict(X) - y) ** 2 / weights.sum()) + alpha / 2 * ridge.coef_ @ ridge.coef_
    assert J <= (1 + 1e-4) * optimum
