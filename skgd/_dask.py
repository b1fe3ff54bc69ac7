"""Training and prediction on dask arrays, on the public ``dask.array`` API.

Imported only when a dask array reaches the estimator. The maths is the
in-memory objectives' and algorithms' own (``skgd._reductions``, ``skgd._moments``, ``skgd._objective``,
``skgd._algorithms``),
applied per chunk of rows:

- A first pass, the *survey*, validates every block (finite X, y and weights,
  non-negative weights) and gathers what training starts from: the weight sum,
  the loss of the all-zero model, and either the sufficient statistics (batch)
  or the largest per-row scale (sgd). One ``dask.compute``; per-block results
  are added as a tree.
- Squared error, batch: the survey's statistics feed ``GramObjective``, so the
  epochs run locally in O(d^2) and X is read exactly once.
- Other losses, batch: each epoch is one pass returning per-block loss and
  gradient sums, added as a tree; the coefficients enter the graph once.
- sgd: the blocks are streamed through the compiled loop one after another
  (in order with ``shuffle=False``, else in a seeded block order with the rows
  of each block shuffled), the small training state travelling to the block;
  at most ``SGD_WINDOW`` blocks are in memory for it at a time.

X must be chunked along rows only (column chunks are joined, which copies each
block as it is read); y and ``sample_weight`` follow X's row chunks.
"""

import functools
import operator
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import check_non_negative

from ._algorithms._sgd import LoopRows, SGDAlgorithm, pass_loss, sample_order, sgd_pass
from ._array_api import rounding
from ._moments import ColumnMoments, SufficientStatistics
from ._objective import GRAM_MAX_FEATURES, GramObjective, StreamingObjective
from ._reductions import largest_row_scale, loss_gradient_sums
from ._state import TrainingState, linear_predict
from ._step_size import gram_lipschitz, per_sample_bound
from ._validation import too_wide_for_dask

#: Partial results added per node of a tree reduction.
FAN_IN = 8

#: Blocks an sgd epoch chains into one ``dask.compute``: at most this many
#: blocks are in memory for it at once, and the client waits once per window.
SGD_WINDOW = 8


# ----------------------------------------------------------------- validation
def check_array(X):
    """Validate a dask X lazily: 2-D, known row chunks, whole rows, float dtype.

    Values (finiteness) are checked block by block when the data is read.

    Parameters
    ----------
    X : dask.array.Array

    Returns
    -------
    dask.array.Array
        float32 or float64 (other numeric dtypes become float64), one chunk
        across the columns.
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D dask array for X, got {X.ndim}D; reshape it to (n_samples, n_features).")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first.")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {X.dtype}; a numeric dtype is required.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _rows_like(a, X, name):
    """``a`` (dask or in-memory, 1-D or 2-D) as a dask array chunked by X's rows."""
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        a = da.from_array(a, chunks=(X.chunks[0],) + a.shape[1:])
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1D or 2D; got {a.ndim}D.")
    if a.shape[0] != X.shape[0]:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {a.shape[0]}] (X, {name})."
        )
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {a.dtype}; a numeric dtype is required.")
    if a.chunks[0] != X.chunks[0] or (a.ndim == 2 and len(a.chunks[1]) > 1):
        a = a.rechunk((X.chunks[0],) + a.shape[1:])
    return a.astype(X.dtype)


def check_training_data(X, y, sample_weight):
    """Validate dask training data lazily; values are checked by the survey.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    y : dask or in-memory array of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : None, float, or dask or in-memory array of shape (n_samples,)

    Returns
    -------
    X : dask.array.Array
    Y : dask.array.Array of shape (n_samples, n_targets)
        In X's dtype and row chunks.
    sample_weight : dask.array.Array of shape (n_samples,)
    one_d : bool
        Whether y was 1-D.
    """
    X = check_array(X)
    y = _rows_like(y, X, "y")
    one_d = y.ndim == 1
    Y = y[:, None] if one_d else y
    if sample_weight is None or np.isscalar(sample_weight):
        fill = 1.0 if sample_weight is None else sample_weight
        # Made from each X block, so they are made where the block lives.
        sample_weight = X.map_blocks(_constant_weights, fill, drop_axis=1, dtype=X.dtype)
    sample_weight = _rows_like(sample_weight, X, "sample_weight")
    if sample_weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1D; got shape {sample_weight.shape}.")
    return X, Y, sample_weight, one_d


