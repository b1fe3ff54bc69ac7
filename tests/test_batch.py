"""Full-batch gradient descent against closed forms, coordinate descent and L-BFGS.

- penalty l1 / elasticnet / l2 land on ``Lasso(alpha=alpha/2)``,
  ``ElasticNet(alpha=alpha/2, l1_ratio)`` and ``Ridge(alpha=n*alpha/2)``, with
  the same exact zeros (dense, CSR, float32, 1-D and 2-D y, weights).
- huber and squared_epsilon_insensitive land on a scipy L-BFGS minimiser of the
  same objective; absolute_error (batch and sgd) within 0.1% of the
  least-absolute-deviations objective of QuantileRegressor(quantile=0.5), and
  it is epsilon_insensitive of width 0, bit for bit.
- Momentum 0.9 on an ill-conditioned problem gets at least 10x closer to least
  squares than plain GD in 300 epochs; its steps are MLPRegressor's.
- The sufficient-statistics solver computes the streaming solver's objective.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import assert_same_model, make_problem, squared_error_problem
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, QuantileRegressor, Ridge
from sklearn.neural_network import MLPRegressor

from skgd import GradientDescentRegressor
from skgd._objective import GramObjective, StreamingObjective, choose_objective
from skgd._penalty import Penalty

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

FORMATS = {
    "dense": lambda X: X,
    "csr": sp.csr_matrix,
    "float32": lambda X: X.astype(np.float32),
}


#: Columns not centred, much noise, three irrelevant features (which the L1 penalties zero).
NOISY = dict(noise=0.5, intercept=1.0, x_offset=0.5, zero_features=3)


def _converged(X, y, sample_weight=None, **params):
    """Batch GD run long enough to reach its fixed point."""
    reg = GradientDescentRegressor(solver="batch", schedule="constant", tol=None, max_iter=600, **params)
    return reg.fit(X, y, sample_weight=sample_weight)


def _peer(penalty, alpha, l1_ratio, n, fit_intercept):
    if penalty == "l1":
        return Lasso(alpha=alpha / 2, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000)
    if penalty == "elasticnet":
        return ElasticNet(alpha=alpha / 2, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000)
    return Ridge(alpha=n * alpha / 2, fit_intercept=fit_intercept)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "l2"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("n_targets", [None, 2])
def test_penalties_land_on_lasso_elasticnet_and_ridge(penalty, fmt, n_targets):
    X, y = make_problem(n=100, d=8, n_targets=n_targets, **NOISY)
    alpha, l1_ratio = 0.2, 0.3
    peer = _peer(penalty, alpha, l1_ratio, len(X), True).fit(X, y)
    reg = _converged(FORMATS[fmt](X), y, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio)
    atol = 1e-5 if fmt == "float32" else 1e-10
    np.testing.assert_allclose(reg.coef_, peer.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(reg.intercept_, peer.intercept_, rtol=0, atol=atol)
    np.testing.assert_array_equal(reg.coef_ == 0.0, peer.coef_ == 0.0)
    if penalty != "l2":
        assert np.any(reg.coef_ == 0.0)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "l2"])
def test_weighted_penalised_fit_without_intercept_lands_on_the_peer(penalty):
    X, y = make_problem(n=100, d=8, seed=1, **NOISY)
    s = np.random.RandomState(2).uniform(0.2, 3.0, len(y))
    alpha, l1_ratio = 0.3, 0.6
    # With weights, the peers' objectives use sum(s) where ours divides by it:
    # rescaled to sum n they solve our problem.
    s_peer = s * len(y) / s.sum()
    peer = _peer(penalty, alpha, l1_ratio, len(X), False).fit(X, y, sample_weight=s_peer)
    reg = _converged(X, y, s, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False)
    np.testing.assert_allclose(reg.coef_, peer.coef_, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(reg.coef_ == 0.0, peer.coef_ == 0.0)
    assert reg.intercept_ == 0.0


def _lbfgs(loss, X, y, s, epsilon, alpha):
    """Minimise J (data term + alpha/2 |w|^2) with scipy's L-BFGS from an exact gradient."""
    d = X.shape[1]

    def objective(theta):
        w, b = theta[:d], theta[d]
        r = X @ w + b - y
        a = np.abs(r)
        if loss == "huber":
            value = np.where(a <= epsilon, r * r, 2 * epsilon * a - epsilon**2)
            slope = np.where(a <= epsilon, 2 * r, 2 * epsilon * np.sign(r))
        else:
            excess = np.maximum(a - epsilon, 0.0)
            value, slope = excess**2, 2 * excess * np.sign(r)
        J = s @ value / s.sum() + alpha / 2 * w @ w
        grad = np.append(X.T @ (s * slope) / s.sum() + alpha * w, s @ slope / s.sum())
        return J, grad

    options = dict(gtol=1e-13, ftol=1e-16, maxiter=20_000)
    result = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B", options=options)
    return result.x[:d], result.x[d], result.fun


