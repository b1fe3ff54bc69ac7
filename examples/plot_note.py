"""The note, reproduced: gradient descent for y = w * x with GradientDescentRegressor.

The tutorial note fits the one-weight model ``y_pred = x * w`` to the points
x = [1, 2, 3], y = [2, 4, 6], starting at w = 1.0, with a learning rate of
0.01 for 100 epochs: first full-batch gradient descent, then SGD with one
sample per update. This example runs both with skgd, prints the note's
predictions for x = 4 before and after training, and draws

- ``note_cost_vs_w.png``: the cost against w, with each solver's path on it;
- ``note_loss_per_epoch.png``: the loss per epoch, batch against SGD, drawn
  by ``LossCurveDisplay`` (each call with the same ``ax`` adds a curve).

Run: ``python examples/plot_note.py [--out DIR]`` (figures go to DIR, by
default to a new temporary folder; the script prints where).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from skgd import GradientDescentRegressor, LossCurveDisplay

X = np.array([[1.0], [2.0], [3.0]])
y = np.array([2.0, 4.0, 6.0])
NOTE = dict(learning_rate=0.01, max_iter=100, tol=None, fit_intercept=False, shuffle=False)


def weight_path(solver, epochs=100):
    """Fit one epoch at a time, recording w after each (and w = 1 at the start)."""
    reg = GradientDescentRegressor(solver=solver, **{**NOTE, "max_iter": 1})
    reg.fit(X, y, coef_init=[1.0])
    path = [1.0, float(reg.coef_[0])]
    for _ in range(epochs - 1):
        path.append(float(reg.partial_fit(X, y).coef_[0]))
    return reg, np.array(path)


def main(out):
    """Reproduce the note and write its two figures to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    fits = {}
    print("Predict (before training) 4", 4 * 1.0)
    for solver in ("batch", "sgd"):
        reg = GradientDescentRegressor(solver=solver, **NOTE).fit(X, y, coef_init=[1.0])
        fits[solver] = reg
        print(f"[{solver}] Predict (after training) 4 {float(reg.predict([[4.0]])[0])!r}")
        print(f"[{solver}] w = {float(reg.coef_[0])!r}, last loss = {reg.loss_curve_[-1]!r}")

    grid = np.linspace(0.5, 3.5, 200)
    cost = ((grid[:, None] * X.ravel() - y) ** 2).mean(axis=1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, cost, color="0.3", label="cost(w) = mean((x w - y)^2)")
    for solver, marker in (("batch", "o"), ("sgd", "s")):
        _, path = weight_path(solver)
        path_cost = ((path[:, None] * X.ravel() - y) ** 2).mean(axis=1)
        ax.plot(path, path_cost, marker=marker, markersize=3, label=f"{solver} path (w after each epoch)")
    ax.set_xlabel("w")
    ax.set_ylabel("cost")
    ax.set_title("The note's cost against w, and the descent paths from w = 1")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "note_cost_vs_w.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for solver, reg in fits.items():
        LossCurveDisplay.from_estimator(reg, ax=ax, name=solver, log_scale=True)
    ax.set_title("Loss per epoch: full batch against per-sample SGD")
    fig.tight_layout()
    fig.savefig(out / "note_loss_per_epoch.png", dpi=100)
    plt.close(fig)
    print(f"figures written to {out.resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figures (default: a new temporary folder)")
    main(parser.parse_args().out)
