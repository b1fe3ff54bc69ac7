"""A stream: successive ``partial_fit`` chunks are different data.

A ``fit`` compares its epochs with each other, as they all pass over the same
rows; a stream's chunks are different data, so their losses say nothing about
whether the step is too large, and a concept may change between them. An
sgd stream with the adaptive schedule therefore keeps its step (the constant
safe step of ``learning_rate="auto"``, or the user's) and adapts what a
constant step needs on a stream instead, the averaging window: the model is
the average of the iterates (Polyak-Ruppert; with a constant step the
optimal estimator of a stationary stream, Bach and Moulines 2013), and before
training on a chunk (test then train) the chunk's objective is measured at
the average and at the running iterate. Where the iterate predicts the
chunk better, by ``RESTART_EVIDENCE`` standard errors of the paired
per-sample difference (a burn-in not yet forgotten, or a changed concept;
more on a chunk of few samples, whose spread is itself uncertain, and
never on one sample: ``restart_margin``),
the average begins anew, with the second half of the chunk's updates, so it
never carries iterates of another concept; where the stream is stationary
the average only grows. (Without the margin a young average, as noisy as the
iterate, would lose half its chunks and be restarted again and again.)

With ``learning_rate="auto"`` each chunk takes its own safe step, in
coordinates measured from the column moments of every chunk so far
(``refine_conditioning``), so neither hinges on the first chunk.

The log link's losses are not quadratic, and a constant step's average is
then biased by the spread of the iterates (Dieuleveut, Durmus and Bach
2020): at unit dispersion a step ``eta`` leaves the iterates about their
mean with covariance ``eta I`` in the conditioned coordinates (the gradient
noise is twice the curvature), so a row's predictor ``z . theta`` spreads
with variance ``eta (||z||^2 + 1)``, and since ``E[exp(p)]`` is what the
steps match to the targets, the average's log-mean falls by about half of
it (-0.03 to -0.04 on a Poisson stream of mean count 2.3 at the safe step).
The stream's step is held to ``stream_step``, which keeps that bias under
``LOG_LINK_BIAS``: the sgd loop's cap on a sample's change (``max_change``)
is not the cause, since loosening it makes the bias larger.
"""

import math
from dataclasses import dataclass, replace

from ._algorithms._sgd import SGDState
from ._array_api import _max_precision_float_dtype, get_namespace, get_namespace_and_device
from ._conditioning import Conditioning
from ._loss import LogLinkLoss, Quantile
from ._loss._residual import TwiceTheMedian
from ._state import linear_predict

#: Standard errors of the paired per-sample difference by which the iterate
#: must beat the average on a long chunk for the average to begin anew: a false
#: restart on a stationary stream then comes at most about once in 700 chunks
#: (on a short chunk, of any size: ``restart_margin``).
RESTART_EVIDENCE = 3.0

#: The bias in log-mean (at unit dispersion) a log link stream's constant step
#: may give its average: half the predictor's spread about it (``stream_step``).
LOG_LINK_BIAS = 0.01

#: The predictor's move a pinball stream's step may make, in the residuals'
#: scale measured on the chunk (``stream_step``).
PINBALL_MOVE = 0.1


@dataclass(frozen=True)
class Prequential:
    """What a chunk said about the model before it was trained on (test then train).

    Parameters
    ----------
    model : float
        The chunk's objective at the model the call found (the average once
        averaging began).
    iterate : float
        The chunk's objective at the running iterate.
    error : float or None
        The standard error of their difference (of the paired per-sample
        losses); None where there was no average to compare.
    restarted : bool
        Whether the average begins anew at the iterate with this chunk.
    """

    model: float
    iterate: float
    error: float
    restarted: bool


def averages_the_stream(one_epoch, sgd, schedule, tol):
    """Whether a call trains an averaging stream (its window adapted on prequential evidence).

    Parameters
    ----------
    one_epoch : bool
        Whether the call is a ``partial_fit``.
    sgd : bool
        Whether the solver is sgd.
    schedule : Schedule
    tol : float or None
        None: no progress checks, so the adaptive schedule is the constant one.

    Returns
    -------
    bool
    """
    return one_epoch and sgd and schedule.adaptive and tol is not None


def stream_average(average):
    """The update count at which a stream's average starts: the user's, or at once.

    Parameters
    ----------
    average : bool or int
        The ``average`` parameter.

    Returns
    -------
    int
    """
    return max(int(average), 1)


