"""The training state: everything an epoch reads and writes, in one object.

Solvers update a state in place; the estimator trains on a copy and keeps it
only when the whole call succeeds, so a failed ``fit`` or ``partial_fit``
leaves the estimator exactly as it was. Pickling an estimator pickles its state,
so a resumed ``partial_fit`` continues bit for bit.

The arrays live in the training data's array namespace and on its device
(NumPy for NumPy, sparse and dask input); ``to`` moves them.
"""

import copy
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot

from ._array_api import _max_precision_float_dtype, get_namespace, get_namespace_and_device, move_to

#: The fields of a TrainingState that hold arrays (``best_model`` holds a pair).
ARRAY_FIELDS = (
    "coef",
    "intercept",
    "velocity",
    "velocity_intercept",
    "coef_average",
    "intercept_average",
    "l1_applied",
    "l1_total",
    "coef_extrapolated",
    "intercept_extrapolated",
    "smoothing_width",
)

#: What the compiled loop reads and writes of a state: what travels to a dask worker, or the host, and back.
LOOP_FIELDS = ARRAY_FIELDS + ("t", "n_averaged")


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
    conditioning : Conditioning or None
        The coordinates steps are taken in (``learning_rate="auto"``), chosen
        by the call that made the state and kept by later ``partial_fit``
        calls; None for the user's own (a float learning rate).
    average_restart : bool
        Whether averaging begins anew with the next epoch (set when the
        adaptive step is reduced).
    smoothing_width : array of shape (n_targets,) or None
        The first smoothing width of a non-smooth loss's full-batch steps
        (``skgd._algorithms._fista``), measured by the call that started training.
    coef_extrapolated, intercept_extrapolated : arrays
        Where the next accelerated step takes its gradient (FISTA's ``y``).
    momentum_t : float
        FISTA's momentum sequence (1 after a restart).
    objective : float or None
        J at ``coef``/``intercept`` on the current call's data, when known
        (set where a call starts, kept by accelerated steps).
    grow_step : bool
        Whether the next backtracking step is first tried at twice the last
        accepted one (``skgd._algorithms._backtracking``: the last was
        accepted as first tried).
    stop_reason : str
        Why the last call ended (``GradientDescentRegressor.stop_reason_``).
    moments : ColumnMoments or None
        The column moments ``conditioning`` was measured from: the data of the
        call that chose it, and of every stream chunk since (``skgd._stream``).
    gap_bound : float or None
        The measured ``J - J*`` at the model the last call left when it
        converged (``skgd._certificate``), None where nothing was measured.
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
    conditioning: object = None
    coef_extrapolated: np.ndarray = None
    intercept_extrapolated: np.ndarray = None
    momentum_t: float = 1.0
    smoothing_width: np.ndarray = None
    average_restart: bool = False
    objective: float = None
    grow_step: bool = True
    stop_reason: str = None
    moments: object = None
    gap_bound: float = None

    @classmethod
    def fresh(cls, n_targets, n_features, dtype, rng, coef_init=None, intercept_init=None, *, xp, device):
        """A state at the starting point.

        Parameters
        ----------
        n_targets, n_features : int
        dtype : dtype of ``xp``
            dtype of the iterate.
        rng : numpy.random.RandomState
        coef_init : ndarray of shape (n_targets, n_features), default=None
            Starting coefficients (zeros if None); copied.
        intercept_init : ndarray of shape (n_targets,), default=None
            Starting intercepts (zeros if None).
        xp : array namespace
            The namespace the arrays are made in: the training data's.
        device : device of ``xp``
            The device they are made on.

        Returns
        -------
        TrainingState
        """
        float64 = _max_precision_float_dtype(xp, device)
        coef = xp.zeros((n_targets, n_features), dtype=dtype, device=device)
        if coef_init is not None:
            coef = xp.asarray(coef_init, dtype=dtype, device=device, copy=True)
        intercept = xp.zeros(n_targets, dtype=float64, device=device)
        if intercept_init is not None:
            intercept = xp.asarray(intercept_init, dtype=float64, device=device, copy=True)
        return cls(coef=coef, intercept=intercept, rng=rng)

    def ensure_buffers(self, *, momentum, averaging, l1, accelerated=False):
        """Allocate the optimiser buffers the current settings need.

        Parameters
        ----------
        momentum, averaging, l1 : bool
            Whether momentum, iterate averaging and the cumulative L1 penalty
            are in use.
        accelerated : bool, default=False
            Whether FISTA runs (its extrapolated point starts at the iterate).
        """
        shape = self.coef.shape
        xp, _, device = get_namespace_and_device(self.coef)
        float64 = _max_precision_float_dtype(xp, device)
        if momentum and self.velocity is None:
            self.velocity = xp.zeros(shape, dtype=self.coef.dtype, device=device)
            self.velocity_intercept = xp.zeros(shape[0], dtype=float64, device=device)
        if averaging and self.coef_average is None:
            # float64 whatever the iterate's dtype: the compiled loop's lazy
            # average accumulates in it.
            self.coef_average = xp.zeros(shape, dtype=float64, device=device)
            self.intercept_average = xp.zeros(shape[0], dtype=float64, device=device)
        if accelerated and self.coef_extrapolated is None:
            self.coef_extrapolated = xp.asarray(self.coef, copy=True)
            self.intercept_extrapolated = xp.asarray(self.intercept, copy=True)
        if l1 and self.l1_applied is None:
            self.l1_applied = xp.zeros(shape, dtype=float64, device=device)
            self.l1_total = xp.zeros(shape[0], dtype=float64, device=device)

    def set_dtype(self, dtype):
        """Hold the iterate and its buffers in ``dtype`` (when the solver changes).

        Parameters
        ----------
        dtype : dtype of the state's namespace
        """
        for name in ("coef", "velocity", "coef_extrapolated"):
            value = getattr(self, name)
            if value is not None:
                xp, _ = get_namespace(value)
                setattr(self, name, xp.astype(value, dtype, copy=False))

    def to(self, xp, device):
        """This state with its arrays in the namespace ``xp``, on ``device``.

        Arrays already there are kept as they are (float64 ones become float32
        on a device without float64).

        Parameters
        ----------
        xp : array namespace
        device : device of ``xp``

        Returns
        -------
        TrainingState
            A shallow copy: it shares the random generator and the lists.
        """
        moved = move_to(*(getattr(self, name) for name in ARRAY_FIELDS), xp=xp, device=device)
        best_model = None if self.best_model is None else move_to(*self.best_model, xp=xp, device=device)
        conditioning = None if self.conditioning is None else self.conditioning.to_namespace(xp, device)
        return replace(
            self, best_model=best_model, conditioning=conditioning, **dict(zip(ARRAY_FIELDS, moved, strict=True))
        )

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
    X : array or sparse matrix of shape (n_samples, n_features)
    coef : array of shape (n_targets, n_features)
        In X's array namespace and on its device.
    intercept : array of shape (n_targets,)
        Likewise.

    Returns
    -------
    array of shape (n_samples, n_targets)
        In X's namespace, on its device.
    """
    xp, _ = get_namespace(X, coef, intercept)
    coef = xp.astype(coef, X.dtype, copy=False)
    return xp.asarray(safe_sparse_dot(X, coef.T)) + xp.astype(intercept, X.dtype, copy=False)
