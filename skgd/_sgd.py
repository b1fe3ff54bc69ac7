"""Stochastic gradient descent: each epoch is one pass of (mini-)batch steps.

The compiled loop (``_sgd_fast.sgd_epoch``) runs a pass for one target; this
module prepares its inputs once per call, draws the sample order of each epoch
(the same order for every target) and moves the state in and out of it.

A weight multiplies its sample's step, as in scikit-learn's SGDRegressor:
unit weights give the note's per-sample SGD, integer weights act as repeated
rows in expectation, and a weight means the same wherever its row comes in a
stream, so a stream's model does not depend on how it is cut into
``partial_fit`` calls. (The loss part of each step is thus scaled by the
weights' mean against the penalty's: with a penalty, weights of mean c move
the fixed point as a penalty divided by c would.)

Under early stopping a pass visits only the training rows of X
(``TrainingData.train_rows``); the held-out rows carry zero weight, so the
automatic step ignores them too.
"""

from dataclasses import replace

import numpy as np

from ._array_api import get_namespace
from ._batch import StreamingBatchSolver
from ._sgd_fast import sgd_epoch, shuffle
from ._step_size import sample_lipschitz

_EMPTY_INT = np.empty(0, dtype=np.int32)
_EMPTY_64 = np.empty(0)


class MeasuredByEvaluator:
    """What SGD solvers share: J and the column moments come from one vectorised pass, their ``evaluator``'s.

    A solver sets ``evaluator``, a full-batch solver over the same rows (the
    batch solver's ``StreamingBatchSolver``, or dask's) that measures J without the
    gradient.
    """

    def moments(self):
        """The training rows' weighted column moments (one pass over X, in its namespace).

        Returns
        -------
        ColumnMoments
        """
        return self.evaluator.moments()

    def value(self, coef, intercept):
        """J at ``(coef, intercept)`` on the training rows (one vectorised pass).

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
        intercept : array of shape (n_targets,)

        Returns
        -------
        float
        """
        return self.evaluator.value(coef, intercept)

    def begin_smoothing(self, state):
        """Size the automatic step of a non-smooth loss by its smoothing at the residuals' scale (one pass).

        The evaluator measures the smoothing width where training starts
        (``StreamingBatchSolver.begin_smoothing``); the per-sample bound then
        takes the smoothing's curvature ``1 / width``, in y's units, so y
        times c gives steps (and coefficients) times c, and the steps are
        sized to the distance the model has to travel.

        Parameters
        ----------
        state : TrainingState
            Its ``smoothing_width`` is measured and set when None.
        """
        self.evaluator.begin_smoothing(state)
        smoothed = self.evaluator.loss
        relative = smoothed.relative_steps
        relative = None if relative is None else tuple(float(v) for v in relative)
        measured = replace(self.settings.loss, curvature=smoothed.curvature, relative_steps=relative)
        self.settings = replace(self.settings, loss=measured)


class SGDSolver(MeasuredByEvaluator):
    """Epochs of (mini-)batch SGD through the compiled loop.

    Parameters
    ----------
    data : TrainingData
        NumPy or sparse.
    settings : Settings
    """

    def __init__(self, data, settings):
        self.data, self.settings = data, settings
        self.xp, _ = get_namespace(data.X)
        rows = data.train_rows
        self.n_samples = data.X.shape[0] if rows is None else rows.shape[0]
        # Zero on the held-out rows, so its sum is the training rows'.
        self.weight_sum = float(np.sum(data.sample_weight, dtype=np.float64))
        self.rows = LoopRows(data.X, data.Y, data.sample_weight)
        self.evaluator = StreamingBatchSolver(data, settings)

    #: The loop steps in conditioned coordinates: centred and scaled dense rows, scaled (uncentred) CSR rows.
    conditions = True

    def lipschitz(self, conditioning):
        """Largest per-sample Lipschitz constant, for the automatic step.

        Parameters
        ----------
        conditioning : Conditioning
            The coordinates the loop steps in.

        Returns
        -------
        float
        """
        p = self.settings
        return sample_lipschitz(p.loss, p.penalty, self.data.X, self.rows.weights, p.fit_intercept, conditioning)

    def epoch(self, state, eta):
        """One pass over the training rows; returns the epoch's loss.

        The loss is the weighted mean of each sample's loss just before its
        update, averaged over targets, plus the penalty at the end of the pass.

        Parameters
        ----------
        state : TrainingState
            Updated in place.
        eta : float
            Base step size.

        Returns
        -------
        float
        """
        p, conditioning = self.settings, state.conditioning
        order = sample_order(self.n_samples, state.rng if p.shuffle else None, positions=self.data.train_rows)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=True)
        total = sgd_pass(p, state, self.rows, order, eta, conditioning)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=False)
        return pass_loss(p, state, total, self.weight_sum, xp=self.xp)


