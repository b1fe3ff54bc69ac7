"""The training state: the iterate and bookkeeping every algorithm shares, holding each algorithm's own part.

An algorithm's own state (``StatePart``: sgd's averages, FISTA's
extrapolation, the line search's, momentum's velocities) is a dataclass in
its module under ``skgd._algorithms``, made by the algorithm that first needs
it; the state moves, casts, copies and restarts its parts as one.

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

from ._array_api import _max_precision_float_dtype, get_namespace, move_to

#: The fields of a TrainingState that hold the algorithms' parts.
PARTS = ("momentum", "sgd", "fista", "search", "conjugate")


class StatePart:
    """An algorithm's own part of a ``TrainingState``: a dataclass whose arrays move, cast and restart with it.

    ``ARRAYS`` names its array fields, ``ITERATE`` those among them held in
    the iterate's dtype, and ``PAIRS`` its ``(coef, intercept)`` pairs that
    change coordinates as the iterate does (``Conditioning.convert``).
    """

    ARRAYS = ()
    ITERATE = ()
    PAIRS = ()

    def to(self, xp, device):
        """This part with its arrays in the namespace ``xp``, on ``device`` (a shallow copy)."""
        moved = [move_to(getattr(self, name), xp=xp, device=device) for name in self.ARRAYS]
        return replace(self, **dict(zip(self.ARRAYS, moved, strict=True)))

    def set_dtype(self, dtype):
        """Hold the arrays that follow the iterate in ``dtype``."""
        for name in self.ITERATE:
            value = getattr(self, name)
            if value is not None:
                xp, _ = get_namespace(value)
                setattr(self, name, xp.astype(value, dtype, copy=False))

    def restart(self, coef, intercept):
        """Begin anew at the model ``(coef, intercept)`` a step outside the algorithm moved to (nothing to do here)."""

    def model(self):
        """The model a prediction uses instead of the iterate, or None (the iterate)."""
        return None


@dataclass
class TrainingState:
    """Iterate, bookkeeping and the algorithms' own parts of one model in training.

    Parameters
    ----------
    coef : ndarray of shape (n_targets, n_features)
        The running iterate (not averaged).
    intercept : ndarray of shape (n_targets,)
    rng : numpy.random.RandomState
        Source of the sample order; carried across ``partial_fit`` calls.
    t : int
        Updates taken so far (the schedules' clock).
    conditioning : Conditioning or None
        The coordinates steps are taken in (``learning_rate="auto"``), chosen
        by the call that made the state and kept by later ``partial_fit``
        calls; None for the user's own (a float learning rate).
    average_restart : bool
        Whether averaging begins anew with the next epoch (set by the
        stopping rule when it reduces the adaptive step, and by a stream).
    smoothing_width : array of shape (n_targets,) or None
        The first smoothing width of a non-smooth loss (``skgd._algorithms._fista``),
        measured by the call that started training: batch steps descend it, sgd sizes its step by it.
    objective : float or None
        J at ``coef``/``intercept`` on the current call's data, when known
        (set where a call starts, kept by accelerated steps).
    stop_reason : str
        Why the last call ended (``GradientDescentRegressor.stop_reason_``).
    moments : ColumnMoments or None
        The column moments ``conditioning`` was measured from: the data of the
        call that chose it, and of every stream chunk since (``skgd._stream``).
    gap_bound : float or None
        The measured ``J - J*`` at the model the last call left when it
        converged (``skgd._certificate``), None where nothing was measured.
    momentum, sgd, fista, search, conjugate : StatePart or None
        The algorithms' own parts, made by the algorithm that first needs one
        and kept across calls: heavy-ball velocities
        (``skgd._algorithms._gradient.Momentum``), sgd's averages and
        cumulative L1 record (``skgd._algorithms._sgd.SGDState``), FISTA's
        extrapolation (``skgd._algorithms._fista.FISTAState``), the
        backtracking search's (``skgd._algorithms._backtracking.SearchState``)
        and the conjugate directions' (``skgd._algorithms._line_search.ConjugateState``).
    """

    coef: np.ndarray
    intercept: np.ndarray
    rng: np.random.RandomState
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
    average_restart: bool = False
    smoothing_width: np.ndarray = None
    objective: float = None
    stop_reason: str = None
    moments: object = None
    gap_bound: float = None
    momentum: StatePart = None
    sgd: StatePart = None
    fista: StatePart = None
    search: StatePart = None
    conjugate: StatePart = None

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

    def parts(self):
        """The algorithms' parts this state holds."""
        return [getattr(self, name) for name in PARTS if getattr(self, name) is not None]

    def coordinate_pairs(self):
        """The ``(owner, coef_name, intercept_name)`` pairs that change coordinates as the iterate does."""
        return [(self, "coef", "intercept")] + [(part, *pair) for part in self.parts() for pair in part.PAIRS]

    def set_dtype(self, dtype):
        """Hold the iterate and the buffers that follow it in ``dtype`` (when the solver changes).

        Parameters
        ----------
        dtype : dtype of the state's namespace
        """
        xp, _ = get_namespace(self.coef)
        self.coef = xp.astype(self.coef, dtype, copy=False)
        for part in self.parts():
            part.set_dtype(dtype)

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
        coef, intercept, width = move_to(self.coef, self.intercept, self.smoothing_width, xp=xp, device=device)
        best_model = None if self.best_model is None else move_to(*self.best_model, xp=xp, device=device)
        conditioning = None if self.conditioning is None else self.conditioning.to_namespace(xp, device)
        parts = {name: getattr(self, name).to(xp, device) for name in PARTS if getattr(self, name) is not None}
        return replace(
            self,
            coef=coef,
            intercept=intercept,
            smoothing_width=width,
            best_model=best_model,
            conditioning=conditioning,
            **parts,
        )

    def loop_fields(self):
        """What the compiled loop reads and writes of the state: what travels to a dask worker or the host and back."""
        return {name: getattr(self, name) for name in ("coef", "intercept", "t", "momentum", "sgd")}

    def copy(self):
        """An independent copy (arrays and random state included).

        Returns
        -------
        TrainingState
        """
        return copy.deepcopy(self)

    def restart_at(self, coef, intercept):
        """Move the iterate to ``(coef, intercept)`` (a step outside the algorithms), each part beginning anew there."""
        self.coef, self.intercept = coef, intercept
        for part in self.parts():
            part.restart(coef, intercept)

    def model(self):
        """The coefficients a prediction uses now: averaged once averaging began.

        Returns
        -------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        """
        for part in self.parts():
            model = part.model()
            if model is not None:
                return model
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
    predictors = xp.asarray(safe_sparse_dot(X, coef.T))
    predictors += xp.astype(intercept, X.dtype, copy=False)  # in place: no second array of X's rows
    return predictors
