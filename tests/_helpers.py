"""Test helpers: the note's data, small problems, the plain NumPy SGD loop, model comparison, example runs."""

import runpy
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from skgd._loss import SquaredError, make_loss
from skgd._penalty import Penalty
from skgd._problem import Settings, TrainingData
from skgd._schedules import SCHEDULES

#: The note's two programs and their printed output, copied from the seed.
SEED_DIR = Path(__file__).resolve().parent / "note"

#: The repository's examples, which the tests run.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: The note's data (x, y) and starting weight.
NOTE_X = np.array([[1.0], [2.0], [3.0]])
NOTE_Y = np.array([2.0, 4.0, 6.0])


def make_problem(
    n=200,
    d=5,
    n_targets=None,
    noise=0.1,
    seed=0,
    dtype=np.float64,
    *,
    intercept=0.5,
    x_offset=0.0,
    density=None,
    zero_features=0,
):
    """A linear problem ``y = X w + intercept + noise * N(0, 1)`` with known, random w.

    Parameters
    ----------
    n, d, n_targets : int
        Rows, columns, and targets (None: 1-D y).
    noise : float
        Standard deviation of the noise.
    seed : int
        Seed of the one RandomState that draws X, then the zeros of X, then w, then the noise.
    dtype : dtype
        Of X and y (y is computed from X in that dtype, in float64).
    intercept : float
        Added to every target.
    x_offset : float
        Added to every entry of X (columns that are not centred).
    density : float or None
        Each entry of X is kept with this probability, else set to 0.
    zero_features : int
        The first ``zero_features`` coefficients are 0: irrelevant features, for an l1 penalty to zero.
    """
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)) + x_offset
    if density is not None:
        X[rng.rand(n, d) > density] = 0.0
    X = X.astype(dtype)
    w = rng.standard_normal((d,) if n_targets is None else (d, n_targets))
    w[:zero_features] = 0.0
    y = X.astype(np.float64) @ w + intercept + noise * rng.standard_normal(n if n_targets is None else (n, n_targets))
    return X, y.astype(dtype)


def _textbook_epsilon_insensitive(r, epsilon):
    a = np.abs(r)
    return np.where(a <= epsilon, 0.0, a - epsilon), np.where(a <= epsilon, 0.0, np.sign(r))


def _textbook_squared_epsilon_insensitive(r, epsilon):
    a = np.abs(r)
    return np.where(a <= epsilon, 0.0, (a - epsilon) ** 2), np.where(a <= epsilon, 0.0, 2 * (a - epsilon) * np.sign(r))


def _textbook_huber(r, epsilon):
    a = np.abs(r)
    inside = a <= epsilon
    return np.where(inside, r**2, 2 * epsilon * a - epsilon**2), np.where(inside, 2 * r, 2 * epsilon * np.sign(r))


def _textbook_pinball(p, y, quantile):
    u = y - p  # the pinball loss is written in y - prediction
    return np.maximum(quantile * u, (quantile - 1) * u), np.where(u > 0, -quantile, np.where(u < 0, 1 - quantile, 0.0))


def _textbook_tweedie(p, y, power):
    """The Tweedie unit deviance at ``mu = exp(p)`` by scikit-learn's ``mean_tweedie_deviance``, one
    sample at a time, and its derivative in p: ``mu`` times the deviance's derivative in ``mu``,
    ``-2 (y - mu) / V(mu)`` with the variance function ``V(mu) = mu**power``."""
    from sklearn.metrics import mean_tweedie_deviance

    mu = np.exp(p)
    y = np.broadcast_to(y, mu.shape)
    value = np.array(
        [mean_tweedie_deviance([b], [m], power=power) for b, m in zip(y.ravel(), mu.ravel(), strict=True)]
    ).reshape(mu.shape)
    return value, mu * 2.0 * (mu - y) / mu**power


def targets_for(loss, y):
    """Targets ``loss`` accepts, made from ``y``: y itself, or (the log link's losses) positive ones.

    ``exp`` of y centred and scaled to unit half-spread (per column), in y's dtype:
    a positive target that still follows y.
    """
    if make_loss(loss, **LOSS_PARAMS).targets is None:
        return y
    wide = np.asarray(y, dtype=np.float64)
    spread = wide.std(axis=0)
    return np.exp((wide - wide.mean(axis=0)) / (2.0 * np.where(spread > 0, spread, 1.0))).astype(np.asarray(y).dtype)


def _of_residual(textbook):
    """A residual loss's textbook form as one of ``(p, y, params)``."""
    return lambda p, y, params: textbook(p - y, params["epsilon"])