def seed_average(state, average_start):
    """Begin the average at the model the stream starts from, when it has none (after ``fit``).

    A model trained without averaging (a ``fit`` with ``average=False``)
    counts as the average of one of its epochs' updates, so a stream that
    continues it moves it as a stream of that length would (the prequential
    test restarts the average where the new chunks disagree with it).

    Parameters
    ----------
    state : TrainingState
        With its averaging buffers.
    average_start : int
        The update count at which averaging begins.
    """
    own = state.sgd
    if own.n_averaged or not state.n_iter or state.t < average_start:
        return
    own.coef_average[...] = state.coef
    own.intercept_average[...] = state.intercept
    own.n_averaged = max(state.t // state.n_iter, 1)


def refine_conditioning(state, solver, settings, xp, device):
    """Measure a stream's coordinates from all its rows so far, this chunk's added; whether they were.

    The first chunk alone may be a single row, whose moments say nothing of
    the columns' spread; the pooled moments converge to the stream's. The
    state is held in the user's coordinates between calls, so they may
    change: not with an l1 part (its cumulative record is kept in them), nor
    on a chunk of the log link's losses whose targets are all zero (no
    curvature to measure them with).

    Parameters
    ----------
    state : TrainingState
        Its ``moments`` and ``conditioning`` are updated.
    solver : Algorithm
        Over the chunk (``solver.moments()``: one pass).
    settings : Settings
    xp : array namespace
        The state's.
    device : device of ``xp``

    Returns
    -------
    bool
    """
    if state.conditioning is None or state.moments is None or settings.penalty.l1 or not settings.loss.curvature > 0:
        return False
    state.moments = state.moments + solver.moments()
    state.conditioning = Conditioning.from_moments(
        state.moments,
        settings.fit_intercept,
        settings.loss.curvature,
        settings.penalty.l2,
        centre=state.conditioning.centred,
    ).to_namespace(xp, device)
    return True


def stream_step(loss, state, fit_intercept, prequential):
    """The largest stream step whose iterates' spread biases the average by at most the loss's bound.

    A constant step's iterates spread about their mean, and the average of a
    loss that is not quadratic is biased by that spread. The predictor's
    spread is the step times the mean ``||z||^2 + fit_intercept`` of the
    conditioned rows so far (from the pooled column moments). For the log
    link, half of its variance (``eta`` times it at unit dispersion) is the
    bias in log-mean, held to ``LOG_LINK_BIAS``. For the pinball loss a
    step moves the predictor by about ``eta`` times it, and the average is
    biased in proportion to that move against the residuals' scale, which
    the prequential pinball loss at the average measures (divided by
    ``q (1 - q)``: about 1.6 to 3.4 standard deviations of normal noise for
    ``q`` from 0.5 to 0.999; absolute error is twice the median's); the move
    is held to ``PINBALL_MOVE`` of that scale. A chunk far from the model (a changed concept) measures a larger
    scale and takes a larger step. Other losses, the first chunk (nothing
    tested yet), and a stream without conditioned coordinates (a float
    ``learning_rate``: the user's step) are not bounded.

    Parameters
    ----------
    loss : Loss
    state : TrainingState
        Its ``moments`` and ``conditioning``.
    fit_intercept : bool
    prequential : Prequential
        The chunk's test at the model.

    Returns
    -------
    float
        ``inf`` where nothing bounds the step.
    """
    # Absolute error is twice the median's pinball loss; epsilon-insensitive's tube makes it none.
    pinball = isinstance(loss, Quantile) or (isinstance(loss, TwiceTheMedian) and loss.tube == 0.0)
    log_link = isinstance(loss, LogLinkLoss)
    if not (log_link or pinball) or state.moments is None or state.conditioning is None:
        return math.inf
    xp, _ = get_namespace(state.moments.mean)
    moments, conditioning = state.moments, state.conditioning
    offset = moments.mean - xp.asarray(conditioning.shift)
    squares = moments.squares / moments.weight_sum + offset * offset
    rows = float(xp.sum(xp.asarray(conditioning.scale) ** 2 * squares)) + float(fit_intercept)
    if rows <= 0.0:
        return math.inf
    if log_link:
        return 2.0 * LOG_LINK_BIAS / rows
    if prequential.error is None:
        return math.inf
    q, factor = (loss.quantile, 1.0) if isinstance(loss, Quantile) else (0.5, 2.0)
    scale = prequential.model / (factor * q * (1.0 - q))
    return PINBALL_MOVE * scale / rows if scale > 0.0 else math.inf


def begin_chunk(state, data, settings):
    """Test the chunk at the model and the iterate before training on it; the settings its pass runs with.

    The average is seeded where the stream starts from a model without one
    (``seed_average``). Where the iterate is better by ``RESTART_EVIDENCE``
    standard errors, the average begins anew, with the second half of this
    chunk's updates: the iterate may still be on its way to a changed
    concept in the first.

    Parameters
    ----------
    state : TrainingState
        In the user's coordinates; its averaging buffers are allocated and
        ``average_restart`` is set on a restart.
    data : TrainingData
        The chunk.
    settings : Settings
        Of the stream (``stream_average``).

    Returns
    -------
    prequential : Prequential
    settings : Settings
        With the update count averaging (re)starts at.
    """
    SGDState.allocate(state, averaging=True, l1=False)
    seed_average(state, settings.average)
    if state.sgd.n_averaged == 0:
        (iterate,), _, _ = _values(data, settings, [(state.coef, state.intercept)])
        return Prequential(iterate, iterate, None, False), settings
    (model, iterate), error, effective = _values(
        data, settings, [(state.sgd.coef_average, state.sgd.intercept_average), (state.coef, state.intercept)]
    )
    restarted = model - iterate > restart_margin(effective) * error
    if restarted:
        state.average_restart = True
        updates = -(-data.X.shape[0] // settings.batch_size)
        settings = replace(settings, average=max(settings.average, state.t + updates // 2 + 1))
    return Prequential(model, iterate, error, restarted), settings


def restart_margin(effective):
    """Standard errors by which the iterate must beat the average on a chunk of ``effective`` samples.

    The standard error is measured from the chunk's own paired differences,
    so on few samples it is uncertain itself: the margin is Student's t
    quantile (``effective - 1`` degrees of freedom) of the normal tail beyond
    ``RESTART_EVIDENCE``, the same false-restart rate on a chunk of any size
    (3.1 on 100 samples, 19 on 3); one sample measures no spread.

    Parameters
    ----------
    effective : float
        The chunk's effective number of samples, ``1 / sum(w**2)`` of its
        normalised weights.

    Returns
    -------
    float
        ``inf`` where ``effective`` is at most 1.
    """
    if not effective > 1.0:
        return math.inf
    from scipy.stats import norm, t

    return float(t.isf(norm.sf(RESTART_EVIDENCE), effective - 1.0))


def _values(data, settings, models):
    """J of each model on the rows, the standard error of the first two's difference, and the rows' effective count.

    The difference of two weighted mean losses is a weighted mean of paired
    per-sample differences; its standard error is their weighted spread
    (unbiased: divided by ``1 - sum(w**2)``) times the root of the sum of
    the squared normalised weights ``w``; ``1 / sum(w**2)`` is the effective
    number of samples.

    Parameters
    ----------
    data : TrainingData
    settings : Settings
        The loss and the penalty.
    models : list of tuple
        ``(coef, intercept)`` of shapes (n_targets, n_features) and (n_targets,).

    Returns
    -------
    values : list of float
    error : float
        0 for a single model, ``inf`` for a single effective sample.
    effective : float
    """
    losses, values = [], []
    for coef, intercept in models:
        predictor = linear_predict(data.X, coef, intercept)  # computed in memory for a dask chunk
        xp, _, device = get_namespace_and_device(predictor)
        float64 = _max_precision_float_dtype(xp, device)
        weights = xp.astype(xp.asarray(data.sample_weight, device=device), float64)
        weights = weights / xp.sum(weights)
        Y = xp.astype(xp.asarray(data.Y, device=device), float64)
        per_sample = xp.mean(settings.loss.value_and_derivative(xp.astype(predictor, float64), Y, xp=xp)[0], axis=1)
        losses.append(per_sample)
        values.append(float(xp.sum(weights * per_sample)) + float(xp.mean(settings.penalty.value(coef, xp=xp))))
    concentration = float(xp.sum(weights * weights))
    if len(losses) < 2:
        return values, 0.0, 1.0 / concentration
    if concentration >= 1.0:
        return values, math.inf, 1.0
    difference = losses[0] - losses[1]
    mean = xp.sum(weights * difference)
    spread = float(xp.sum(weights * (difference - mean) ** 2)) / (1.0 - concentration)
    return values, math.sqrt(spread * concentration), 1.0 / concentration


def report(prequential, state, eta):
    """The line ``verbose`` prints for a chunk of an averaging stream.

    Parameters
    ----------
    prequential : Prequential
    state : TrainingState
        After the chunk's pass.
    eta : float
        The step in use.

    Returns
    -------
    str
    """
    line = f"Stream chunk {state.n_iter - 1}: prequential loss={prequential.model!r}"
    if prequential.error is None:
        line += ", no average yet"
    else:
        window = "average restarted" if prequential.restarted else "average kept"
        line += f" (iterate {prequential.iterate!r} +- {prequential.error:.3g}), {window}"
    return line + f", averaging {state.sgd.n_averaged} updates, step={eta:.6g}"
