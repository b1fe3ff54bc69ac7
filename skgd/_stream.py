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
chunk better (a burn-in not yet forgotten, or a changed concept) the average
begins anew there, so it never carries iterates of another concept; where
the stream is stationary the average only grows.
"""

from dataclasses import dataclass


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
    restarted : bool
        Whether the average begins anew at the iterate with this chunk.
    """

    model: float
    iterate: float
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


def prequential_test(solver, state):
    """Measure the chunk at the model and the iterate; restart the average where the iterate is better.

    Parameters
    ----------
    solver : Solver
        Over the chunk; ``solver.value(coef, intercept)`` is J there.
    state : TrainingState
        ``average_restart`` is set when the average is to begin anew with
        this chunk's pass.

    Returns
    -------
    Prequential
    """
    iterate = solver.value(state.coef, state.intercept)
    if state.n_averaged == 0:
        return Prequential(iterate, iterate, False)
    model = solver.value(state.coef_average, state.intercept_average)
    restarted = iterate < model
    state.average_restart = state.average_restart or restarted
    return Prequential(model, iterate, restarted)


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
    window = "average restarted at the iterate" if prequential.restarted else "average kept"
    return (
        f"Stream chunk {state.n_iter - 1}: prequential loss={prequential.model!r} "
        f"(iterate {prequential.iterate!r}), {window}, averaging {state.n_averaged} updates, step={eta:.6g}"
    )
