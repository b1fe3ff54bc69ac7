"""Benchmark: time to accuracy on raw data, skgd's default batch fit against the best peer.

A default ``GradientDescentRegressor`` fit stops when it judges itself within
``tol / 100`` of the optimum. This measures the objective gap it actually
reaches, relative to the optimum J* (found by the tightest solver at hand),
and how long the best peer needs to reach that same gap, in one run:

- raw least squares (columns at scales 1e-2..1e3 with offsets) against
  ``LinearRegression`` (a direct solve, whatever the gap);
- huber on columns scaled 1..10 with offsets against scipy's L-BFGS-B on the
  exact huber objective (its iterates recorded, the first one at the gap timed);
- l1 against ``Lasso(alpha / 2)`` (coordinate descent), with ever tighter
  ``tol`` until it reaches the gap;
- poisson, gamma and tweedie (power 1.5, compound Poisson-gamma targets) with
  an L2 penalty on raw columns (scales 1e-1..1e1 with offsets; 50 columns, and
  a wide poisson case of 300 on half the rows) against scikit-learn's
  ``PoissonRegressor`` / ``GammaRegressor`` / ``TweedieRegressor(link="log")``
  (``solver="newton-cholesky"``) and glum's ``GeneralizedLinearRegressor``
  when installed, each with ever tighter ``tol`` until it reaches the gap;
- the 0.9-quantile on raw heteroscedastic data against ``QuantileRegressor``
  (scikit-learn's linear program, HiGHS: its solution is the optimum), at
  20 000 x 20 (``QuantileRegressor`` grows about as n**2, so this row keeps
  its size), and with ``--full`` a 1 000 000 x 20 fit that no peer makes.

Ratio = peer seconds / skgd seconds (above 1: skgd is faster). Run
``python examples/benchmark_time_to_accuracy.py`` for small sizes or
``--full`` for 200 000 rows.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    GammaRegressor,
    Lasso,
    LinearRegression,
    PoissonRegressor,
    QuantileRegressor,
    TweedieRegressor,
)
from sklearn.metrics import mean_tweedie_deviance

from skgd import GradientDescentRegressor

#: Rows of each problem, by the size the benchmark runs at.
SIZES = {"tiny": 2_000, "small": 20_000, "full": 200_000}

#: Rows of the quantile row against QuantileRegressor, and of the quantile fit alone.
QUANTILE_SIZES = {"tiny": (2_000, None), "small": (20_000, None), "full": (20_000, 1_000_000)}


def raw_data(n, d, low, high, seed):
    """Columns at log-spaced scales from ``low`` to ``high``, offsets of a few scales, y linear plus noise."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(np.log10(low), np.log10(high), d)
    X = (rng.standard_normal((n, d)) + rng.uniform(-3.0, 3.0, d)) * scales
    y = X @ (rng.standard_normal(d) / scales) + 2.0 + 0.5 * rng.standard_normal(n)
    return X, y


def best_of(fit, repeat=3):
    """Best wall time of ``repeat`` calls of ``fit`` and its last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - start)
    return best, result


def huber_objective(X, y, epsilon):
    """skgd's huber objective of ``(w, b)`` and its gradient, for scipy."""

    def value_and_gradient(theta):
        r = X @ theta[:-1] + theta[-1] - y
        c = np.clip(r, -epsilon, epsilon)
        derivative = 2.0 * c / len(y)
        return float(np.mean(c * (2.0 * r - c))), np.append(X.T @ derivative, derivative.sum())

    return value_and_gradient


#: Relative gaps under this are rounding on these sums: a gap is reported as at least this.
ROUNDING_GAP = 1e-12


def lbfgs_run(fun, x0):
    """One L-BFGS-B run to its limit: ``(seconds, objective)`` after each iteration.

    The iterates are recorded with their time stamps (a copy per iteration)
    and evaluated afterwards, so the timing holds only the solver.
    """
    stamps = []
    start = time.perf_counter()
    minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=lambda xk: stamps.append((time.perf_counter() - start, xk.copy())),
        options=dict(maxiter=5_000, gtol=1e-14, ftol=1e-16),
    )
    return [(seconds, fun(x)[0]) for seconds, x in stamps]


def report(name, peer, ours_seconds, peer_seconds, gap, peer_gap):
    """Print a row; return the ratio and both gaps."""
    ratio = peer_seconds / ours_seconds
    print(f"{name:<40} {peer:<22} {ours_seconds:8.3f} {peer_seconds:8.3f} {ratio:7.2f}  {gap:9.2e} {peer_gap:9.2e}")
    return dict(ratio=ratio, gap=gap, peer_gap=peer_gap)


