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

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import scipy.sparse as sp

from .. import _certificate
from .._array_api import _max_precision_float_dtype, get_namespace, get_namespace_and_device
from .._row_parts import map_parts, row_parts
from .._schedules import automatic_step
from .._sgd_loop import loss_sum, sgd_epoch, shuffle
from .._state import StatePart
from .._step_size import sample_lipschitz
from .._validation import index_dtype
from ._gradient import Momentum, has_smoothing
from ._stopping import ImprovementRule, call_noise

_EMPTY_INT = np.empty(0, dtype=np.int32)
_EMPTY_64 = np.empty(0)


@dataclass
class SGDState(StatePart):
    """sgd's own state (``state.sgd``): the running average and the cumulative L1 penalty's record.

    The arrays are float64 whatever the iterate's dtype (the compiled loop
    accumulates in it), and None until averaging or the L1 penalty is used.

    Parameters
    ----------
    coef_average, intercept_average : arrays or None
        The mean of the iterates since averaging began.
    n_averaged : int, default=0
        How many iterates the average holds.
    l1_applied : array of shape (n_targets, n_features) or None
        The L1 penalty each coefficient has received (Tsuruoka et al.).
    l1_total : array of shape (n_targets,) or None
        The L1 penalty each coefficient could have received so far.
    """

    ARRAYS = ("coef_average", "intercept_average", "l1_applied", "l1_total")
    PAIRS = (("coef_average", "intercept_average"),)

    coef_average: object = None
    intercept_average: object = None
    n_averaged: int = 0
    l1_applied: object = None
    l1_total: object = None

    @classmethod
    def allocate(cls, state, *, averaging, l1):
        """Give ``state`` the part, with the buffers averaging and the L1 penalty need, unless it has them."""
        if state.sgd is None:
            state.sgd = cls()
        part, shape = state.sgd, state.coef.shape
        xp, _, device = get_namespace_and_device(state.coef)
        float64 = _max_precision_float_dtype(xp, device)
        if averaging and part.coef_average is None:
            part.coef_average = xp.zeros(shape, dtype=float64, device=device)
            part.intercept_average = xp.zeros(shape[0], dtype=float64, device=device)
        if l1 and part.l1_applied is None:
            part.l1_applied = xp.zeros(shape, dtype=float64, device=device)
            part.l1_total = xp.zeros(shape[0], dtype=float64, device=device)

    def model(self):
        """The average, once averaging began."""
        return (self.coef_average, self.intercept_average) if self.n_averaged > 0 else None


def max_change(loss):
    """The most one sample's step may move its own linear predictor (0: no cap).

    A loss whose curvature is bounded everywhere takes no cap. The log link's
    deviances (curvature growing with ``exp(p)``) take 1, and ``1 / (k - 1)``
    for Tweedie powers ``k`` above 2: their slope grows like
    ``exp((k - 1) |dp|)`` as ``p`` moves below a target, so a move of
    ``1 / (k - 1)`` changes it by at most ``e`` whatever the power, as a move
    of 1 does for the gamma deviance.

    Parameters
    ----------
    loss : Loss

    Returns
    -------
    float
    """
    return 0.0 if loss.global_curvature else 1.0 / max(1.0, loss.power - 1.0)


def sized_by_smoothing(loss, width):
    """``loss`` with the curvature (and each target's relative step) of its smoothing of ``width``.

    The per-sample bound of a non-smooth loss's automatic step then takes the
    smoothing's curvature ``1 / width``, with the width at the residuals'
    scale (``first_smoothing_width``), in y's units: y times c gives steps
    (and coefficients) times c, and the steps are sized to the distance the
    model has to travel.

    Parameters
    ----------
    loss : Loss
        With a smoothing (``Loss.smoothed``).
    width : array of shape (n_targets,)

    Returns
    -------
    Loss
    """
    smoothed = loss.smoothed(width * 1.0)
    relative = smoothed.relative_steps
    relative = None if relative is None else tuple(float(v) for v in relative)
    return replace(loss, curvature=smoothed.curvature, relative_steps=relative)


