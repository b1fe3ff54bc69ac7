"""A stream that changes: prequential (test-then-train) evaluation against SGDRegressor, and a Poisson stream.

What it teaches:

- **Test, then train.** Each chunk is first predicted by the model as it
  stands (the prequential error: an honest estimate on data the model has not
  seen), and only then passed to ``partial_fit``. The loop below is all a
  stream user needs; it works for any estimator with ``partial_fit``.
- **A stream keeps learning.** ``GradientDescentRegressor(solver="sgd")``
  with its defaults keeps a constant safe step in a stream and predicts with
  the average of its iterates, which it restarts when a chunk says the
  running iterate predicts better (a changed concept): it tracks the change
  point as fast as ``SGDRegressor`` and is near the optimum where the stream
  is stationary, on raw columns too (scales 1e-2 to 1e2, offsets), where
  ``SGDRegressor`` needs a scaler it cannot fit on a stream it has not seen.
- **Counts on a stream.** ``loss="poisson"`` streams where no scikit-learn
  GLM has ``partial_fit``; one pass lands close to ``PoissonRegressor``
  fitted on all of the data at once.

river's ``LinearRegression`` joins the comparison when river is installed.
The figure is ``stream_prequential.png``: the running prequential error of
each model, on scaled and on raw columns.

Run: ``python examples/stream_prequential.py [--out DIR] [--full]`` (``--full``:
the issue's 100 000 rows a concept, 20 features, chunks of 1000).
"""

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import PoissonRegressor, SGDRegressor
from sklearn.metrics import mean_poisson_deviance

from skgd import GradientDescentRegressor


def concept_stream(n, d, seed=0):
    """Standardised rows, and targets of two concepts (before and after the change point)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((2 * n, d))
    w_old, w_new = rng.standard_normal(d), rng.standard_normal(d)
    y = np.concatenate([Z[:n] @ w_old, Z[n:] @ w_new]) + rng.standard_normal(2 * n)
    return Z, y


class RiverModel:
    """river's LinearRegression behind ``partial_fit``/``predict`` (one row at a time)."""

    def __init__(self):
        from river import linear_model

        self.model = linear_model.LinearRegression()

    def partial_fit(self, X, y):
        for row, target in zip(X, y, strict=True):
            self.model.learn_one(dict(enumerate(row)), float(target))
        return self

    def predict(self, X):
        return np.array([self.model.predict_one(dict(enumerate(row))) for row in X])


def peers():
    """The models compared, fresh."""
    models = {
        "skgd": GradientDescentRegressor(solver="sgd", random_state=0),
        "SGDRegressor": SGDRegressor(random_state=0),
    }
    try:
        models["river"] = RiverModel()
    except ImportError:
        pass
    return models


def prequential(models, X, y, chunk):
    """Each model's MSE on each chunk before it trains on it (test, then train)."""
    errors = {name: [] for name in models}
    for start in range(0, len(y), chunk):
        X_chunk, y_chunk = X[start : start + chunk], y[start : start + chunk]
        for name, model in models.items():
            if start:  # the first chunk has no model to test yet
                with np.errstate(all="ignore"):
                    errors[name].append(float(np.mean((model.predict(X_chunk) - y_chunk) ** 2)))
            model.partial_fit(X_chunk, y_chunk)
    return {name: np.array(e) for name, e in errors.items()}


def poisson_stream(n, d, chunk, passes, seed=1):
    """Deviance excess, coefficient and intercept gaps of a Poisson stream against PoissonRegressor on all of it."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.poisson(np.exp(X @ rng.uniform(-0.5, 0.5, d) + 0.5))
    reference = PoissonRegressor(alpha=0.0, tol=1e-10, max_iter=1000).fit(X, y)
    optimum = mean_poisson_deviance(y, reference.predict(X))
    model, rows = GradientDescentRegressor(solver="sgd", loss="poisson", random_state=0), []
    for k in range(1, passes + 1):
        for start in range(0, n, chunk):
            model.partial_fit(X[start : start + chunk], y[start : start + chunk])
        excess = mean_poisson_deviance(y, model.predict(X)) / optimum - 1
        gap = float(np.max(np.abs(model.coef_ - reference.coef_)))
        rows.append((k, excess, gap, float(model.intercept_ - reference.intercept_)))
    return rows


def main(out, full=False):
    """Run both streams, print the figures and write ``stream_prequential.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    n, d, chunk = (100_000, 20, 1000) if full else (6000, 10, 200)
    Z, y = concept_stream(n, d)
    rng = np.random.default_rng(2)
    scales, offsets = np.logspace(-2, 2, d), rng.uniform(-50, 50, d)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    change = n // chunk - 1  # the chunk index (among the tested ones) where the new concept begins
    for ax, (columns, X) in zip(axes, (("scaled", Z), ("raw", Z * scales + offsets)), strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SGDRegressor overflows on the raw columns
            errors = prequential(peers(), X, y, chunk)
        print(f"{columns} columns, {n} rows a concept, chunks of {chunk} (prequential MSE / noise variance 1):")
        for name, e in errors.items():
            after = "  ".join(f"{k:>3d}: {e[change + k - 1]:10.4g}" for k in (1, 5, 20))
            before = np.mean(e[change - 10 : change])
            print(f"  {name:13s} last 10 chunks before the change {before:10.4g}   after it {after}")
            ax.semilogy(np.arange(1, len(e) + 1), np.minimum(e, 1e6), label=name)
        ax.axvline(change + 0.5, color="0.4", linestyle=":")
        ax.axhline(1.0, color="0.6", linewidth=0.8)
        ax.set_title(f"{columns} columns: the concept changes at the dotted line")
        ax.set_xlabel(f"chunk ({chunk} rows; each tested before it trains)")
        ax.legend(loc="upper right")
    axes[0].set_ylabel("prequential MSE (noise variance 1; clipped at 1e6)")
    fig.tight_layout()
    fig.savefig(out / "stream_prequential.png", dpi=100)
    plt.close(fig)

    print("Poisson stream, 6000 x 5 in 12 chunks of 500, against PoissonRegressor fitted on all of it:")
    for k, excess, gap, intercept in poisson_stream(6000, 5, 500, passes=3):
        print(
            f"  after {k} pass(es): deviance excess {excess:.3%}, largest coefficient gap {gap:.4f}, "
            f"intercept gap {intercept:+.4f}"
        )
    print(f"figure written to {(out / 'stream_prequential.png').resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    parser.add_argument("--full", action="store_true", help="the issue's size: 100 000 rows a concept, 20 features")
    args = parser.parse_args()
    main(args.out, args.full)