def least_squares_row(n):
    X, y = raw_data(n, 30, 1e-2, 1e3, seed=0)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    optimum = float(np.mean((Xc @ np.linalg.lstsq(Xc, yc, rcond=None)[0] - yc) ** 2))
    ours_seconds, reg = best_of(lambda: GradientDescentRegressor().fit(X, y))
    peer_seconds, peer = best_of(lambda: LinearRegression().fit(X, y))
    gap = max(np.mean((reg.predict(X) - y) ** 2) / optimum - 1.0, ROUNDING_GAP)
    peer_gap = max(np.mean((peer.predict(X) - y) ** 2) / optimum - 1.0, ROUNDING_GAP)
    return report(f"least squares, {n} x 30, raw", "LinearRegression", ours_seconds, peer_seconds, gap, peer_gap)


def huber_row(n, epsilon=1.0, repeat=3):
    X, y = raw_data(n, 40, 1.0, 10.0, seed=1)
    fun = huber_objective(X, y, epsilon)
    ours_seconds, reg = best_of(lambda: GradientDescentRegressor(loss="huber", epsilon=epsilon).fit(X, y))
    ours = fun(np.append(reg.coef_, reg.intercept_))[0]
    runs = [lbfgs_run(fun, np.zeros(41)) for _ in range(repeat)]
    optimum = min(ours, *(value for run in runs for _, value in run))
    gap = max(ours / optimum - 1.0, ROUNDING_GAP)
    reached = [next((t for t, value in run if value <= optimum * (1.0 + gap)), np.nan) for run in runs]
    name = f"huber, {n} x 40, scaled 1-10, offsets"
    return report(name, "scipy L-BFGS-B", ours_seconds, np.nanmin(reached), gap, gap)


def lasso_row(n, alpha=0.02):
    X, y = raw_data(n, 30, 1.0, 10.0, seed=2)

    def objective(coef, intercept):
        return float(np.mean((X @ coef + intercept - y) ** 2) + alpha * np.abs(coef).sum())

    tight = Lasso(alpha=alpha / 2, tol=1e-14, max_iter=100_000).fit(X, y)
    ours_seconds, reg = best_of(lambda: GradientDescentRegressor(penalty="l1", alpha=alpha).fit(X, y))
    ours = objective(reg.coef_, reg.intercept_)
    optimum = min(objective(tight.coef_, tight.intercept_), ours)
    gap = max(ours / optimum - 1.0, ROUNDING_GAP)
    for tol in 10.0 ** -np.arange(2, 13):
        peer_seconds, peer = best_of(lambda tol=tol: Lasso(alpha=alpha / 2, tol=tol, max_iter=100_000).fit(X, y))
        peer_gap = objective(peer.coef_, peer.intercept_) / optimum - 1.0
        if peer_gap <= gap:
            break
    return report(
        f"l1, {n} x 30, scaled 1-10, offsets", f"Lasso (tol={tol:.0e})", ours_seconds, peer_seconds, gap, peer_gap
    )


#: The Tweedie power of each family the GLM rows fit.
POWERS = {"poisson": 1.0, "gamma": 2.0, "tweedie": 1.5}


def glm_data(n, d, family, seed):
    """Raw columns (scales 1e-1..1e1, offsets) and targets of ``family`` with a log-linear mean.

    Poisson counts; gamma targets of shape 2; tweedie's compound Poisson-gamma
    of power 1.5 and dispersion 1 (a Poisson number of gamma summands, zero
    for none).
    """
    rng = np.random.RandomState(seed)
    scales = np.logspace(-1, 1, d)
    X = (rng.standard_normal((n, d)) + rng.uniform(-3.0, 3.0, d)) * scales
    mean = np.exp(0.5 * (X - X.mean(axis=0)) @ (rng.standard_normal(d) / scales / np.sqrt(d)) + 1.0)
    if family == "poisson":
        return X, rng.poisson(mean).astype(float)
    if family == "gamma":
        return X, rng.gamma(2.0, mean / 2.0)
    power = POWERS[family]
    counts = rng.poisson(mean ** (2.0 - power) / (2.0 - power))
    shape, scale = (2.0 - power) / (power - 1.0), (power - 1.0) * mean ** (power - 1.0)
    return X, np.where(counts > 0, rng.gamma(np.maximum(counts, 1) * shape, scale), 0.0)


def _tightened(fit, objective, optimum, gap):
    """The first of ever tighter ``tol`` at which ``fit(tol)`` reaches ``gap``: its tol, best time and gap."""
    for tol in 10.0 ** -np.arange(2, 13):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seconds, peer = best_of(lambda tol=tol: fit(tol))
        peer_gap = max(objective(peer.coef_, peer.intercept_) / optimum - 1.0, ROUNDING_GAP)
        if peer_gap <= gap:
            break
    return tol, seconds, peer_gap