class _Definitions(dict):
    """A registry's independent definitions by name: a name without one fails naming this dict and its form."""

    def __init__(self, where, form, definitions):
        super().__init__(definitions)
        self.where, self.form = where, form

    def __missing__(self, name):
        raise KeyError(
            f"{name!r} has no independent definition in tests/_helpers.{self.where}: add its {self.form} there"
        )


#: The loss parameters the tests fit with unless they say otherwise.
LOSS_PARAMS = {"epsilon": 0.4, "quantile": 0.3, "power": 1.5}

#: Each loss of ``skgd._loss.LOSSES`` as the documentation states it, piece by
#: piece: ``(p, y, params) -> (l, dl/dp)`` at linear predictors ``p`` and targets
#: ``y``, ``params`` the estimator's loss parameters (as ``LOSS_PARAMS``). The
#: tests' one entry per loss (``test_objective`` holds its keys to the registry's).
TEXTBOOK_LOSSES = _Definitions(
    "TEXTBOOK_LOSSES",
    "textbook (p, y, params) -> (value, derivative)",
    {
        "squared_error": _of_residual(lambda r, epsilon: (r**2, 2 * r)),
        "huber": _of_residual(_textbook_huber),
        "epsilon_insensitive": _of_residual(_textbook_epsilon_insensitive),
        "squared_epsilon_insensitive": _of_residual(_textbook_squared_epsilon_insensitive),
        "absolute_error": _of_residual(lambda r, epsilon: (np.abs(r), np.sign(r))),
        "quantile": lambda p, y, params: _textbook_pinball(p, y, params["quantile"]),
        "poisson": lambda p, y, params: _textbook_tweedie(p, y, 1.0),
        "gamma": lambda p, y, params: _textbook_tweedie(p, y, 2.0),
        "tweedie": lambda p, y, params: _textbook_tweedie(p, y, params["power"]),
    },
)

#: Each schedule of ``skgd._schedules.SCHEDULES`` as the documentation states it:
#: ``(eta, t, power_t) -> step`` of update ``t`` within an epoch. The tests' one
#: entry per schedule (``test_schedules`` holds its keys to the registry's).
STEP_FORMULAS = _Definitions(
    "STEP_FORMULAS",
    "documented step (eta, t, power_t) -> step of update t",
    {
        "constant": lambda eta, t, power_t: eta,
        "invscaling": lambda eta, t, power_t: eta / (1.0 + t) ** power_t,
        "adaptive": lambda eta, t, power_t: eta,
    },
)

#: scikit-learn's SGDRegressor twin of each loss it has: ``(factor, its loss, its epsilon)``, our loss
#: being ``factor`` times SGDRegressor's (its squared error and huber are halved); an epsilon of None is ours.
SGDREGRESSOR_LOSSES = {
    "squared_error": (2.0, "squared_error", None),
    "huber": (2.0, "huber", None),
    "epsilon_insensitive": (1.0, "epsilon_insensitive", None),
    "squared_epsilon_insensitive": (1.0, "squared_epsilon_insensitive", None),
    "absolute_error": (1.0, "epsilon_insensitive", 0.0),  # of width 0
}


def sgdregressor_loss(name, epsilon):
    """``(factor, params)``: loss ``name`` of ``epsilon`` is ``factor`` times SGDRegressor's of ``params``."""
    factor, peer, width = SGDREGRESSOR_LOSSES[name]
    return factor, {"loss": peer, "epsilon": epsilon if width is None else width}


#: The schedules whose steps change only within a pass (not between epochs):
#: what the compiled loop's contracts rotate through.
PER_UPDATE_SCHEDULES = [name for name, schedule in SCHEDULES.items() if not schedule.adaptive]