class LoopRows:
    """Rows as the compiled loop reads them.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_rows, n_features)
        Dense X should be C-ordered (it is flattened, which copies otherwise).
    Y : ndarray of shape (n_rows, n_targets)
    sample_weight : ndarray of shape (n_rows,)
        Each multiplies its row's step; read in X's dtype.
    """

    def __init__(self, X, Y, sample_weight):
        if hasattr(X, "indptr"):
            self.arrays = (X.data, X.indices, X.indptr)
        else:
            self.arrays = (X.reshape(-1), _EMPTY_INT, _EMPTY_INT)
        self.n_features = X.shape[1]
        self.targets = np.ascontiguousarray(Y.T)
        self.weights = np.ascontiguousarray(sample_weight, dtype=X.dtype)
        self.empty = np.empty(0, dtype=X.dtype)


def int32_indices(X):
    """X with int32 ``indices`` and ``indptr``, the index type the compiled loop reads.

    Wider indices (``scipy.sparse`` gives int64 ones to some constructions)
    are cast once; the data is shared, not copied.

    Parameters
    ----------
    X : CSR matrix or array

    Returns
    -------
    CSR matrix or array
        Of X's type; X itself when its indices are already int32.

    Raises
    ------
    ValueError
        If X has 2**31 columns or stored entries or more, which int32 cannot index.
    """
    if X.indices.dtype == np.int32 and X.indptr.dtype == np.int32:
        return X
    limit = np.iinfo(np.int32).max
    if X.shape[1] > limit or X.nnz > limit:
        raise ValueError(
            f"X has {X.shape[1]} columns and {X.nnz} stored entries; skgd indexes sparse X "
            f"with int32, so both must be at most {limit}."
        )
    indices, indptr = X.indices.astype(np.int32, copy=False), X.indptr.astype(np.int32, copy=False)
    return type(X)((X.data, indices, indptr), shape=X.shape, copy=False)


def index_dtype(n_samples):
    """The smallest index dtype the compiled loop reads for ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int

    Returns
    -------
    numpy dtype
        int32, intp from 2**31 rows on.
    """
    return np.dtype(np.int32 if n_samples < 2**31 else np.intp)


def sample_order(n_samples, rng=None, positions=None):
    """The positions of one pass: in order, or shuffled by ``rng``.

    A shuffle takes one seed from ``rng`` and runs the compiled Fisher-Yates
    pass (``_sgd_fast.shuffle``), which leaves the GIL to other threads.

    Parameters
    ----------
    n_samples : int
        Rows in the pass.
    rng : RandomState, default=None
        None keeps the rows in order.
    positions : ndarray of shape (n_samples,), default=None
        The rows to visit, in their unshuffled order (see ``index_dtype``);
        None for ``0, ..., n_samples - 1``. Returned as is when not shuffled.

    Returns
    -------
    ndarray of shape (n_samples,)
        Of ``index_dtype(n_samples)``, or of ``positions``' dtype.
    """
    if positions is None:
        order = np.arange(n_samples, dtype=index_dtype(n_samples))
    else:
        order = positions if rng is None else positions.copy()
    if rng is not None:
        shuffle(order, int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64)))
    return order


