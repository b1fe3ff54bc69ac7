"""Test helpers: the note's data, small regression problems, model comparison, example runs."""

import runpy
import sys
from pathlib import Path

import numpy as np

from skgd._objective import LOSSES
from skgd._problem import Problem

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


def make_weights(n, seed=1, low=0.2, high=3.0, dtype=np.float64):
    """Sample weights drawn uniformly from [low, high)."""
    return np.random.RandomState(seed).uniform(low, high, n).astype(dtype)


def squared_error_problem(X, Y, sample_weight, penalty, fit_intercept=True):
    """The ``Problem`` a batch solver is built on: squared error, constant steps, no momentum."""
    return Problem(
        X=X,
        Y=Y,
        sample_weight=sample_weight,
        loss=LOSSES["squared_error"],
        epsilon=0.1,
        penalty=penalty,
        fit_intercept=fit_intercept,
        schedule="constant",
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
