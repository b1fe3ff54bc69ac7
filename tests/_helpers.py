"""Test helpers: the note's data and small regression problems."""

from pathlib import Path

import numpy as np

#: The note's two programs and their printed output, copied from the seed.
SEED_DIR = Path(__file__).resolve().parent / "note"

#: The note's data (x, y) and starting weight.
NOTE_X = np.array([[1.0], [2.0], [3.0]])
NOTE_Y = np.array([2.0, 4.0, 6.0])


def make_problem(n=200, d=5, n_targets=None, noise=0.1, seed=0, dtype=np.float64):
    """A linear problem y = X w + 0.5 + noise with known w."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    shape = (d,) if n_targets is None else (d, n_targets)
    w = rng.standard_normal(shape)
    y = X.astype(np.float64) @ w + 0.5 + noise * rng.standard_normal(n if n_targets is None else (n, n_targets))
    return X, y.astype(dtype)