def reference_sgd(
    X,
    y,
    *,
    loss="squared_error",
    epsilon=0.1,
    quantile=0.5,
    power=1.5,
    learning_rate,
    epochs,
    schedule="constant",
    power_t=0.5,
    penalty=None,
    alpha=1e-4,
    l1_ratio=0.15,
    momentum=0.0,
    nesterov=False,
    batch_size=1,
    fit_intercept=True,
    average=0,
    sample_weight=None,
    shift=None,
    scale=None,
):
    """Per-(mini-)batch SGD for one target, written plainly from the design's definitions.

    Returns the model a prediction uses (averaged once averaging began) and the
    loss curve: the weighted mean of each sample's loss before its update, plus
    R at the end of the epoch. A weight multiplies its sample's whole step,
    penalty included: the penalty's share of a step is the batch's mean weight.
    A loss without a global curvature bound (the log link's) shrinks each
    sample's weighted derivative so its own step moves its predictor by at
    most 1, or ``1 / (k - 1)`` for a Tweedie power ``k`` above 2.

    With ``shift`` and ``scale`` (dense X) the steps are taken on the rows
    ``z = (x - shift) * scale`` and the coefficients returned are z's, ``v``;
    the penalty is the user's ``R(scale * v)``, so its L2 part has the
    gradient ``l2 * scale**2 * v`` and its L1 part the proximal threshold
    ``eta * l1 * |scale|`` in v.
    """
    n, d = X.shape
    rows_of = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    pen = Penalty.from_params(penalty, alpha, l1_ratio)
    lo = make_loss(loss, epsilon=epsilon, quantile=quantile, power=power)
    w, b, v, vb = np.zeros(d), 0.0, np.zeros(d), 0.0
    w_avg, b_avg, n_avg = np.zeros(d), 0.0, 0
    u, q = 0.0, np.zeros(d)  # cumulative L1 penalty: the total offered, and what each w_j took
    m = np.zeros(d) if shift is None else shift
    c = np.ones(d) if scale is None else scale
    t, curve = 0, []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(start + batch_size, n))
            eta = STEP_FORMULAS[schedule](learning_rate, t, power_t)
            Z = (rows_of[rows] - m) * c
            value, derivative = lo.value_and_derivative(Z @ w + b, y[rows])
            total += np.sum(s[rows] * value)
            dl = s[rows] * derivative
            if not lo.global_curvature:  # a sample's own step moves its predictor by at most cap
                cap = 1.0 / max(1.0, lo.power - 1.0)
                reach = eta * (np.sum(Z * Z, axis=1) + fit_intercept)
                too_far = reach * np.abs(dl) > cap
                dl = np.where(too_far, np.sign(dl) * cap / np.where(too_far, reach, 1.0), dl)
            dl = dl / len(rows)
            g, gb = Z.T @ dl, dl.sum()
            share = s[rows].mean()
            if momentum == 0.0:
                w = np.maximum(0.0, 1.0 - eta * share * pen.l2 * c**2) * w - eta * g
                b -= eta * gb if fit_intercept else 0.0
            else:
                g = g + share * pen.l2 * c**2 * w
                v = momentum * v - eta * g
                w = w + (momentum * v - eta * g if nesterov else v)
                if fit_intercept:
                    vb = momentum * vb - eta * gb
                    b += momentum * vb - eta * gb if nesterov else vb
            if pen.l1 > 0.0:
                u += eta * share * pen.l1
                # a plain sparse step touches (and penalises) only the batch's stored
                # features; momentum moves (and the penalty holds) every feature
                touched = np.unique(X[rows].indices) if sp.issparse(X) and momentum == 0.0 else range(d)
                for j in touched:
                    z = w[j]
                    if z > 0.0:
                        w[j] = max(0.0, z - (u * abs(c[j]) + q[j]))
                    elif z < 0.0:
                        w[j] = min(0.0, z + (u * abs(c[j]) - q[j]))
                    q[j] += w[j] - z
            t += 1
            if average and t >= average:
                n_avg += 1
                w_avg += (w - w_avg) / n_avg
                b_avg += (b - b_avg) / n_avg
        curve.append(total / s.sum() + pen.value((c * w)[None])[0])
    if n_avg:
        return w_avg, b_avg, curve
    return w, b, curve


def make_weights(n, seed=1, low=0.2, high=3.0, dtype=np.float64):
    """Sample weights drawn uniformly from [low, high)."""
    return np.random.RandomState(seed).uniform(low, high, n).astype(dtype)


def squared_error_problem(X, Y, sample_weight, penalty, fit_intercept=True):
    """The data and settings a batch solver is built on: squared error, constant steps, no momentum."""
    return TrainingData(X, Y, sample_weight), Settings(
        loss=SquaredError(),
        penalty=penalty,
        fit_intercept=fit_intercept,
        schedule=SCHEDULES["constant"],
        power_t=0.5,
        momentum=0.0,
        nesterov=False,
        batch_size=1,
        shuffle=False,
        average=0,
    )


def assert_same_model(a, b, rtol=0.0):
    """Two fitted estimators hold the same model.

    ``coef_``, ``intercept_`` and ``loss_curve_`` agree to ``rtol`` (0: bit for
    bit); ``n_iter_`` and ``t_`` are equal.
    """
    for name in ("coef_", "intercept_", "loss_curve_"):
        if rtol == 0.0:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        else:
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0, err_msg=name)
    assert (a.n_iter_, a.t_) == (b.n_iter_, b.t_)


def run_example(name, *args):
    """Run ``examples/<name>`` as a script with command-line ``args``."""
    argv = sys.argv
    sys.argv = [name, *args]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = argv