def target_summary(Y, sample_weight):
    """``skgd._reductions.target_summary`` of dask targets, in one ``dask.compute``.

    Parameters
    ----------
    Y : dask.array.Array of shape (n_samples, n_targets)
    sample_weight : dask.array.Array of shape (n_samples,)

    Returns
    -------
    minimum : float
    means : ndarray of shape (n_targets,)
    maxima : ndarray of shape (n_targets,)
    """
    s = sample_weight.astype(np.float64)
    minimum, sums, total, maxima = dask.compute(
        Y.min(), (s[:, None] * Y.astype(np.float64)).sum(axis=0), s.sum(), Y.max(axis=0)
    )
    return float(minimum), np.asarray(sums, dtype=np.float64) / float(total), np.asarray(maxima, dtype=np.float64)


def _constant_weights(X, fill):
    return np.full(X.shape[0], fill, dtype=X.dtype)


def _check_block(X, Y, s):
    assert_all_finite(X, input_name="X")
    assert_all_finite(Y, input_name="y")
    assert_all_finite(s, input_name="sample_weight")
    if s.size:
        check_non_negative(s, "sample_weight")


# ------------------------------------------------------------------ reduction
def _tree_reduce(parts, combine):
    """One delayed result from per-block delayed ``parts``, combined ``FAN_IN`` at a time."""
    while len(parts) > 1:
        parts = [dask.delayed(combine, pure=True)(*parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def _add(*parts):
    return functools.reduce(operator.add, parts)


def _add_elementwise(*parts):
    return tuple(_add(*values) for values in zip(*parts, strict=True))


def data_blocks(X, Y, sample_weight):
    """Per-block delayed ``(X, Y, sample_weight)`` triples sharing one graph.

    The graphs are left unoptimised: dask's blockwise fusion copies a
    generated or loaded block into each array computed from it, so a y made
    from X would read X's blocks twice. Unfused, each block of X is one task,
    computed once whatever reads it.

    Parameters
    ----------
    X, Y, sample_weight : dask.array.Array
        Chunked alike along rows, one chunk across columns.

    Returns
    -------
    list of tuple of dask.delayed.Delayed
    """
    return list(zip(*(a.to_delayed(optimize_graph=False).ravel() for a in (X, Y, sample_weight)), strict=True))


# --------------------------------------------------------------------- survey
@dataclass
class Survey:
    """What the first pass over the data learns.

    Parameters
    ----------
    weight_sum : float
        ``sum_i s_i``.
    statistics : SufficientStatistics or None
        Gathered for the batch solver.
    row_scale : float or None
        ``max_i s_i * (||x_i||^2 + fit_intercept)``, gathered for sgd.
    largest_weight : float
        ``max_i s_i``.
    moments : ColumnMoments or None
        X's weighted column moments, gathered for sgd (its conditioning).
    """

    weight_sum: float
    statistics: SufficientStatistics = None
    row_scale: float = None
    largest_weight: float = 0.0
    moments: ColumnMoments = None

    def __add__(self, other):
        return Survey(
            self.weight_sum + other.weight_sum,
            None if self.statistics is None else self.statistics + other.statistics,
            None if self.row_scale is None else max(self.row_scale, other.row_scale),
            max(self.largest_weight, other.largest_weight),
            None if self.moments is None else self.moments + other.moments,
        )


def _survey_block(X, Y, s, fit_intercept, statistics, row_scale):
    _check_block(X, Y, s)
    s64 = np.asarray(s, dtype=np.float64)
    return Survey(
        float(s64.sum()),
        SufficientStatistics.of(X, Y, s64) if statistics else None,
        largest_row_scale(X, s64, fit_intercept) if row_scale else None,
        float(s64.max()) if s64.size else 0.0,
        ColumnMoments.of(X, s64) if row_scale else None,
    )


def survey(settings, blocks, *, statistics, row_scale):
    """Validate the data and gather the survey in one ``dask.compute``.

    Parameters
    ----------
    settings : Settings
    blocks : list
        From ``data_blocks``.
    statistics, row_scale : bool
        Which optional parts to gather.

    Returns
    -------
    Survey

    Raises
    ------
    ValueError
        If a block holds non-finite values or negative weights, or the
        weights sum to zero.
    """
    parts = [
        dask.delayed(_survey_block, pure=True)(*block, settings.fit_intercept, statistics, row_scale)
        for block in blocks
    ]
    (result,) = dask.compute(_tree_reduce(parts, _add))
    if not result.weight_sum > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return result


# ------------------------------------------------------ objective, sgd epochs
class DaskStreamingObjective(StreamingObjective):
    """J read from the blocks where they live: each ask one distributed pass (any loss).

    Parameters
    ----------
    data : TrainingData
        Its X, Y and sample_weight are dask arrays.
    settings : Settings
    survey : Survey
    blocks : list
        From ``data_blocks``.
    """

    def __init__(self, data, settings, survey, blocks):
        self.data, self.settings, self.loss = data, settings, settings.loss
        self.survey = survey
        self.blocks = blocks
        self.weight_sum = survey.weight_sum
        self.xp = np  # the state's: NumPy, on the client
        self.can_condition = survey.statistics is not None
        self.rounding = rounding(np, data.X.dtype)  # the blocks' losses are formed in X's dtype
        self.target_parts = None  # each block forms its own, where it lives

    def moments(self):
        """The column moments the survey's statistics hold."""
        return self._statistics().moments()

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient, from the survey's statistics."""
        settings = self.settings
        return gram_lipschitz(self.loss, settings.penalty, self._statistics(), settings.fit_intercept, conditioning)

    def _statistics(self):
        if self.survey.statistics is None:  # a float step's divergence advises the safe step: unmeasured
            raise too_wide_for_dask(self.data.X.shape[1])
        return self.survey.statistics

    def sums(self, coef, intercept, gradient=True, loss=None):
        """Loss and gradient sums in one pass: per block, then added as a tree.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        gradient : bool, default=True
            Whether to form the gradient sums.
        loss : Loss, default=None
            The loss summed; None for the objective's own (``loss``).

        Returns
        -------
        loss_sums, grad_coef, grad_intercept : ndarrays (the gradient sums None without ``gradient``)
        """
        model, loss = dask.delayed((coef, intercept), pure=True), self.loss if loss is None else loss
        parts = [dask.delayed(_block_sums, pure=False)(*block, model, loss, gradient) for block in self.blocks]
        (result,) = dask.compute(_tree_reduce(parts, _add_elementwise if gradient else _add))
        return result if gradient else (result, None, None)


def _block_sums(X, Y, s, model, loss, gradient):
    loss_sums, grad_coef, grad_intercept = loss_gradient_sums(loss, X, Y, s, *model, gradient=gradient)
    if not gradient:
        return np.asarray(loss_sums, dtype=np.float64)
    return np.asarray(loss_sums, dtype=np.float64), grad_coef, grad_intercept


class DaskSGDSolver(SGDAlgorithm):
    """SGD epochs streaming the blocks through the compiled loop.

    With ``shuffle=False`` the rows are visited in order and mini-batches run
    across block boundaries, so an epoch equals the in-memory one. Otherwise
    the blocks come in a seeded random order and each block's rows are shuffled.

    Parameters
    ----------
    data : TrainingData
        Its X, Y and sample_weight are dask arrays.
    settings : Settings
        Sent to the workers with each block.
    objective : DaskStreamingObjective
        Holds the survey and the blocks.
    automatic : bool, default=False
    """

    def __init__(self, data, settings, objective, automatic=False):
        super().__init__(data, settings, objective, automatic)
        self.blocks = objective.blocks
        self.weight_sum = objective.survey.weight_sum
        self.survey = objective.survey

    #: The blocks can step in conditioned coordinates (they are dense).
    can_condition = True

    def moments(self):
        """X's column moments, from the survey."""
        return self.survey.moments

    def lipschitz(self, conditioning):
        """Largest per-sample Lipschitz constant, as ``SGDSolver.lipschitz``.

        In conditioned coordinates the rows' largest scale takes one more
        distributed pass.

        Parameters
        ----------
        conditioning : Conditioning or None
            The coordinates the blocks step in.

        Returns
        -------
        float
        """
        settings = self.settings
        row_scale = self.survey.row_scale
        if conditioning is not None:
            parts = [
                dask.delayed(largest_row_scale, pure=True)(X, s, settings.fit_intercept, conditioning)
                for X, _, s in self.blocks
            ]
            (row_scale,) = dask.compute(_tree_reduce(parts, max))
        return per_sample_bound(settings.loss, settings.penalty, row_scale, self.survey.largest_weight, conditioning)

    def epoch(self, state, eta):
        """One pass over the blocks; returns the epoch's loss.

        The blocks are chained ``SGD_WINDOW`` to a ``dask.compute``: the state
        moves from block to block on the workers, and the client hears back
        once per window.

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
        settings = self.settings
        n_blocks = len(self.blocks)
        order = state.rng.permutation(n_blocks) if settings.shuffle else range(n_blocks)
        seeds = [state.rng.randint(np.iinfo(np.int32).max) if settings.shuffle else None for _ in order]
        conditioning = state.conditioning
        if conditioning is not None:  # the state travels in the coordinates the blocks step in
            conditioning.convert(state, to_conditioned=True)
        progress = (state.loop_fields(), 0.0, None)
        for start in range(0, n_blocks, SGD_WINDOW):
            for position in range(start, min(start + SGD_WINDOW, n_blocks)):
                progress = dask.delayed(_sgd_block, pure=False)(
                    *self.blocks[order[position]],
                    progress,
                    self.settings,
                    seeds[position],
                    eta,
                    position == n_blocks - 1,
                    conditioning,
                )
            (progress,) = dask.compute(progress)
        fields, total, _ = progress
        vars(state).update(fields)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=False)
        return pass_loss(settings, state, total, self.weight_sum)


def _sgd_block(X, Y, s, progress, settings, seed, eta, last, conditioning):
    """Run one block through the compiled loop, continuing ``progress``.

    ``progress`` is ``(fields, total, carry)``: the loop's state, the summed
    loss so far, and the rows of a mini-batch that earlier blocks began (fewer
    than ``batch_size``), which this block completes first. Rows left over at
    the end become the next carry, unless this is the last block.
    """
    fields, total, carry = progress
    state = TrainingState(rng=None, **fields)
    X = np.ascontiguousarray(X)
    order = sample_order(X.shape[0], None if seed is None else np.random.RandomState(seed))
    batch_size = settings.batch_size
    if carry is not None:
        head, order = order[: batch_size - carry[0].shape[0]], order[batch_size - carry[0].shape[0] :]
        rows = tuple(np.concatenate([c, a[head]]) for c, a in zip(carry, (X, Y, s), strict=True))
        if rows[0].shape[0] < batch_size and not last:
            return fields, total, rows
        total += sgd_pass(settings, state, LoopRows(*rows), sample_order(rows[0].shape[0]), eta, conditioning)
    stop = order.shape[0] if last else order.shape[0] - order.shape[0] % batch_size
    if stop:
        total += sgd_pass(settings, state, LoopRows(X, Y, s), order[:stop], eta, conditioning)
    carry = tuple(a[order[stop:]] for a in (X, Y, s)) if stop < order.shape[0] else None
    return state.loop_fields(), total, carry


def make_dask_objective(data, settings, solver):
    """Survey dask data (one pass) and build the objective its algorithm asks.

    Squared error with the batch solver takes ``GramObjective`` on the survey's
    statistics (up to ``GRAM_MAX_FEATURES`` features); the other problems
    take ``DaskStreamingObjective``.

    Parameters
    ----------
    data : TrainingData
        Its X, Y and sample_weight are dask arrays from ``check_training_data``.
    settings : Settings
    solver : {"batch", "sgd"}

    Returns
    -------
    GramObjective or DaskStreamingObjective
    """
    blocks = data_blocks(data.X, data.Y, data.sample_weight)
    full_batch = solver == "batch"
    found = survey(
        settings,
        blocks,
        statistics=full_batch and data.X.shape[1] <= GRAM_MAX_FEATURES,
        row_scale=not full_batch,
    )
    if full_batch and settings.loss.quadratic and found.statistics is not None:
        return GramObjective(None, settings, found.statistics)
    return DaskStreamingObjective(data, settings, found, blocks)


def _predict_block(X, coef, intercept, loss, one_d):
    assert_all_finite(X, input_name="X")
    prediction = loss.inverse_link(linear_predict(X, coef, intercept), xp=np)
    return prediction[:, 0] if one_d else prediction


def predict(X, coef, intercept, loss, one_d):
    """Lazy predictions, block by block.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    loss : Loss
        Its inverse link maps the linear predictor to the prediction.
    one_d : bool
        Whether to return 1-D predictions (the model was fitted on 1-D y).

    Returns
    -------
    dask.array.Array of shape (n_samples,) or (n_samples, n_targets)
        In X's floating dtype.
    """
    X = check_array(X)
    if one_d:
        return X.map_blocks(_predict_block, coef, intercept, loss, one_d, drop_axis=1, dtype=X.dtype)
    return X.map_blocks(
        _predict_block, coef, intercept, loss, one_d, chunks=(X.chunks[0], (coef.shape[0],)), dtype=X.dtype
    )