def glm_row(n, d, family, alpha=1e-3):
    """A default L2 fit of ``family``; scikit-learn's Newton solver (and glum's, if installed) timed to its gap.

    skgd's deviance is the full one and its penalty ``alpha * ||w||^2 / 2``, so
    ``2 * alpha`` is scikit-learn's ``alpha`` on its half deviance.
    """
    X, y = glm_data(n, d, family, seed=5)
    power = POWERS[family]

    def objective(coef, intercept):
        mu = np.exp(X @ coef + intercept)
        return 0.5 * mean_tweedie_deviance(y, mu, power=power) + 0.5 * alpha * float(coef @ coef)

    extra = {"power": power} if family == "tweedie" else {}
    peer_class = {"poisson": PoissonRegressor, "gamma": GammaRegressor}.get(family)

    def peer(**params):
        model = peer_class() if peer_class else TweedieRegressor(link="log", **extra)
        return model.set_params(alpha=alpha, solver="newton-cholesky", **params).fit(X, y)

    ours_seconds, reg = best_of(
        lambda: GradientDescentRegressor(loss=family, penalty="l2", alpha=2 * alpha, **extra).fit(X, y)
    )
    tight = peer(tol=1e-14, max_iter=1000)
    ours = objective(reg.coef_, reg.intercept_)
    optimum = min(objective(tight.coef_, tight.intercept_), ours)
    gap = max(ours / optimum - 1.0, ROUNDING_GAP)
    peers = {"newton-cholesky": lambda tol: peer(tol=tol)}
    try:
        from glum import GeneralizedLinearRegressor, TweedieDistribution
    except ImportError:
        pass
    else:
        peers["glum"] = lambda tol: GeneralizedLinearRegressor(
            family=TweedieDistribution(power) if extra else family,
            link="log",
            alpha=alpha,
            l1_ratio=0.0,
            gradient_tol=tol,
        ).fit(X, y)
    timed = {name: _tightened(fit, objective, optimum, gap) for name, fit in peers.items()}
    name, (tol, peer_seconds, peer_gap) = min(timed.items(), key=lambda item: item[1][1])
    return report(
        f"{family} + l2, {n} x {d}, raw", f"{name} (tol={tol:.0e})", ours_seconds, peer_seconds, gap, peer_gap
    )


def heteroscedastic_data(n, d, seed):
    """Raw columns (scales 1e-2..1e2, offsets) and noise whose spread grows with the first column."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(-2, 2, d)
    X = rng.standard_normal((n, d)) * scales + rng.uniform(-50.0, 50.0, d)
    y = (
        X @ (rng.standard_normal(d) / scales)
        + 3.0
        + (1.0 + np.abs(X[:, 0] - X[:, 0].mean()) / scales[0]) * (rng.standard_normal(n))
    )
    return X, y


def pinball(y, prediction, q):
    """The mean pinball loss at quantile ``q``."""
    u = y - prediction
    return float(np.mean(np.maximum(q * u, (q - 1.0) * u)))


def quantile_row(n, q=0.9):
    X, y = heteroscedastic_data(n, 20, seed=3)
    ours_seconds, reg = best_of(lambda: GradientDescentRegressor(loss="quantile", quantile=q).fit(X, y))
    peer_seconds, peer = best_of(lambda: QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y), 1)
    optimum = min(pinball(y, peer.predict(X), q), pinball(y, reg.predict(X), q))
    gap = max(pinball(y, reg.predict(X), q) / optimum - 1.0, ROUNDING_GAP)
    peer_gap = max(pinball(y, peer.predict(X), q) / optimum - 1.0, ROUNDING_GAP)
    name = f"quantile {q}, {n} x 20, raw"
    return report(name, "QuantileRegressor", ours_seconds, peer_seconds, gap, peer_gap)


def quantile_at_scale(n, q=0.9):
    """Time one default quantile fit on ``n`` rows (no peer reaches this size); return the seconds."""
    X, y = heteroscedastic_data(n, 20, seed=4)
    seconds, reg = best_of(lambda: GradientDescentRegressor(loss="quantile", quantile=q).fit(X, y), 1)
    print(f"quantile {q}, {n} x 20, raw: one default fit in {seconds:.1f} s ({reg.n_iter_} epochs, {reg.stop_reason_})")
    return seconds


def main(size="small"):
    """Print the rows at ``size`` ("tiny", "small" or "full"); return them."""
    n, repeat = SIZES[size], 1 if size == "tiny" else 3
    n_quantile, n_scale = QUANTILE_SIZES[size]
    print(f"{'problem':<40} {'peer':<22} {'skgd s':>8} {'peer s':>8} {'ratio':>7}  {'skgd gap':>9} {'peer gap':>9}")
    rows = [least_squares_row(n), huber_row(n, repeat=repeat), lasso_row(n), quantile_row(n_quantile)]
    rows += [glm_row(n, 50, family) for family in POWERS] + [glm_row(n // 2, 300, "poisson")]
    if n_scale is not None:
        quantile_at_scale(n_scale)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="200 000 rows (slower)")
    parser.add_argument("--out", default=None, help="unused; accepted like every example's")
    main("full" if parser.parse_args().full else "small")
