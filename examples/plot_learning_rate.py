"""Choosing a learning rate: a grid search, every candidate's loss curve, and a divergence.

What it teaches:

- search ``learning_rate`` with GridSearchCV over a Pipeline (scale, then
  descend), as for any scikit-learn hyper-parameter;
- draw every candidate's loss curve on one plot with ``LossCurveDisplay``:
  too small crawls, the right size drops fast, and past ``1 / lambda_max`` of
  the scaled data's covariance (here about 0.25) the loss blows up;
- how skgd reports a divergence: ``fit`` raises ``ValueError`` naming the
  epoch, the learning rate and the remedy, and keeps the model it had. Inside
  GridSearchCV (``error_score=np.nan``) that candidate scores NaN, with a
  ``FitFailedWarning``. To watch the blow-up anyway, train one epoch at a time
  with ``partial_fit``: the call that diverges raises, and the model keeps the
  epochs before it.

Data: scikit-learn's diabetes set (442 patients, 10 features), shipped with
scikit-learn. The figure is ``learning_rate.png``.

Run: ``python examples/plot_learning_rate.py [--out DIR]``.
"""

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor, LossCurveDisplay

#: The learning rates tried, each with its colour in the figure. "auto" is
#: skgd's safe step 1 / L, derived from the data without a search.
CANDIDATES = {
    0.001: "tab:blue",
    0.01: "tab:orange",
    0.1: "tab:green",
    "auto": "tab:gray",
    0.2: "tab:purple",
    0.3: "tab:red",
}
EPOCHS = 200


def diverging_curve(X, y, learning_rate):
    """Train one epoch at a time until skgd refuses; the model keeps the epochs before."""
    reg = GradientDescentRegressor(learning_rate=learning_rate, schedule="constant", tol=None)
    for _ in range(EPOCHS):
        try:
            reg.partial_fit(X, y)
        except ValueError:
            break
    return reg


def main(out):
    """Search the learning rate and write ``learning_rate.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_diabetes(return_X_y=True)

    pipe = make_pipeline(StandardScaler(), GradientDescentRegressor(schedule="constant", max_iter=EPOCHS, tol=None))
    search = GridSearchCV(pipe, {"gradientdescentregressor__learning_rate": list(CANDIDATES)}, cv=5, error_score=np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitFailedWarning)
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    for rate, score in zip(search.cv_results_["param_gradientdescentregressor__learning_rate"], scores, strict=True):
        verdict = f"{score:.4f}" if np.isfinite(score) else "nan (every fold diverged)"
        print(f"learning_rate={rate!s:<6} mean CV R2 = {verdict}")
    print("best:", search.best_params_)
    failures = [w for w in caught if issubclass(w.category, FitFailedWarning)]
    if failures:
        print("GridSearchCV warned:", str(failures[0].message).strip().splitlines()[0])

    X_scaled = StandardScaler().fit_transform(X)
    lambda_max = np.linalg.eigvalsh(X_scaled.T @ X_scaled / len(X_scaled)).max()
    print(f"1 / lambda_max of the scaled covariance: {1 / lambda_max:.3f}")

    fig, (ax_all, ax_ok) = plt.subplots(1, 2, figsize=(11, 4.2))
    for rate, color in CANDIDATES.items():
        model = make_pipeline(
            StandardScaler(),
            GradientDescentRegressor(learning_rate=rate, schedule="constant", max_iter=EPOCHS, tol=None),
        )
        try:
            model.fit(X, y)
        except ValueError as error:
            print(f"learning_rate={rate}: {error}")
            reg = diverging_curve(X_scaled, y, rate)
            print(
                f"  partial_fit kept the {reg.n_iter_} epochs before the refusal; last loss {reg.loss_curve_[-1]:.3g}"
            )
            LossCurveDisplay.from_estimator(
                reg, ax=ax_all, name=f"{rate} (diverged at epoch {reg.n_iter_})", log_scale=True, color=color
            )
            ax_all.plot(reg.n_iter_ - 1, reg.loss_curve_[-1], "x", color=color, markersize=10)
            continue
        name = f"auto = {model[-1].learning_rate_:.3f}" if rate == "auto" else str(rate)
        for ax in (ax_all, ax_ok):
            LossCurveDisplay.from_estimator(model, ax=ax, name=name, log_scale=True, color=color)
    best = search.best_params_["gradientdescentregressor__learning_rate"]
    ax_all.set_title("Every candidate: the largest diverges")
    ax_ok.set_title(f"The candidates that converge (best by CV: {best})")
    for ax in (ax_all, ax_ok):
        ax.legend(title="learning_rate")
    fig.suptitle("Choosing a learning rate: batch gradient descent on diabetes (scaled)")
    fig.tight_layout()
    fig.savefig(out / "learning_rate.png", dpi=100)
    plt.close(fig)
    print(f"figure written to {(out / 'learning_rate.png').resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    main(parser.parse_args().out)
