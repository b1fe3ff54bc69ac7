"""The log link's losses (poisson, gamma, tweedie) against independent peers.

- Batch coefficients equal scikit-learn's ``PoissonRegressor``, ``GammaRegressor``
  and ``TweedieRegressor(power=1.5, link="log")`` (newton-cholesky, tight tol,
  ``alpha / 2``), on standardised and on raw columns (offsets, scales 1e-3 to 1e4);
  sgd to 2e-2.
- ``predict`` is ``exp(X w + b)``; ``score`` is D^2 (``d2_tweedie_score``).
- Bad targets raise a ValueError naming y, in fit and partial_fit.
- ``learning_rate="auto"`` never diverges on raw data, and the batch objective
  falls every epoch (up to rounding).
- Integer weights equal repeated rows (batch).
"""

import collections
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
from sklearn.metrics import d2_tweedie_score, mean_tweedie_deviance

from skgd import GradientDescentRegressor

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

SCALES, OFFSETS = np.array([1e-3, 1.0, 1e2, 1e4]), np.array([0.0, 5.0, -300.0, 3e4])
PEERS = {
    "poisson": lambda alpha, fit_intercept: PoissonRegressor(alpha=alpha, fit_intercept=fit_intercept),
    "gamma": lambda alpha, fit_intercept: GammaRegressor(alpha=alpha, fit_intercept=fit_intercept),
    "tweedie": lambda alpha, fit_intercept: TweedieRegressor(
        power=1.5, link="log", alpha=alpha, fit_intercept=fit_intercept
    ),
}


def glm_problem(loss, raw=False, n=300, seed=0):
    """Counts, gamma or compound Poisson-gamma targets of a log-linear model in 4 columns."""
    rng = np.random.RandomState(seed)
    Z = rng.standard_normal((n, 4))
    mu = np.exp(Z @ np.array([0.3, -0.2, 0.25, 0.1]) + 0.5)
    y = {
        "poisson": lambda: rng.poisson(mu).astype(float),
        "gamma": lambda: rng.gamma(2.0, mu / 2.0),
        "tweedie": lambda: rng.poisson(mu) * rng.gamma(2.0, 0.5, n),
    }[loss]()
    return (Z * SCALES + OFFSETS if raw else Z), y


def _gap(ours, peer):
    """Relative distance of the (coef, intercept) vectors."""
    a = np.append(ours.coef_, ours.intercept_)
    b = np.append(peer.coef_, peer.intercept_)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("loss", list(PEERS))
@pytest.mark.parametrize("raw", [False, True])
@pytest.mark.parametrize("alpha, fit_intercept", [(0.0, True), (0.1, True), (0.1, False)])
def test_batch_equals_sklearns_glms(loss, raw, alpha, fit_intercept):
    X, y = glm_problem(loss, raw)
    peer = PEERS[loss](alpha / 2, fit_intercept).set_params(solver="newton-cholesky", tol=1e-12, max_iter=1000)
    peer.fit(X, y)
    ours = GradientDescentRegressor(
        loss=loss, penalty="l2", alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=3000
    ).fit(X, y)
    # Raw columns without an intercept cannot be centred: the offsets leave them ill-conditioned.
    assert _gap(ours, peer) < (1e-5 if fit_intercept else 1e-3 if raw else 2e-5)
    curve = np.array(ours.loss_curve_)
    assert np.all(np.diff(curve) <= 1e-9 * curve[0])  # J falls every epoch (up to the rounding the guard allows)
    np.testing.assert_allclose(ours.predict(X), np.exp(X @ ours.coef_ + ours.intercept_), rtol=1e-12)
    assert ours.score(X, y) == pytest.approx(d2_tweedie_score(y, ours.predict(X), power=ours._loss.power), rel=1e-12)


@pytest.mark.parametrize("loss", list(PEERS))
def test_sgd_lands_near_sklearns_glms_on_raw_data(loss):
    X, y = glm_problem(loss, raw=True)
    peer = PEERS[loss](0.05, True).set_params(solver="newton-cholesky", tol=1e-12).fit(X, y)
    ours = GradientDescentRegressor(solver="sgd", loss=loss, penalty="l2", alpha=0.1, tol=1e-5, random_state=0).fit(
        X, y
    )
    assert _gap(ours, peer) < 2e-2


@pytest.mark.parametrize("solver", ["batch", "sgd"])
@pytest.mark.parametrize("loss", list(PEERS))
def test_auto_never_diverges_on_raw_columns_with_a_far_start(solver, loss):
    # Raw columns, sparse ones, and targets spanning decades: every call ends finite, J below its start.
    X, y = glm_problem(loss, raw=True, n=200, seed=1)
    y = y * np.exp(np.random.RandomState(2).uniform(-3, 3, y.size))
    for Xin in (X, __import__("scipy.sparse").sparse.csr_matrix(X)):
        reg = GradientDescentRegressor(solver=solver, loss=loss, max_iter=30, tol=None, random_state=0)
        reg.fit(Xin, y, intercept_init=-20.0)  # the guard raises if a call ends above its start
        assert np.all(np.isfinite(reg.coef_)) and np.all(np.isfinite(reg.loss_curve_))


