"""The training state: everything an epoch reads and writes, in one object.

Solvers update a state in place; the estimator trains on a copy and keeps it
only when the whole call succeeds, so a failed ``fit`` or ``partial_fit``
leaves the estimator exactly as it was. Pickling an estimator pickles its state,
so a resumed ``partial_fit`` continues bit for bit.
"""

import copy
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot


@dataclass
class TrainingState:
    """Iterate, optimiser buffers and bookkeeping of one model in training.

    Parameters
    ----------
    coef : ndarray of shape (n_targets, n_features)
        The running iterate (not averaged).
    intercept : ndarray of shape (n_targets,)
    rng : numpy.random.RandomState
        Source of the sample order; carried across ``partial_fit`` calls.
    """

    coef: np.ndarray
    intercept: np.ndarray
    rng: np.random.RandomState
    velocity: np.ndarray = None
    velocity_intercept: np.ndarray = None
    coef_average: np.ndarray = None
    intercept_average: np.ndarray = None
    n_averaged: int = 0
    l1_applied: np.ndarray = None
    l1_total: np.ndarray = None
    t: int = 0
    n_iter: int = 0
    eta0: float = None
    eta_factor: float = 1.0
    loss_curve: list = field(default_factory=list)
    best_metric: float = np.inf
    n_no_improvement: int = 0
    validation_scores: list = field(default_factory=list)
    best_model: tuple = None

    @classmethod
    def fresh(cls, n_targets, n_features, dtype, rng, coef_init=None, intercept_init=None):
        """A state at the starting point.

        Parameters
        ----------
        n_targets, n_features : int
        dtype : numpy dtype
            dtype of the iterate.
        rng : numpy.random.RandomState
        coef_init : array-like of shape (n_targets, n_features), default=None
            Starting coefficients (zeros if None).
        intercept_init : array-like of shape (n_targets,), default=None
            Starting intercepts (zeros if None).

        Returns
        -------
        TrainingState
        """
        coef = np.zeros((n_targets, n_features), dtype=dtype)
        if coef_init is not None:
            coef[...] = coef_init
        intercept = np.zeros(n_targets, dtype=np.float64)
        if intercept_init is not None:
            intercept[...] = intercept_init
        return cls(coef=coef, intercept=intercept, rng=rng)

    def ensure_buffers(self, *, momentum, averaging, l1):
        """Allocate the optimiser buffers the current settings need.

        Parameters
        ----------
        momentum, averaging, l1 : bool
            Whether momentum, iterate averaging and the cumulative L1 penalty
            are in use.
        """
        shape = self.coef.shape
        if momentum and self.velocity is None:
            self.velocity = np.zeros(shape, dtype=self.coef.dtype)
            self.velocity_intercept = np.zeros(shape[0])
        if averaging and self.coef_average is None:
            # float64 whatever the iterate's dtype: the compiled loop's lazy
            # average accumulates in it.
            self.coef_average = np.zeros(shape)
            self.intercept_average = np.zeros(shape[0])
        if l1 and self.l1_applied is None:
            self.l1_applied = np.zeros(shape)
            self.l1_total = np.zeros(shape[0])

    def set_dtype(self, dtype):
        """Hold the iterate and its buffers in ``dtype`` (when the solver changes).

        Parameters
        ----------
        dtype : numpy dtype
        """
        for name in ("coef", "velocity"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.astype(dtype, copy=False))

    def copy(self):
        """An independent copy (arrays and random state included).

        Returns
        -------
        TrainingState
        """
        return copy.deepcopy(self)

    def model(self):
        """The coefficients a prediction uses now: averaged once averaging began.

        Returns
        -------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        """
        if self.n_averaged > 0:
            return self.coef_average, self.intercept_average
        return self.coef, self.intercept


def independent_rng(random_state):
    """A RandomState of the state's own, seeded from ``random_state``.

    The state never holds numpy's global generator (what ``None`` stands for),
    so a pickled or restored state is not changed by draws elsewhere.

    Parameters
    ----------
    random_state : int, RandomState instance or None

    Returns
    -------
    numpy.random.RandomState
    """
    return np.random.RandomState(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def linear_predict(X, coef, intercept):
    """``X @ coef.T + intercept`` in X's floating dtype.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)

    Returns
    -------
    ndarray of shape (n_samples, n_targets)
    """
    coef = np.asarray(coef, dtype=X.dtype)
    return np.asarray(safe_sparse_dot(X, coef.T)) + np.asarray(intercept, dtype=X.dtype)