class SGDAlgorithm:
    """What the sgd algorithms share: J and the column moments from their objective, the improvement rule.

    Parameters
    ----------
    data : TrainingData
    settings : Settings
        The steps' (a loss sized by its smoothing: ``sized_by_smoothing``).
    objective : StreamingObjective or DaskStreamingObjective
        Over the same rows, measuring J without the gradient.
    automatic : bool, default=False
        Whether the step is ``learning_rate="auto"``'s: a non-smooth loss's is
        then sized by its smoothing, and shrinks as far as it pays (no step is
        too small to end on).
    """

    #: An sgd pass is noisy: its loss may rise between epochs.
    monotone = False

    def __init__(self, data, settings, objective, automatic=False):
        self.settings, self.objective = settings, objective
        #: Whether the automatic step is sized by the loss's smoothing (``sized_by_smoothing``).
        self.smoothing_sized = automatic and has_smoothing(settings.loss)
        #: The adaptive schedule's search for the step where no curvature bound sizes it (epochs undone).
        self.retreats = automatic and not settings.loss.global_curvature and settings.schedule.adaptive
        #: The loop steps sparse rows in scaled coordinates without centring them (a row keeps its zeros).
        self.centres = not sp.issparse(data.X)

    def moments(self):
        """The training rows' weighted column moments (the objective's: one pass over X, in its namespace)."""
        return self.objective.moments()

    def value(self, coef, intercept):
        """J at ``(coef, intercept)`` on the training rows (the objective's: one vectorised pass)."""
        return self.objective.value(coef, intercept)

    def safe_step(self, state):
        """The largest safe step ``(1 - momentum) / L``, in the state's coordinates."""
        return automatic_step(self.lipschitz(state.conditioning), self.settings.momentum)

    def noise(self, rounding):
        """Relative rise of a call's objective that is not divergence (``call_noise``: the passes' noise)."""
        return call_noise(False, self.settings.momentum, rounding)

    def measure(self, coef, intercept):
        """The evidence at ``(coef, intercept)`` (``skgd._certificate``), or None where none can be measured."""
        return _certificate.measure(self, coef, intercept)

    def allocate(self, state):
        """Give the state the parts the loop uses (velocities with momentum, sgd's own) unless it has them."""
        s = self.settings
        if s.momentum > 0:
            Momentum.allocate(state)
        SGDState.allocate(state, averaging=s.average > 0, l1=s.penalty.l1 > 0)

    def stopping_rule(self, controls):
        """A fresh improvement rule for one call, whose evidence ends a noisy stall as ``"noise_floor"``."""
        return ImprovementRule("warn", ends_when_exhausted=not self.smoothing_sized)


