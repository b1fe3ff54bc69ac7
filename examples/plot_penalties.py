"""Penalties: the l1 path, exact zeros and all, against scikit-learn's Lasso.

What it teaches:

- ``penalty="l1"`` makes coefficients exactly zero: the batch solver takes a
  proximal step (soft thresholding) for the l1 part, so a coefficient the
  penalty beats lands on 0.0, not on 1e-9;
- how skgd's ``alpha`` maps onto scikit-learn's: skgd's squared error has no
  factor 1/2, so ``penalty="l1", alpha=a`` solves the problem of
  ``Lasso(alpha=a / 2)`` (``"elasticnet"`` is ``ElasticNet(alpha=a / 2)``,
  ``"l2"`` is ``Ridge(alpha=n_samples * a / 2)``);
- a regularisation path fitted the way scikit-learn's ``lasso_path`` does it:
  from the largest alpha down, each fit warm-started from the previous one
  (``warm_start=True`` with ``set_params(alpha=...)``).

Data: scikit-learn's diabetes set, scaled. The figure is ``penalties.png``:
the coefficient paths of both estimators, and how many coefficients each
sets exactly to zero.

Run: ``python examples/plot_penalties.py [--out DIR] [--n-alphas N]``.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor


def main(out, n_alphas=25):
    """Fit both l1 paths and write ``penalties.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    data = load_diabetes()
    X, y = StandardScaler().fit_transform(data.data), data.target
    # The smallest skgd alpha at which every coefficient is zero (twice Lasso's);
    # the path starts a little above it, where both models are all zeros.
    alpha_max = 2 * np.max(np.abs(X.T @ (y - y.mean()))) / len(y)
    alphas = alpha_max * np.logspace(0.1, -3, n_alphas)

    reg = GradientDescentRegressor(penalty="l1", tol=1e-7, max_iter=20_000, warm_start=True)
    ours, theirs = [], []
    for alpha in alphas:
        ours.append(reg.set_params(alpha=alpha).fit(X, y).coef_.copy())
        theirs.append(Lasso(alpha=alpha / 2, tol=1e-10, max_iter=100_000).fit(X, y).coef_)
    ours, theirs = np.array(ours), np.array(theirs)
    zeros_ours, zeros_theirs = (ours == 0).sum(axis=1), (theirs == 0).sum(axis=1)

    print(f"{'alpha':>9}{'zeros (skgd)':>14}{'zeros (Lasso)':>15}{'max |coef difference|':>24}")
    for alpha, z_ours, z_theirs, a, b in zip(alphas, zeros_ours, zeros_theirs, ours, theirs, strict=True):
        print(f"{alpha:>9.3g}{z_ours:>14d}{z_theirs:>15d}{np.max(np.abs(a - b)):>24.2g}")
    print(
        f"largest coefficient: {np.abs(theirs).max():.1f}; the zeros agree at "
        f"{int(np.sum(zeros_ours == zeros_theirs))} of {n_alphas} alphas"
    )

    fig, (ax_path, ax_zeros) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    for j, feature in enumerate(data.feature_names):
        (line,) = ax_path.plot(alphas, ours[:, j], label=feature)
        ax_path.plot(alphas, theirs[:, j], "o", color=line.get_color(), markersize=3, markerfacecolor="none")
    ax_path.set_xscale("log")
    ax_path.invert_xaxis()
    ax_path.set_xlabel("skgd alpha (Lasso's alpha is half), log scale, decreasing")
    ax_path.set_ylabel("coefficient")
    ax_path.set_title("l1 paths: skgd (lines) and Lasso(alpha=alpha/2) (circles)")
    ax_path.legend(ncol=2, fontsize="small", title="feature")

    ax_zeros.step(alphas, zeros_ours, where="mid", label="skgd: coef_ == 0.0")
    ax_zeros.plot(alphas, zeros_theirs, "o", markerfacecolor="none", label="Lasso: coef_ == 0.0")
    ax_zeros.set_xscale("log")
    ax_zeros.invert_xaxis()
    ax_zeros.set_yticks(range(0, X.shape[1] + 1, 2))
    ax_zeros.set_xlabel("skgd alpha, log scale, decreasing")
    ax_zeros.set_ylabel("coefficients exactly zero")
    ax_zeros.set_title("Exact zeros, not merely small ones")
    ax_zeros.legend()
    fig.suptitle("penalty='l1' on diabetes (scaled): the same problem as Lasso, solved by proximal gradient descent")
    fig.tight_layout()
    fig.savefig(out / "penalties.png", dpi=100)
    plt.close(fig)
    print(f"figure written to {(out / 'penalties.png').resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    parser.add_argument("--n-alphas", type=int, default=25, help="alphas on the path")
    args = parser.parse_args()
    main(args.out, args.n_alphas)
