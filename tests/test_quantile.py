"""The quantile (pinball) loss against scikit-learn's QuantileRegressor, on raw data.

- Batch fits (FISTA on the loss's smoothing, continued as the step shrinks)
  reach QuantileRegressor's objective to 1e-4 (relative), with and without an
  intercept, with weights, and with an L1 penalty (whose ``alpha`` is the
  same in both); sgd to 1e-2, averaged or not; held-out coverage is ``q``.
- The smoothed slope is the derivative of the pinball loss's Moreau envelope,
  found here by brute force.
- Scale-free: y times c gives coefficients times c in the same epochs (batch, sgd, mini-batches).
"""

import numpy as np
import pytest
from sklearn.linear_model import QuantileRegressor

from skgd import GradientDescentRegressor
from skgd._loss import make_loss


def _raw_problem(n, seed=0, d=4, offsets=True):
    """Columns at scales 1e-2..1e2 with offsets, heteroscedastic noise (the spread grows with column 0)."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(-2, 2, d)
    X = rng.standard_normal((n, d)) * scales + (rng.uniform(-50, 50, d) if offsets else 0.0)
    w = rng.standard_normal(d) / scales
    y = X @ w + 30.0 + (1.0 + np.abs(X[:, 0] - X[:, 0].mean()) / scales[0]) * rng.standard_normal(n)
    return X, y


def _pinball(y, prediction, q, sample_weight=None):
    u = y - prediction
    return np.average(np.maximum(q * u, (q - 1) * u), weights=sample_weight)


def _objective(est, X, y, q, alpha=0.0, sample_weight=None):
    return _pinball(y, est.predict(X), q, sample_weight) + alpha * np.abs(est.coef_).sum()


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_batch_reaches_quantileregressors_objective(q, fit_intercept):
    # Without an intercept, columns far from zero are nearly collinear (nothing centres them): not tested here.
    X, y = _raw_problem(1500, offsets=fit_intercept)
    peer = QuantileRegressor(quantile=q, alpha=0.0, solver="highs", fit_intercept=fit_intercept).fit(X, y)
    est = GradientDescentRegressor(loss="quantile", quantile=q, fit_intercept=fit_intercept).fit(X, y)
    assert est.stop_reason_ == "converged"
    assert _objective(est, X, y, q) <= _objective(peer, X, y, q) * (1 + 1e-4)
    # J, in the pinball loss itself, at each step's starting point: the last step (a jump to the LP's
    # certified vertex) ends no higher, and the curve falls to it.
    assert _objective(est, X, y, q) <= est.loss_curve_[-1] * (1 + 1e-12)
    assert np.all(np.diff(est.loss_curve_) <= 1e-12 * est.loss_curve_[0])


def test_batch_l1_reaches_quantileregressors_objective_with_weights():
    X, y = _raw_problem(1200, seed=1)
    s = np.random.RandomState(2).uniform(0.2, 3.0, y.size)
    q, alpha = 0.7, 0.05
    peer = QuantileRegressor(quantile=q, alpha=alpha, solver="highs").fit(X, y, sample_weight=s)
    est = GradientDescentRegressor(loss="quantile", quantile=q, penalty="l1", alpha=alpha).fit(X, y, sample_weight=s)
    ours, theirs = _objective(est, X, y, q, alpha, s), _objective(peer, X, y, q, alpha, s)
    assert ours <= theirs * (1 + 1e-4)


@pytest.mark.parametrize("params", [dict(), dict(average=True), dict(average=True, batch_size=32)])
def test_sgd_reaches_quantileregressor_within_a_percent_and_covers_q(params):
    X, y = _raw_problem(6000, seed=3)
    X_test, y_test = X[4000:], y[4000:]
    X, y = X[:4000], y[:4000]
    for q in (0.1, 0.9):
        peer = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y)
        est = GradientDescentRegressor(solver="sgd", loss="quantile", quantile=q, random_state=0, **params)
        est.fit(X, y)
        assert est.stop_reason_ == "converged"
        assert _objective(est, X, y, q) <= _objective(peer, X, y, q) * (1 + 1e-2)
        assert abs(np.mean(y_test <= est.predict(X_test)) - q) <= 0.02


def test_the_smoothed_slope_is_the_moreau_envelopes_derivative():
    q, width = 0.3, 0.7
    r = np.linspace(-2.0, 2.0, 81)
    v = np.linspace(-4.0, 4.0, 160_001)  # brute-force the envelope min_v pinball(v) + (r - v)**2 / (2 width)
    pinball = np.maximum((1 - q) * v, -q * v)

    def envelope(x):
        return np.array([np.min(pinball + (xi - v) ** 2 / (2 * width)) for xi in x])

    h = 1e-4
    slope = (envelope(r + h) - envelope(r - h)) / (2 * h)
    loss = make_loss("quantile", quantile=q).smoothed(width)
    value, derivative = loss.value_and_derivative(r, np.zeros_like(r))
    np.testing.assert_allclose(derivative, slope, atol=2e-3)
    np.testing.assert_array_equal(value, np.maximum((1 - q) * r, -q * r))  # J stays the pinball loss
    assert loss.curvature == 1 / width


def test_the_epsilon_insensitive_smoothed_slope_is_its_moreau_envelopes_derivative():
    # Twice the median's smoothing of the excess over epsilon: the envelope of max(0, |v| - epsilon) of
    # half the width, whose slope changes no faster than 2 / width.
    epsilon, width = 0.4, 0.7
    r = np.linspace(-2.0, 2.0, 81)
    v = np.linspace(-4.0, 4.0, 160_001)
    tube = np.maximum(np.abs(v) - epsilon, 0.0)

    def envelope(x):
        return np.array([np.min(tube + (xi - v) ** 2 / width) for xi in x])

    h = 1e-4
    slope = (envelope(r + h) - envelope(r - h)) / (2 * h)
    loss = make_loss("epsilon_insensitive", epsilon=epsilon).smoothed(width)
    value, derivative = loss.value_and_derivative(r, np.zeros_like(r))
    np.testing.assert_allclose(derivative, slope, atol=2e-3)
    np.testing.assert_allclose(value, np.maximum(np.abs(r) - epsilon, 0.0), rtol=1e-15, atol=1e-16)  # J stays the loss
    assert loss.curvature == 2 / width


@pytest.mark.parametrize("loss", ["quantile", "absolute_error"])
@pytest.mark.parametrize("params", [dict(), dict(solver="sgd"), dict(solver="sgd", batch_size=16, average=True)])
def test_scaling_y_scales_the_coefficients_in_the_same_epochs(loss, params):
    # The smoothing's width (batch) and the sgd step sized by it are in y's units (absolute error: twice
    # the median's pinball loss, smoothed the same way).
    X, y = _raw_problem(800, seed=4)
    a = GradientDescentRegressor(loss=loss, quantile=0.8, random_state=0, **params).fit(X, y)
    b = GradientDescentRegressor(loss=loss, quantile=0.8, random_state=0, **params).fit(X, 1e4 * y)
    assert b.stop_reason_ == "converged"
    if loss == "absolute_error":  # and it lands on the median regression
        peer = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X, y)
        assert _objective(a, X, y, 0.5) <= _objective(peer, X, y, 0.5) * (1 + 1e-4)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(b.coef_, 1e4 * a.coef_, rtol=1e-6)
    np.testing.assert_allclose(b.intercept_, 1e4 * a.intercept_, rtol=1e-6)


def test_a_warm_start_at_the_optimum_stays_there():
    X, y = _raw_problem(800, seed=5)
    est = GradientDescentRegressor(loss="quantile", quantile=0.25, warm_start=True).fit(X, y)
    before = _objective(est, X, y, 0.25)
    est.fit(X, y)
    assert est.stop_reason_ == "converged"
    assert _objective(est, X, y, 0.25) <= before


def test_score_and_early_stopping_are_d2_pinball():
    # What the model is fitted for: the pinball loss explained, against the weighted q-quantile of y.
    from sklearn.metrics import d2_pinball_score

    X, y = _raw_problem(900, seed=6)
    s = np.random.RandomState(7).uniform(0.2, 3.0, y.size)
    est = GradientDescentRegressor(loss="quantile", quantile=0.85).fit(X[:600], y[:600])
    for weights in (None, s[600:]):
        expected = d2_pinball_score(y[600:], est.predict(X[600:]), alpha=0.85, sample_weight=weights)
        assert est.score(X[600:], y[600:], sample_weight=weights) == pytest.approx(expected, rel=1e-12)
    stopped = GradientDescentRegressor(loss="quantile", quantile=0.85, early_stopping=True, random_state=0)
    stopped.fit(X, y)
    assert stopped.best_validation_score_ == pytest.approx(max(stopped.validation_scores_))
    assert 0.0 < stopped.best_validation_score_ < 1.0


@pytest.mark.parametrize("params", [dict(), dict(penalty="l1", alpha=0.05), dict(solver="sgd")])
def test_multi_output_targets_on_different_scales_each_reach_their_own_fit(params):
    # Each target steps by its own width (batch and sgd); a penalty keeps each target's own optimum.
    X, y = _raw_problem(800, seed=8)
    Y = np.column_stack([y, 1e3 * y])
    both = GradientDescentRegressor(loss="quantile", quantile=0.8, random_state=0, **params).fit(X, Y)
    assert both.stop_reason_ == "converged"
    for k in range(2):
        alpha = params.get("alpha", 0.0)  # each target's own problem, with the same penalty
        alone = GradientDescentRegressor(loss="quantile", quantile=0.8, random_state=0, **params).fit(X, Y[:, k])
        ours = _pinball(Y[:, k], X @ both.coef_[k] + both.intercept_[k], 0.8) + alpha * np.abs(both.coef_[k]).sum()
        rtol = 1e-2 if params.get("solver") == "sgd" else 1e-4
        assert ours <= _objective(alone, X, Y[:, k], 0.8, alpha) * (1 + rtol)