class SGDSolver(SGDAlgorithm):
    """Epochs of (mini-)batch SGD through the compiled loop.

    Parameters
    ----------
    data : TrainingData
        NumPy or sparse.
    settings : Settings
    objective : StreamingObjective
    automatic : bool, default=False
    """

    def __init__(self, data, settings, objective, automatic=False):
        super().__init__(data, settings, objective, automatic)
        self.data = data
        self.xp, _ = get_namespace(data.X)
        rows = data.train_rows
        self.n_samples = data.X.shape[0] if rows is None else rows.shape[0]
        # Zero on the held-out rows, so its sum is the training rows'.
        self.weight_sum = float(np.sum(data.sample_weight, dtype=np.float64))
        self.rows = LoopRows(data.X, data.Y, data.sample_weight)

    #: The loop steps in conditioned coordinates: centred and scaled dense rows, scaled (uncentred) CSR rows.
    can_condition = True

    def value(self, coef, intercept):
        """J at ``(coef, intercept)`` on the training rows: one compiled read of X, in parts (``_row_parts``).

        At zero coefficients the predictors are the intercepts: the pass reads
        the targets alone (rows of no features).
        """
        rows, loss = self.rows, self.objective.loss
        if np.any(coef):
            parts, n_features = rows.parts, rows.n_features
        else:
            parts, n_features = [slice(0, rows.n_rows)], 0

        def read(j, part):
            return loss_sum(
                *(rows.arrays_of(part) if n_features else (rows.empty, _EMPTY_INT, _EMPTY_INT)),
                n_features,
                rows.targets[j][part],
                rows.weights[part],
                np.ascontiguousarray(coef[j], dtype=rows.empty.dtype) if n_features else rows.empty,
                float(intercept[j]),
                loss_code=loss.code,
                loss_param=loss.parameter,
            )

        # Each target's rows in parts that threads read at once (a memory-bound read).
        sums = [sum(map_parts(partial(read, j), parts)) for j in range(coef.shape[0])]
        return self.objective.value_of(np.asarray(sums), coef)

    def lipschitz(self, conditioning):
        """Largest per-sample Lipschitz constant, for the automatic step."""
        settings = self.settings
        return sample_lipschitz(
            settings.loss, settings.penalty, self.data.X, self.rows.weights, settings.fit_intercept, conditioning
        )

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
        settings, conditioning = self.settings, state.conditioning
        order = sample_order(self.n_samples, state.rng if settings.shuffle else None, positions=self.data.train_rows)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=True)
        total = sgd_pass(settings, state, self.rows, order, eta, conditioning)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=False)
        return pass_loss(settings, state, total, self.weight_sum, xp=self.xp)


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
        csr = hasattr(X, "indptr")
        if csr:
            self.arrays = (X.data, X.indices, X.indptr)
        else:
            self.arrays = (X.reshape(-1), _EMPTY_INT, _EMPTY_INT)
        self.n_rows, self.n_features = X.shape
        #: The row ranges a read of X is cut into (``_row_parts.row_parts``).
        self.parts = row_parts(self.n_rows, X.nnz if csr else X.size, X.indptr if csr else None)
        self.targets = np.ascontiguousarray(Y.T)
        self.weights = np.ascontiguousarray(sample_weight, dtype=X.dtype)
        self.empty = np.empty(0, dtype=X.dtype)

    def arrays_of(self, rows):
        """``arrays`` of the slice ``rows`` of consecutive rows, without copying."""
        data, indices, indptr = self.arrays
        if indptr.shape[0]:
            return data, indices, indptr[rows.start : rows.stop + 1]
        return data[rows.start * self.n_features : rows.stop * self.n_features], indices, indptr


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
    total = 0.0
    scalars = np.zeros(6)
    # One step for the pass when the schedule keeps it, else one per update.
    n_updates = -(-order.shape[0] // settings.batch_size) if settings.schedule.decays else 1
    steps = settings.schedule.steps(eta, state.t, n_updates, settings.power_t)
    relative = settings.loss.relative_steps  # each target's own step, where the targets' curvatures differ
    velocity, own, cap = state.momentum, state.sgd, max_change(settings.loss)
    for j in range(rows.targets.shape[0]):
        scalars[:] = (
            state.intercept[j],
            velocity.velocity_intercept[j] if settings.momentum else 0.0,
            own.intercept_average[j] if settings.average else 0.0,
            own.l1_total[j] if settings.penalty.l1 else 0.0,
            state.t,
            own.n_averaged,
        )
        total += sgd_epoch(
            *rows.arrays,
            rows.n_features,
            rows.targets[j],
            rows.weights,
            order,
            state.coef[j],
            scalars,
            velocity.velocity[j] if settings.momentum else rows.empty,
            own.coef_average[j] if settings.average else _EMPTY_64,
            own.l1_applied[j] if settings.penalty.l1 else _EMPTY_64,
            loss_code=settings.loss.code,
            loss_param=settings.loss.parameter,
            steps=steps if relative is None else steps * relative[j],
            l2=settings.penalty.l2,
            l1=settings.penalty.l1,
            momentum=settings.momentum,
            nesterov=settings.nesterov,
            batch_size=settings.batch_size,
            fit_intercept=settings.fit_intercept,
            average_start=settings.average,
            shift=None if conditioning is None else conditioning.shift,
            scale=None if conditioning is None else conditioning.scale,
            max_change=cap,
        )
        if settings.fit_intercept:
            state.intercept[j] = scalars[0]
        if settings.momentum:
            velocity.velocity_intercept[j] = scalars[1]
        if settings.average:
            own.intercept_average[j] = scalars[2]
        if settings.penalty.l1:
            own.l1_total[j] = scalars[3]
    state.t = int(scalars[4])
    own.n_averaged = int(scalars[5])
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