def sgd_pass(settings, state, rows, order, eta, conditioning=None):
    """Run the compiled loop over ``order`` of ``rows`` for every target.

    The same rows in the same order for each target; ``state`` is updated in
    place, so consecutive calls on consecutive row blocks continue one pass.

    Parameters
    ----------
    settings : Settings
    state : TrainingState
    rows : LoopRows
    order : ndarray of int32 or intp
        Positions in ``rows`` to visit, in order (see ``sample_order``).
    eta : float
        Base step size; the schedule gives each update's step from it
        (``Schedule.steps``: one double, or ``ceil(len(order) / batch_size)``
        when the step decays within the pass; made once for all targets).
    conditioning : Conditioning, default=None
        Run in its conditioned coordinates (``state`` then holds the
        conditioned coefficients and intercepts; CSR rows take an uncentred
        one, ``shift = 0``); None for the user's.

    Returns
    -------
    float
        Sum over the visited rows and the targets of ``weight * loss`` just
        before each row's update.
    """
    p = settings
    total = 0.0
    scalars = np.zeros(6)
    # One step for the pass when the schedule keeps it, else one per update.
    n_updates = -(-order.shape[0] // p.batch_size) if p.schedule.decays else 1
    steps = p.schedule.steps(eta, state.t, n_updates, p.power_t)
    relative = p.loss.relative_steps  # each target's own step, where the targets' curvatures differ
    for j in range(rows.targets.shape[0]):
        scalars[:] = (
            state.intercept[j],
            state.velocity_intercept[j] if p.momentum else 0.0,
            state.intercept_average[j] if p.average else 0.0,
            state.l1_total[j] if p.penalty.l1 else 0.0,
            state.t,
            state.n_averaged,
        )
        total += sgd_epoch(
            *rows.arrays,
            rows.n_features,
            rows.targets[j],
            rows.weights,
            order,
            state.coef[j],
            scalars,
            state.velocity[j] if p.momentum else rows.empty,
            state.coef_average[j] if p.average else _EMPTY_64,
            state.l1_applied[j] if p.penalty.l1 else _EMPTY_64,
            loss_code=p.loss.code,
            loss_param=p.loss.parameter,
            steps=steps if relative is None else steps * relative[j],
            l2=p.penalty.l2,
            l1=p.penalty.l1,
            momentum=p.momentum,
            nesterov=p.nesterov,
            batch_size=p.batch_size,
            fit_intercept=p.fit_intercept,
            average_start=p.average,
            shift=None if conditioning is None else conditioning.shift,
            scale=None if conditioning is None else conditioning.scale,
            max_change=p.loss.max_change,
        )
        if p.fit_intercept:
            state.intercept[j] = scalars[0]
        if p.momentum:
            state.velocity_intercept[j] = scalars[1]
        if p.average:
            state.intercept_average[j] = scalars[2]
        if p.penalty.l1:
            state.l1_total[j] = scalars[3]
    state.t = int(scalars[4])
    state.n_averaged = int(scalars[5])
    return total


def pass_loss(settings, state, total, weight_sum, xp=None):
    """The epoch's loss from its summed per-row losses.

    Parameters
    ----------
    settings : Settings
    state : TrainingState
        At the end of the pass.
    total : float
        Sum returned by ``sgd_pass`` over the whole pass.
    weight_sum : float
        Sum of the weights of the rows in the pass.
    xp : namespace, default=None
        The state's array namespace (found from it when None).

    Returns
    -------
    float
        The weighted mean loss, averaged over targets, plus the penalty.
    """
    losses = total / (weight_sum * state.coef.shape[0])
    xp, _ = get_namespace(state.coef, xp=xp)
    return float(losses + float(xp.mean(settings.penalty.value(state.coef, xp=xp))))
