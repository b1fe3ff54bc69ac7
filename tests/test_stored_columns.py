"""Wide sparse data: a full-batch fit trains the columns X stores and leaves the others at zero.

Pinned to a tight fit with the restriction turned off (every column
trained): silent, and within 1e-4 of its objective; a column that starts
away from zero is trained; and the state the fit leaves has every column, so
``partial_fit`` continues it as it continues any fit.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import TEXTBOOK_LOSSES, targets_for
from sklearn.exceptions import ConvergenceWarning

import skgd._stored_columns
from skgd import GradientDescentRegressor
from skgd._penalty import Penalty


def _objective(reg, X, y):
    """J of a fitted model, from the documented loss and penalty."""
    params = reg.get_params()
    losses, _ = TEXTBOOK_LOSSES[reg.loss](X @ reg.coef_ + reg.intercept_, y, params)
    penalty = Penalty.from_params(reg.penalty, reg.alpha, reg.l1_ratio).value(reg.coef_[None, :])[0]
    return float(np.mean(losses) + penalty)


def _wide(n=400, d=4000, stored=120, nnz=2400, seed=0, fmt="csr"):
    """Rows storing entries of ``stored`` of ``d`` columns; targets linear in them plus noise."""
    rng = np.random.RandomState(seed)
    columns = rng.choice(d, stored, replace=False)
    X = sp.csr_matrix((rng.standard_normal(nnz) * 3.0, (rng.randint(0, n, nnz), rng.choice(columns, nnz))), (n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.3 * rng.standard_normal(n)
    return X.asformat(fmt), y


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(penalty="l1", alpha=1e-3),
        dict(penalty="elasticnet", alpha=1e-3, fit_intercept=False),
        dict(loss="huber"),
        dict(loss="poisson", penalty=None),
        dict(loss="quantile", quantile=0.7),
    ],
    ids=["l2", "l1", "elasticnet-no-b", "huber", "poisson", "quantile"],
)
def test_a_wide_fit_trains_the_stored_columns_to_the_full_optimum(params, fmt, monkeypatch):
    """Silent, zero on the unstored columns, and within the promised 1e-4 of the optimum every column gives."""
    X, y = _wide(fmt=fmt)
    y = targets_for(params.get("loss", "squared_error"), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = GradientDescentRegressor(solver="batch", random_state=0, **params).fit(X, y)
    with monkeypatch.context() as patch:
        patch.setattr(skgd._stored_columns, "STORED_SHARE", -1.0)
        tight = GradientDescentRegressor(solver="batch", random_state=0, tol=1e-9, max_iter=20_000, **params)
        tight.fit(X, y)
    unstored = np.diff(X.tocsc().indptr) == 0
    assert unstored.sum() > X.shape[1] / 2  # the restriction applies
    np.testing.assert_array_equal(ours.coef_[unstored], 0.0)
    value = _objective(ours, X, y)
    optimum = min(_objective(tight, X, y), value)
    assert value <= optimum + 1e-4 * abs(optimum)


def test_a_column_that_starts_away_from_zero_is_trained():
    X, y = _wide()
    start = np.zeros(X.shape[1])
    unstored = np.flatnonzero(np.diff(X.tocsc().indptr) == 0)[:3]
    start[unstored] = 1.0
    reg = GradientDescentRegressor(solver="batch", penalty="l2", alpha=0.1, tol=None, max_iter=20)
    reg.fit(X, y, coef_init=start)
    # The L2 penalty alone moves it, towards its optimum zero, the same way for each.
    moved = reg.coef_[unstored]
    assert np.all(moved != 0.0) and np.all(np.abs(moved) < 1e-3) and np.ptp(moved) < 1e-15


def test_partial_fit_continues_a_wide_fit_over_every_column():
    X, y = _wide()
    params = dict(solver="batch", tol=None, shuffle=False)
    continued = GradientDescentRegressor(max_iter=4, **params).fit(X, y)
    assert continued._state.coef.shape == (1, X.shape[1])
    continued.partial_fit(X, y)
    at_once = GradientDescentRegressor(max_iter=5, **params).fit(X, y)
    np.testing.assert_allclose(continued.coef_, at_once.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(continued.loss_curve_[-1], at_once.loss_curve_[-1], rtol=1e-12)
