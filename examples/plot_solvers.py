"""Batch, SGD, mini-batch and momentum on diabetes, against SGDRegressor and LinearRegression.

What it teaches:

- the four ways skgd descends, all on the same objective (mean squared error,
  no penalty) of scikit-learn's diabetes data, scaled in a Pipeline:
  full-batch gradient descent, per-sample SGD, mini-batch SGD and full-batch
  descent with heavy-ball momentum;
- how to read their loss curves against the exact least-squares loss J* of
  ``LinearRegression``: batch descent closes the gap steadily, momentum closes
  it in a fraction of the epochs, SGD gets close within a few passes and then
  hovers on its noise floor until the adaptive schedule shrinks the step;
- that all of them predict held-out data as well as LinearRegression and
  scikit-learn's SGDRegressor (given the same objective: ``penalty=None``).

Momentum makes the loss rise and fall while it accelerates; skgd's stall rule
allows for that by stretching ``n_iter_no_change`` by ``1 / (1 - momentum)``.

The figure is ``solvers.png``: left, each model's loss minus J* per epoch,
drawn by ``LossCurveDisplay`` from precomputed values; right, the final gap
and the held-out R^2.

Run: ``python examples/plot_solvers.py [--out DIR]``.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, SGDRegressor
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor, LossCurveDisplay

MODELS = {
    "batch": GradientDescentRegressor(solver="batch", max_iter=5000),
    "SGD (batch_size=1)": GradientDescentRegressor(solver="sgd", random_state=1),
    "mini-batch SGD (batch_size=32)": GradientDescentRegressor(solver="sgd", batch_size=32, random_state=1),
    "batch + momentum 0.9": GradientDescentRegressor(solver="batch", momentum=0.9),
    "SGDRegressor": SGDRegressor(penalty=None, random_state=0),
    "LinearRegression": LinearRegression(),
}


def main(out):
    """Fit every model and write ``solvers.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    fitted, rows = {}, []
    for name, estimator in MODELS.items():
        model = make_pipeline(StandardScaler(), estimator)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - started
        fitted[name] = model
        train_mse = mean_squared_error(y_train, model.predict(X_train))
        rows.append((name, getattr(estimator, "n_iter_", "-"), train_mse, model.score(X_test, y_test), seconds))
    j_star = mean_squared_error(y_train, fitted["LinearRegression"].predict(X_train))

    print(f"{'model':<32}{'epochs':>8}{'J - J*':>12}{'test R2':>10}{'seconds':>10}")
    for name, epochs, train_mse, r2, seconds in rows:
        print(f"{name:<32}{epochs!s:>8}{train_mse - j_star:>12.3g}{r2:>10.4f}{seconds:>10.4f}")

    fig, (ax_curve, ax_gap) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    for name, model in fitted.items():
        reg = model[-1]
        if isinstance(reg, GradientDescentRegressor):
            gap = np.asarray(reg.loss_curve_) - j_star
            LossCurveDisplay(loss_curve=gap, name=name).plot(ax=ax_curve, log_scale=True)
    ax_curve.set_xscale("symlog", linthresh=10)
    ax_curve.set_xlabel("epoch (linear up to 10, then logarithmic)")
    ax_curve.set_ylabel("loss_curve_ - J*  (J* = LinearRegression's training MSE)")
    ax_curve.set_title("How fast each solver reaches the least-squares loss")

    names = [row[0] for row in rows[:-1]]
    gaps = [row[2] - j_star for row in rows[:-1]]
    bars = ax_gap.barh(names, gaps, color=["C0", "C1", "C2", "C3", "0.5"])
    for bar, row in zip(bars, rows[:-1], strict=True):
        ax_gap.text(bar.get_width() * 1.15, bar.get_y() + bar.get_height() / 2, f"test R2 {row[3]:.3f}", va="center")
    ax_gap.set_xscale("log")
    ax_gap.set_xlim(min(gaps) / 3, max(gaps) * 30)
    ax_gap.invert_yaxis()
    ax_gap.set_xlabel("final training MSE - J*  (log scale)")
    ax_gap.set_title(f"LinearRegression: J* = {j_star:.1f}, test R2 {rows[-1][3]:.3f}")
    fig.suptitle("Diabetes (scaled): the same least-squares objective, six ways")
    fig.tight_layout()
    fig.savefig(out / "solvers.png", dpi=100)
    plt.close(fig)
    print(f"figure written to {(out / 'solvers.png').resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    main(parser.parse_args().out)
