"""One training call of ``GradientDescentRegressor``, built from its parameters and validated data.

``fresh_state`` and ``continued_state`` give the state a call starts from;
``build_training`` holds out the early-stopping rows, decides the settings,
has ``skgd._algorithms.make_algorithm`` pick the algorithm and its
objective, chooses the coordinates the steps are taken in
(``learning_rate="auto"``: ``skgd._conditioning``) and the step, and sets
the epoch loop's controls. Nothing here runs an epoch.
"""

import functools
from dataclasses import dataclass

from . import _validation as check
from ._algorithms import make_algorithm
from ._array_api import _max_precision_float_dtype, get_namespace_and_device, rounding, training_namespace
from ._conditioning import Conditioning
from ._penalty import Penalty
from ._problem import Settings, TrainingData
from ._schedules import SCHEDULES
from ._state import TrainingState, independent_rng
from ._stream import averages_the_stream, begin_chunk, refine_conditioning, stream_average, stream_step
from ._training import Controls, patience


@dataclass
class Training:
    """One training call, built.

    Parameters
    ----------
    algorithm : Algorithm
    controls : Controls
    prequential : Prequential or None
        The test of a stream's chunk before training on it (``skgd._stream``);
        None where the call does not train a stream.
    """

    algorithm: object
    controls: Controls
    prequential: object


def _iterate_dtype(solver, X, xp, device):
    """The dtype the iterate is held in: X's for sgd (the compiled loop's), the widest float for batch."""
    return X.dtype if solver == "sgd" else _max_precision_float_dtype(xp, device)


def fresh_state(estimator, X, n_targets, coef_init=None, intercept_init=None):
    """A state at the starting model (zeros where not given), in X's training namespace and on its device."""
    xp, device = training_namespace(X)
    dtype = _iterate_dtype(estimator.solver, X, xp, device)
    rng = independent_rng(estimator.random_state)
    return TrainingState.fresh(n_targets, X.shape[1], dtype, rng, coef_init, intercept_init, xp=xp, device=device)


def continued_state(state, solver, X):
    """A copy of a fitted model's state to continue training on X: in its namespace, and ``solver``'s dtype."""
    xp, device = training_namespace(X)
    state = state.copy().to(xp, device)
    state.set_dtype(_iterate_dtype(solver, X, xp, device))
    return state


def make_settings(estimator, n_train, loss, stream=False):
    """The decided ``Settings`` of a call on ``n_train`` rows with ``loss``, from the estimator's parameters."""
    e = estimator
    average = (stream_average(e.average) if stream else int(e.average)) if e.solver == "sgd" else 0
    return Settings(
        loss=loss,
        penalty=Penalty.from_params(e.penalty, e.alpha, e.l1_ratio),
        fit_intercept=bool(e.fit_intercept),
        schedule=SCHEDULES[e.schedule],
        power_t=float(e.power_t),
        momentum=float(e.momentum),
        nesterov=bool(e.nesterov),
        batch_size=min(int(e.batch_size), n_train),
        shuffle=bool(e.shuffle),
        average=average,
    )


def begin_steps(algorithm, state, settings, *, learning_rate, one_epoch, prequential):
    """Choose the coordinates the steps are taken in and the step, on the state.

    ``learning_rate="auto"``: the call that starts training measures the
    conditioning from the column moments (one pass) and every call its safe
    step; a stream's later chunks pool their moments into the conditioning.
    A float is the step, in the user's coordinates. ``prequential`` is the
    stream's test of its chunk (None where the call trains no stream).
    """
    auto, stream = learning_rate == "auto", prequential is not None
    xp, _, device = get_namespace_and_device(state.coef)
    first_call = auto and state.conditioning is None and state.n_iter == 0 and algorithm.can_condition
    if first_call:
        state.moments = algorithm.moments()
        state.conditioning = Conditioning.from_moments(
            state.moments,
            settings.fit_intercept,
            settings.loss.curvature,
            settings.penalty.l2,
            centre=algorithm.centres,
        ).to_namespace(xp, device)
    else:
        check.check_coordinates(state, algorithm.can_condition, algorithm.centres)
    refined = stream and not first_call and refine_conditioning(state, algorithm, settings, xp, device)
    algorithm.allocate(state)
    if auto:
        step = algorithm.safe_step(state)
        if stream:  # and held where the average of a loss not quadratic would be biased by the iterates' spread
            step = min(step, stream_step(settings.loss, state, settings.fit_intercept, prequential))
        # A stream's chunk in refined coordinates takes its own safe step, measured in them.
        state.eta0 = step if state.eta0 is None or not one_epoch or refined else min(state.eta0, step)
    else:
        state.eta0 = float(learning_rate)
    if stream:  # its step is the base step: the stream adapts its averaging window instead (skgd._stream)
        state.eta_factor = 1.0


def build_training(estimator, X, Y, sample_weight, state, *, one_epoch, summary):
    """Build one training call of ``estimator`` on validated data, from ``state``.

    Sets the estimator's ``_loss`` (``predict`` applies its inverse link, and
    callbacks predict during training).

    Parameters
    ----------
    estimator : GradientDescentRegressor
    X : array, CSR matrix or dask array of shape (n_samples, n_features)
    Y : array of shape (n_samples, n_targets)
    sample_weight : array of shape (n_samples,)
    state : TrainingState
        Updated: the held-out split, coordinates, step and the algorithm's parts.
    one_epoch : bool
        True for ``partial_fit``.
    summary : tuple or None
        The targets' ``(minimum, means)`` for a loss with a range (``check_targets``).

    Returns
    -------
    Training
    """
    e = estimator
    train_rows, validation = None, None
    if not (e.early_stopping and not one_epoch):
        state.best_model = None
    else:
        X, Y, sample_weight, train_rows, validation = check.split_validation(
            e.validation_fraction, X, Y, sample_weight, state.rng
        )
    auto = e.learning_rate == "auto"
    loss, schedule = e._make_loss(), SCHEDULES[e.schedule]
    if summary is not None:
        # sgd's step must be safe for every sample, whose curvature may grow with its target.
        maxima = None if e.solver == "batch" else summary[2]
        loss = loss.for_targets(summary[1], relative=auto, maxima=maxima)
    data = TrainingData(X, Y, sample_weight, train_rows)
    n_train = X.shape[0] if train_rows is None else train_rows.shape[0]
    stream = averages_the_stream(one_epoch, e.solver == "sgd", schedule, e.tol)
    settings = make_settings(e, n_train, loss, stream)
    prequential = None
    if stream:  # test the chunk, then train on it (skgd._stream)
        prequential, settings = begin_chunk(state, data, settings)
    e._loss = settings.loss
    algorithm = make_algorithm(
        data, settings, state, solver=e.solver, automatic=auto, max_iter=e.max_iter, one_epoch=one_epoch
    )
    begin_steps(algorithm, state, settings, learning_rate=e.learning_rate, one_epoch=one_epoch, prequential=prequential)
    xp, _ = training_namespace(X)
    controls = Controls(
        max_iter=1 if one_epoch else e.max_iter,
        tol=e.tol,
        n_iter_no_change=patience(e.n_iter_no_change, e.momentum),
        adaptive=schedule.adaptive and not one_epoch,  # chunks of a stream are different data
        stop_on_stall=not one_epoch,
        validation=validation,
        score=settings.loss,
        verbose=e.verbose,
        rounding=rounding(xp, X.dtype),
        squares=settings.loss.squares,
        safe_step=functools.partial(algorithm.safe_step, state),
        automatic=auto,
    )
    return Training(algorithm, controls, prequential)
