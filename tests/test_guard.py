"""Issue 13's holes, each reproduced: the guard judges a call by its own start, and every call is validated."""

import warnings

import numpy as np
import pytest
from _helpers import make_problem
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor


def _objective(reg, X, y):
    return float(np.mean((reg.predict(X) - y) ** 2))


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_a_step_that_blows_up_is_refused_not_rescued_by_the_adaptive_schedule(diabetes, solver):
    # Before: batch went 2.9e4 -> 2.7e13, the adaptive step shrank and the
    # wreck (R2 = -295594) was returned without a word.
    X, y = diabetes
    reg = GradientDescentRegressor(solver=solver, learning_rate=1.0, random_state=0)
    with pytest.raises(ValueError, match="diverged at epoch .* learning rate 1.0. The largest safe step"):
        reg.fit(X, y)
    assert not hasattr(reg, "coef_")


@pytest.mark.parametrize("method", ["partial_fit", "fit"])
def test_the_last_step_of_a_call_is_checked(diabetes, method):
    # Before: one diverging epoch (partial_fit, or fit(max_iter=1)) returned R2 -5.7e8.
    X, y = diabetes
    reg = GradientDescentRegressor(learning_rate=5.0, max_iter=1, tol=None)
    with pytest.raises(ValueError, match="diverged"):
        getattr(reg, method)(X, y)
    assert not hasattr(reg, "coef_")


def test_slow_divergence_is_caught_at_its_first_rise(diabetes):
    # Before: a step of 2.2/L grew the loss 57 -> 9.6e8 over 50 epochs, unnoticed.
    X, y = diabetes
    Z = np.column_stack([X, np.ones(len(X))])
    safe = 1.0 / (2.0 * np.linalg.eigvalsh(Z.T @ Z / len(X))[-1])
    reg = GradientDescentRegressor(learning_rate=2.2 * safe, schedule="constant", tol=None, max_iter=50)
    with pytest.raises(ValueError, match=f"in one full-batch step.*safe step measured from the data is {safe:.6g}"):
        reg.fit(X, y)


def test_no_false_alarm_when_the_zero_model_is_already_perfect():
    # y = 0 with intercept_init = 1: the zero model's loss is 0, the call's start is 1.
    X = np.random.RandomState(0).standard_normal((50, 3))
    y = np.zeros(50)
    reg = GradientDescentRegressor(max_iter=50).fit(X, y, intercept_init=1.0)
    assert abs(reg.intercept_) < 1e-3 and reg.loss_curve_[-1] < reg.loss_curve_[0]
    # Then a partial_fit on tiny targets: judged against its own start, it is fine.
    X2, y2 = make_problem(n=50, d=3)
    reg = GradientDescentRegressor().fit(X2, y2)
    reg.partial_fit(X2, 1e-6 * np.ones(50))
    assert np.isfinite(reg.coef_).all()


@pytest.mark.parametrize(
    "params, error",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(loss="bogus"), "loss"),
        (dict(momentum=-0.5), "momentum"),
        (dict(batch_size=-1), "batch_size"),
    ],
)
def test_partial_fit_validates_its_parameters_on_every_call(params, error):
    X, y = make_problem(n=20, d=2)
    reg = GradientDescentRegressor(solver="sgd").partial_fit(X, y)
    reg.set_params(**params)
    with pytest.raises(ValueError, match=f"'{error}' parameter of GradientDescentRegressor must be"):
        reg.partial_fit(X, y)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_values_whose_squares_overflow_are_a_clear_error(solver):
    # Before: sgd returned an all-zero model with learning_rate_ = 0; batch a LinAlgError.
    X, y = make_problem(n=40, d=3)
    with pytest.raises(ValueError, match="overflow"):
        GradientDescentRegressor(solver=solver).fit(X * 1e159, y)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_weights_that_overflow_float32_sums_are_a_clear_error(solver):
    # Before: batch raised LinAlgError, sgd reported a divergence from an objective of 0.
    X, y = make_problem(n=50, d=3, dtype=np.float32)
    with pytest.raises(ValueError, match="sample_weight sums to 5e\\+38"):
        GradientDescentRegressor(solver=solver).fit(X, y, sample_weight=np.full(50, 1e37, dtype=np.float32))


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_early_stopping_with_no_training_weight_says_so(solver):
    X, y = make_problem(n=40, d=3)
    weight = np.zeros(40)
    weight[:2] = 1.0
    reg = GradientDescentRegressor(solver=solver, early_stopping=True, validation_fraction=0.5, random_state=0)
    for seed in range(200):  # a seed whose split holds out both weighted rows, or neither
        reg.set_params(random_state=seed)
        try:
            reg.fit(X, y, sample_weight=weight)
        except ValueError as error:
            message = str(error)
            if "zero total weight" in message:
                assert "training split" in message or "validation split" in message
                return
            raise
    pytest.fail("no seed held out both weighted rows")


def test_y_that_overflows_float32_is_an_input_error():
    X, y = make_problem(n=20, d=2, dtype=np.float32)
    with pytest.raises(ValueError, match="y holds values too large for X's dtype float32"):
        GradientDescentRegressor().fit(X, np.full(20, 1e39))


def test_warm_start_with_other_features_names_the_real_cause():
    X, y = make_problem(n=20, d=2)
    reg = GradientDescentRegressor(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="previous fit, which had 2 feature"):
        reg.fit(np.hstack([X, X]), y)


def test_max_iter_two_warns_and_records_why():
    X, y = make_problem(n=200, d=5)
    with pytest.warns(ConvergenceWarning, match="Maximum number of epochs"):
        reg = GradientDescentRegressor(max_iter=2).fit(X, y)
    assert reg.stop_reason_ == "max_iter"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert GradientDescentRegressor().fit(X, y).stop_reason_ == "converged"