@pytest.mark.parametrize("loss", ["huber", "squared_epsilon_insensitive"])
@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_smooth_robust_losses_land_on_the_lbfgs_minimiser(loss, alpha, fmt):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((120, 5))
    y = X @ rng.standard_normal(5) + 1.0 + 0.5 * rng.standard_t(2, 120)  # heavy tails: both pieces active
    s = rng.uniform(0.5, 2.0, 120)
    w, b, J = _lbfgs(loss, X, y, s, 0.5, alpha)
    reg = _converged(FORMATS[fmt](X), y, s, loss=loss, epsilon=0.5, penalty="l2" if alpha else None, alpha=alpha)
    np.testing.assert_allclose(reg.coef_, w, rtol=0, atol=1e-6)
    np.testing.assert_allclose(reg.intercept_, b, rtol=0, atol=1e-6)
    assert reg.loss_curve_[-1] == pytest.approx(J, rel=1e-10)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_absolute_error_lands_on_quantile_regressors_median_fit(solver, fmt):
    """A default fit reaches the least-absolute-deviations objective of QuantileRegressor(quantile=0.5) (HiGHS)."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 4))
    y = X @ rng.standard_normal(4) + 1.0 + rng.standard_t(2, 200)
    s = rng.uniform(0.5, 2.0, 200)
    peer = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X, y, sample_weight=s)
    reg = GradientDescentRegressor(solver=solver, loss="absolute_error", random_state=0)
    reg.fit(FORMATS[fmt](X), y, sample_weight=s)

    def lad(coef, intercept):
        return s @ np.abs(X @ coef + intercept - y) / s.sum()

    assert (
        lad(peer.coef_, peer.intercept_) <= lad(reg.coef_, reg.intercept_) <= 1.001 * lad(peer.coef_, peer.intercept_)
    )


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_absolute_error_is_epsilon_insensitive_of_width_zero(solver):
    X, y = make_problem(n=50, d=3, noise=1.0)
    params = dict(solver=solver, learning_rate=0.01, schedule="invscaling", shuffle=False, tol=None, max_iter=5)
    absolute = GradientDescentRegressor(loss="absolute_error", **params).fit(X, y)
    width_zero = GradientDescentRegressor(loss="epsilon_insensitive", epsilon=0.0, **params).fit(X, y)
    assert_same_model(absolute, width_zero)


# ------------------------------------------------------------------ momentum
def _ill_conditioned():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 6)) * np.logspace(0, -1.3, 6)  # Hessian condition number ~ 400
    return X, X @ rng.standard_normal(6) + 0.3 + 0.1 * rng.standard_normal(200)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_momentum_gets_ten_times_closer_to_least_squares(nesterov, fmt):
    # Plain steps in the user's coordinates (a float learning rate: "auto" would
    # condition the problem away): 1 / L of the augmented Hessian.
    X, y = _ill_conditioned()
    ols = LinearRegression().fit(X, y)
    target = np.append(ols.coef_, ols.intercept_)
    Z = np.column_stack([X, np.ones(len(X))])
    step = 1.0 / (2.0 * np.linalg.eigvalsh(Z.T @ Z / len(X))[-1])
    distances = []
    for momentum in (0.0, 0.9):
        reg = GradientDescentRegressor(
            learning_rate=step, momentum=momentum, nesterov=nesterov, schedule="constant", tol=None, max_iter=300
        ).fit(FORMATS[fmt](X), y)
        distances.append(np.linalg.norm(np.append(reg.coef_, reg.intercept_) - target))
    plain, heavy = distances
    assert heavy * 10 <= plain, (plain, heavy)


@pytest.mark.parametrize("nesterov", [False, True])
def test_batch_momentum_takes_mlpregressors_steps(nesterov):
    """Full-batch MLPRegressor(hidden_layer_sizes=()) with momentum: a linear model, our steps.

    Its loss is half the mean squared error (rate x2) and its L2 term is
    alpha * |w|^2 / (2 n) (so our alpha is 2 * its alpha / n).
    """
    X, y = make_problem(n=60, d=4, **NOISY)
    lr, mu, epochs, mlp_alpha = 0.01, 0.9, 20, 0.6
    ours = GradientDescentRegressor(
        learning_rate=lr,
        momentum=mu,
        nesterov=nesterov,
        penalty="l2",
        alpha=2 * mlp_alpha / len(y),
        schedule="constant",
        tol=None,
        max_iter=epochs,
    )
    ours.fit(X, y)
    peer = MLPRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate_init=2 * lr,
        momentum=mu,
        nesterovs_momentum=nesterov,
        alpha=mlp_alpha,
        batch_size=len(y),
        shuffle=False,
        max_iter=1,
        tol=0.0,
        n_iter_no_change=100,
        warm_start=True,
    )
    peer.fit(X, y)  # creates its state; then start it from zero with a fresh optimizer
    peer.coefs_, peer.intercepts_ = [np.zeros((4, 1))], [np.zeros(1)]
    peer.set_params(max_iter=epochs).fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coefs_[0].ravel(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, peer.intercepts_[0][0], rtol=0, atol=1e-10)


# ------------------------------------------------------------- the two solvers
@pytest.mark.parametrize("sparse", [False, True])
def test_the_gram_objective_computes_the_streaming_one(sparse):
    X, Y = make_problem(n=3000, d=6, n_targets=2, **NOISY)
    s = np.random.RandomState(3).uniform(0.5, 2.0, 3000)
    Xin = sp.csr_matrix(X) if sparse else X
    problem = squared_error_problem(Xin, Y, s, Penalty(0.1, 0.5))
    assert choose_objective(problem[1].loss, Xin, max_iter=100, one_epoch=False) is GramObjective
    assert choose_objective(problem[1].loss, Xin, max_iter=100, one_epoch=True) is StreamingObjective
    coef = np.random.RandomState(4).standard_normal((2, 6))
    intercept = np.array([0.3, -1.0])
    gram = GramObjective(*problem).value_and_gradient(coef, intercept)
    streaming = StreamingObjective(*problem).value_and_gradient(coef, intercept)
    for a, b in zip(gram, streaming, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_gram_and_streaming_fits_agree_with_momentum_and_l1():
    X, y = make_problem(n=3000, d=6, **NOISY)
    params = dict(penalty="elasticnet", alpha=0.1, momentum=0.5, schedule="constant", tol=None, max_iter=50)
    gram = GradientDescentRegressor(**params).fit(X, y)  # 18000 entries, 50 epochs: the Gram solver
    streaming = GradientDescentRegressor(**params)
    for _ in range(50):  # partial_fit always streams
        streaming.partial_fit(X, y)
    np.testing.assert_allclose(gram.coef_, streaming.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gram.loss_curve_, streaming.loss_curve_, rtol=1e-9)
