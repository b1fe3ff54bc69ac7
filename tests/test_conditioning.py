"""learning_rate="auto" on raw data: the same objective in better coordinates.

Features in their own units (offsets, scales from 1e-3 to 1e4, sparse columns
of very different norms) are fitted as well as least squares, Lasso and Ridge
fit them, quietly, and the result does not depend on the units of y.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, Ridge

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
