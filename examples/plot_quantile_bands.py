"""Quantile bands on heteroscedastic data: the 0.1, 0.5 and 0.9 quantiles, and a Poisson fit on counts.

What it teaches:

- ``loss="quantile"`` with ``quantile=q`` fits the line under which a share
  ``q`` of the targets fall; three fits give a band whose width follows the
  noise (here the spread grows with x). On held-out data each line covers
  about its ``q``, and the batch fit lands on ``QuantileRegressor``'s
  objective (a linear program) in a fraction of its time;
- ``loss="poisson"`` fits counts with a log link: ``predict`` is
  ``exp(X w + b)``, ``coef_`` is on the log scale, ``loss_curve_`` is in
  deviance, and ``score`` is D^2 (the share of deviance explained). With
  ``alpha=a`` and ``penalty="l2"`` it is ``PoissonRegressor(alpha=a / 2)``;
  the same estimator also streams with ``partial_fit`` and fits dask arrays,
  which ``PoissonRegressor`` does not.

The figure is ``quantile_bands.png``.

Run: ``python examples/plot_quantile_bands.py [--out DIR] [--rows N]``.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import PoissonRegressor, QuantileRegressor

from skgd import GradientDescentRegressor

#: The quantiles drawn, each with its colour.
QUANTILES = {0.1: "tab:blue", 0.5: "tab:green", 0.9: "tab:red"}


def heteroscedastic(n, seed=0):
    """x in [0, 10], y = 2 x + 5 plus noise whose spread grows with x (raw units, an offset)."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(0.0, 10.0, n)
    y = 2.0 * x + 5.0 + (0.5 + 0.6 * x) * rng.standard_normal(n)
    return x[:, None], y


def pinball(y, prediction, q):
    """The mean pinball loss at quantile ``q``."""
    u = y - prediction
    return float(np.mean(np.maximum(q * u, (q - 1.0) * u)))


def quantile_bands(n):
    """Fit each quantile with skgd and QuantileRegressor; print coverage, objective gap and time ratio."""
    X, y = heteroscedastic(n)
    X_test, y_test = heteroscedastic(n, seed=1)
    fits = {}
    print(f"{'quantile':>8} {'coverage':>9} {'objective gap':>14} {'QuantileRegressor s / skgd s':>29}")
    for q in QUANTILES:
        start = time.perf_counter()
        ours = GradientDescentRegressor(loss="quantile", quantile=q).fit(X, y)
        ours_seconds = time.perf_counter() - start
        start = time.perf_counter()
        peer = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y)
        peer_seconds = time.perf_counter() - start
        coverage = float(np.mean(y_test <= ours.predict(X_test)))
        gap = pinball(y, ours.predict(X), q) / pinball(y, peer.predict(X), q) - 1.0
        print(f"{q:>8} {coverage:>9.3f} {gap:>14.2e} {peer_seconds / ours_seconds:>29.1f}")
        fits[q] = ours
    return X, y, fits


def poisson_counts(n):
    """Counts with a log-linear mean; skgd's Poisson fit against PoissonRegressor's."""
    rng = np.random.RandomState(2)
    X = rng.standard_normal((n, 5)) * [1.0, 10.0, 0.1, 100.0, 1.0] + [0.0, 50.0, 0.0, -200.0, 3.0]
    log_mean = 0.3 * X[:, 0] + 0.02 * (X[:, 1] - 50.0) - 2.0 * X[:, 2] + 0.5
    y = rng.poisson(np.exp(log_mean)).astype(float)
    start = time.perf_counter()
    ours = GradientDescentRegressor(loss="poisson", penalty="l2", alpha=2e-3).fit(X, y)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    peer = PoissonRegressor(alpha=1e-3, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    peer_seconds = time.perf_counter() - start
    gap = np.max(np.abs(ours.coef_ - peer.coef_)) / np.max(np.abs(peer.coef_))
    print(f"Poisson on {n} counts: largest coefficient difference to PoissonRegressor {gap:.1e} (relative)")
    print(f"  PoissonRegressor (newton-cholesky, tol=1e-12) s / skgd s: {peer_seconds / ours_seconds:.1f}")
    print(f"  D2 skgd {ours.score(X, y):.6f}, PoissonRegressor {peer.score(X, y):.6f}; {ours.n_iter_} epochs")
    same = np.allclose(ours.predict(X[:3]), np.exp(X[:3] @ ours.coef_ + ours.intercept_))
    print(f"  predict is exp(X w + b): {same}")
    return gap


def draw(X, y, fits, out):
    """The data and the three quantile lines, saved as ``quantile_bands.png`` in ``out``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(X[:, 0], y, s=4, color="0.6", alpha=0.5, label="data")
    grid = np.linspace(0.0, 10.0, 50)[:, None]
    for q, colour in QUANTILES.items():
        ax.plot(grid[:, 0], fits[q].predict(grid), color=colour, lw=2, label=f"quantile {q}")
    ax.set(xlabel="x", ylabel="y", title="Quantile bands: the spread grows with x")
    ax.legend(loc="upper left")
    path = Path(out) / "quantile_bands.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"saved {path}")


def main(out=None, rows=5000):
    """Run the quantile bands and the Poisson fit; draw the bands when matplotlib is installed."""
    X, y, fits = quantile_bands(rows)
    poisson_counts(rows)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    draw(X, y, fits, out or tempfile.mkdtemp())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for the figure (default: a temporary one)")
    parser.add_argument("--rows", type=int, default=5000)
    arguments = parser.parse_args()
    main(arguments.out, arguments.rows)