def test_a_fit_starts_at_the_log_of_the_weighted_mean():
    X, y = glm_problem("poisson")
    s = np.random.RandomState(3).uniform(0.5, 2.0, y.size)
    reg = GradientDescentRegressor(loss="poisson", learning_rate=1e-300).partial_fit(X, y, sample_weight=s)
    assert reg.intercept_ == pytest.approx(np.log(np.average(y, weights=s)), rel=1e-12)


@pytest.mark.parametrize(
    "loss, y, message",
    [
        ("poisson", [-1.0, 2.0, 3.0], r"y >= 0"),
        ("tweedie", [-1.0, 2.0, 3.0], r"y >= 0"),
        ("gamma", [0.0, 2.0, 3.0], r"y > 0"),
        ("poisson", [0.0, 0.0, 0.0], r"some y > 0"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_targets_out_of_range_are_a_clear_error(loss, y, message, method):
    reg = GradientDescentRegressor(loss=loss)
    with pytest.raises(ValueError, match=message):
        getattr(reg, method)(np.eye(3), np.array(y))
    with pytest.raises(ValueError, match=r"y > 0"):
        GradientDescentRegressor(loss="tweedie", power=3.0).fit(np.eye(3), np.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_a_later_chunk_of_zero_counts_is_a_valid_update(solver):
    # Only the call that starts training needs a positive mean (for its log-mean start).
    X, y = glm_problem("poisson", n=200)
    reg = GradientDescentRegressor(loss="poisson", solver=solver, random_state=0).partial_fit(X, y)
    before = reg.predict(X[:50]).mean()
    reg.partial_fit(X[:50], np.zeros(50))
    assert np.all(np.isfinite(reg.coef_)) and reg.predict(X[:50]).mean() < before  # zeros pull predictions down


def test_integer_weights_equal_repeated_rows_and_early_stopping_scores_d2():
    X, y = glm_problem("tweedie", n=60)
    counts = np.random.RandomState(4).randint(0, 3, 60)
    weighted = GradientDescentRegressor(loss="tweedie", tol=1e-10).fit(X, y, sample_weight=counts)
    repeated = GradientDescentRegressor(loss="tweedie", tol=1e-10).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)
    X, y = glm_problem("poisson", n=2000)
    stopped = GradientDescentRegressor(loss="poisson", early_stopping=True, random_state=0).fit(X, y)
    assert 0.0 < stopped.best_validation_score_ < 1.0  # D^2 of the held-out rows


def test_multi_output_fits_each_target_as_its_own_glm():
    X, y = glm_problem("poisson")
    Y = np.column_stack([y, y + 1.0])
    both = GradientDescentRegressor(loss="poisson", tol=1e-12, max_iter=3000).fit(X, Y)
    for k in range(2):
        peer = PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-12).fit(X, Y[:, k])
        np.testing.assert_allclose(both.coef_[k], peer.coef_, rtol=1e-4, atol=1e-6)


def test_the_searched_step_stops_growing_where_the_gradient_vanishes():
    # At a zero gradient every step passes the search: the step must not grow without bound.
    reg = GradientDescentRegressor(loss="poisson", tol=None, max_iter=300).fit(np.zeros((20, 2)), np.full(20, 2.0))
    assert np.isfinite(reg.learning_rate_) and reg.learning_rate_ <= 2.0**31 * reg._state.eta0
    reg.partial_fit(np.ones((20, 2)), np.full(20, 5.0))  # new data: the step still searches from a finite size
    assert np.all(np.isfinite(reg.coef_)) and np.all(reg.coef_ > 0)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_targets_a_thousand_times_apart_each_reach_their_own_fit(solver):
    # Each target steps by its own curvature (the log-mean's): the log-scale coefficients of y and 1000 y agree.
    X, y = glm_problem("poisson", n=600)
    alone = GradientDescentRegressor(loss="poisson", solver=solver, random_state=0).fit(X, y)
    both = GradientDescentRegressor(loss="poisson", solver=solver, random_state=0).fit(X, np.column_stack([y, 1e3 * y]))
    assert both.stop_reason_ == "converged"
    np.testing.assert_allclose(both.coef_, np.vstack([alone.coef_, alone.coef_]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(both.intercept_ - [0.0, np.log(1e3)], alone.intercept_, rtol=1e-4, atol=1e-6)


def test_score_is_d2_at_extreme_predictions_and_takes_list_weights():
    # The linear predictor itself is scored (log(exp(p)) would overflow to NaN); list weights as for R^2.
    X, y = glm_problem("poisson", n=200)
    reg = GradientDescentRegressor(loss="poisson").fit(X, y)
    X_far = X.copy()
    X_far[0] = 1e6 * np.sign(reg.coef_)  # exp(p) overflows there: an infinitely bad prediction, not NaN
    assert reg.score(X_far, y) == -np.inf
    assert reg.score(X, y, sample_weight=[1.0] * 200) == reg.score(X, y)


@pytest.mark.parametrize("loss, power", [("poisson", 1.0), ("gamma", 2.0), ("tweedie", 1.5)])
def test_the_default_fit_searches_conjugate_directions_to_the_optimum_in_a_few_epochs(monkeypatch, loss, power):
    # Two reads of X an epoch (J's gradient with the rows' predictors, and their change along the new
    # direction), the line searched on the predictors alone: scikit-learn's optimum in at most 8 epochs on
    # raw columns, where the searched gradient steps (backtracking, kept for an L1 part) take 11 to 14.
    import skgd._objective._streaming as streaming

    reads = collections.Counter()

    def counted(name):
        original = getattr(streaming, name)

        def read(*args, **kwargs):
            reads[name if kwargs.get("gradient", True) else "value"] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(streaming, name, read)

    counted("loss_gradient_sums")
    counted("linear_predict")
    X, y = glm_problem(loss, raw=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = GradientDescentRegressor(loss=loss).fit(X, y)
    peer = PEERS[loss](0.0, True).set_params(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    deviance = [mean_tweedie_deviance(y, model.predict(X), power=power) for model in (ours, peer)]
    assert deviance[0] <= deviance[1] * (1 + 1e-9)
    assert ours.n_iter_ <= 8
    # The call's start is the intercept alone (no read of X) and its end J the last line's.
    assert reads == {"loss_gradient_sums": ours.n_iter_, "linear_predict": ours.n_iter_, "value": 1}


def test_float32_columns_far_from_zero_backtrack_and_never_rise():
    # Predictors formed in float32 on columns at offsets of 100 round by more than J's rounding allows
    # between a line's J and the next pass's: such data backtracks on passes of its own (was:
    # DivergenceError at epoch 15 with the line search; float64 converges either way).
    rng = np.random.RandomState(3)
    X = rng.randn(100, 40) * np.exp(2 * rng.randn(40)) + 100.0 * rng.randn(40)
    y = rng.gamma(5.0, np.exp(0.5 * rng.randn(100)) / 5.0)
    wide = GradientDescentRegressor(loss="tweedie", power=2.5).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        narrow = GradientDescentRegressor(loss="tweedie", power=2.5).fit(X.astype(np.float32), y)
    assert wide.stop_reason_ == "converged"
    curve = np.array(narrow.loss_curve_)
    assert np.all(np.diff(curve) <= 64 * np.finfo(np.float32).eps * curve[:-1])
    assert curve[-1] <= wide.loss_curve_[-1] * (1 + 1e-3)


def test_tweedie_above_power_two_without_an_intercept_never_ends_on_its_plateau():
    # Above power 2 the deviance flattens towards a plateau as mu grows: a line's first point landed there
    # and looked optimal (silent "converged", predictions inf, J 0.0275 where 5e-5 is reached). Such fits
    # backtrack, as before the conjugate directions.
    X = np.array(
        [[36.8564, 41.1699, 191.0648], [38.631, 54.2103, 120.567], [39.0296, 49.7061, 125.3195],
         [37.7577, 44.176, 186.5536], [39.0463, 48.9613, 155.3666]]
    )  # fmt: skip
    y = np.array([31.6174, 32.4849, 43.2556, 35.632, 42.0042])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = GradientDescentRegressor(loss="tweedie", power=3.0, fit_intercept=False).fit(X, y)
    assert np.all(np.isfinite(reg.predict(X)))
    assert mean_tweedie_deviance(y, reg.predict(X), power=3.0) < 1e-3


def test_columns_at_offsets_of_1e8_never_raise_on_a_rise_the_lines_predictors_did_not_see():
    # The line's J (stored predictors moved along q) said a step fell, the next pass's said it rose: on
    # columns at 1e8 the predictors' rounding exceeds J's. The step is undone and training ends there
    # (was: DivergenceError), never above where it began.
    rng = np.random.RandomState(9)
    X = rng.randn(100, 40) * np.exp(2 * rng.randn(40)) + 1e8 * rng.randn(40)
    y = rng.gamma(5.0, np.exp(0.5 * rng.randn(100)) / 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = GradientDescentRegressor(loss="gamma").fit(X, y)
    curve = np.array(reg.loss_curve_)
    assert np.all(np.diff(curve) <= 1e-10 * curve[:-1]) and np.all(np.isfinite(reg.coef_))
