"""Learning-rate schedules: the registry against the formulas, invscaling across calls, adaptive."""

import numpy as np
import pytest
from _helpers import STEP_FORMULAS, make_problem
from sklearn.exceptions import ConvergenceWarning

from skgd import GradientDescentRegressor
from skgd._schedules import SCHEDULES, adaptive_reduce, automatic_step

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_steps_are_the_formulas(name):
    """Each registered schedule's steps equal its documented formula, update by update, from any start."""
    schedule = SCHEDULES[name]
    for t0 in (0, 1, 7, 12345):
        for power_t in (0.0, 0.25, 0.5, 1.0):
            steps = schedule.steps(0.3, t0, 5, power_t)
            assert steps.dtype == np.float64 and steps.shape == (5,)
            expected = [STEP_FORMULAS[name](0.3, t, power_t) for t in range(t0, t0 + 5)]
            np.testing.assert_allclose(steps, expected, rtol=1e-15)
            assert schedule.step(0.3, t0, power_t) == steps[0]
            assert schedule.decays or np.all(steps == steps[0]), (
                f"{name!r}'s steps change within a pass: register it with decays=True in skgd._schedules.SCHEDULES"
            )


def test_every_schedule_has_its_formula_and_is_a_parameter_value():
    unformulated, unregistered = (
        sorted(set(SCHEDULES) - set(STEP_FORMULAS)),
        sorted(set(STEP_FORMULAS) - set(SCHEDULES)),
    )
    assert not unformulated, f"schedules without their formula in tests/_helpers.STEP_FORMULAS: {unformulated}"
    assert not unregistered, f"formulas of schedules missing from skgd._schedules.SCHEDULES: {unregistered}"
    assert GradientDescentRegressor._parameter_constraints["schedule"][0].options == set(SCHEDULES)


def test_invscaling_is_eta_over_one_plus_t_to_the_power():
    invscaling = SCHEDULES["invscaling"]
    assert invscaling.step(0.3, 0, 0.5) == 0.3
    assert invscaling.step(0.3, 3, 0.5) == pytest.approx(0.15)
    assert SCHEDULES["constant"].step(0.3, 99, 0.5) == SCHEDULES["adaptive"].step(0.3, 99, 0.5) == 0.3


def test_adaptive_reduce_divides_by_five_and_stops_under_one_millionth():
    factor, reductions = 1.0, 0
    exhausted = False
    while not exhausted:
        factor, exhausted = adaptive_reduce(factor)
        reductions += 1
    # 5**-8 = 2.56e-6 still trains; 5**-9 = 5.12e-7 falls under 1e-6 of the start.
    assert reductions == 9 and factor == pytest.approx(5.0**-9)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_invscaling_counts_updates_across_partial_fit(solver):
    X, y = make_problem(n=30, d=3)
    params = dict(solver=solver, learning_rate=0.05, schedule="invscaling", power_t=0.7, shuffle=False, tol=None)
    stepped = GradientDescentRegressor(**params)
    for _ in range(4):
        stepped.partial_fit(X, y)
    fitted = GradientDescentRegressor(max_iter=4, **params).fit(X, y)
    assert stepped.t_ == fitted.t_ == (4 if solver == "batch" else 120)
    np.testing.assert_allclose(stepped.coef_, fitted.coef_, rtol=1e-12)
    # The steps did shrink: a constant-rate run lands elsewhere.
    constant = GradientDescentRegressor(**{**params, "schedule": "constant", "max_iter": 4}).fit(X, y)
    assert np.max(np.abs(constant.coef_ - fitted.coef_)) > 1e-3


def test_batch_invscaling_steps_follow_the_formula():
    """Batch epoch k steps by eta / (1 + k)**power_t: replay the gradient steps by hand."""
    X, y = make_problem(n=40, d=2)
    eta, power_t, epochs = 0.1, 0.5, 6
    reg = GradientDescentRegressor(
        learning_rate=eta, schedule="invscaling", power_t=power_t, tol=None, max_iter=epochs
    ).fit(X, y)
    w, b = np.zeros(2), 0.0
    for k in range(epochs):
        r = X @ w + b - y
        step = eta / (1 + k) ** power_t
        w, b = w - step * 2 * X.T @ r / len(y), b - step * 2 * r.mean()
    np.testing.assert_allclose(reg.coef_, w, rtol=1e-12)
    np.testing.assert_allclose(reg.intercept_, b, rtol=1e-12)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_adaptive_without_tol_is_constant(solver):
    X, y = make_problem(n=40, d=3)
    params = dict(solver=solver, learning_rate=0.01, tol=None, shuffle=False, max_iter=20)
    adaptive = GradientDescentRegressor(schedule="adaptive", **params).fit(X, y)
    constant = GradientDescentRegressor(schedule="constant", **params).fit(X, y)
    np.testing.assert_array_equal(adaptive.coef_, constant.coef_)
    assert adaptive.learning_rate_ == 0.01


def test_automatic_step_is_one_minus_momentum_over_l():
    assert automatic_step(4.0) == 0.25
    assert automatic_step(4.0, momentum=0.9) == pytest.approx(0.025)
    # Nothing smooth to respect (X all zero, no intercept, no L2): any step is safe.
    assert automatic_step(0.0) == 1.0 and automatic_step(5e-324) == 1.0


@pytest.mark.parametrize("solver", ["batch", "sgd"])
@pytest.mark.parametrize("penalty", [None, "l1"])
def test_auto_step_on_all_zero_features_without_intercept(solver, penalty):
    import scipy.sparse as sp

    y = np.array([1.0, -2.0, 0.5])
    for X in (np.zeros((3, 2)), sp.csr_matrix((3, 2))):
        reg = GradientDescentRegressor(solver=solver, penalty=penalty, fit_intercept=False, tol=None, max_iter=3)
        reg.fit(X, y)
        np.testing.assert_array_equal(reg.coef_, 0.0)
        assert reg.learning_rate_ == 1.0 and reg.loss_curve_[-1] == pytest.approx(np.mean(y**2))
