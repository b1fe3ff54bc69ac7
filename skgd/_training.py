"""The epoch loop every algorithm shares: progress, divergence, early stopping, reports.

An algorithm (``skgd._algorithms``) knows how to run one epoch on a state
and when its training has converged (its stopping rule); this loop runs the
epochs, keeps ``loss_curve_``, asks the rule after each, tracks the
validation score for early stopping and refuses to continue past a divergence.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from ._algorithms._stopping import ImprovementRule, Progress
from ._array_api import get_namespace
from ._scores import validation_score

#: An epoch loss this many times J's magnitude (at the call's start, or the
#: first epoch's loss) counts as exploding.
EXPLOSION_FACTOR = 1e4

#: Epochs a search for sgd's step (``Algorithm.retreats``) may undo in one call, and the step each keeps.
MAX_RETREATS, RETREAT_FACTOR = 20, 0.2


class DivergenceError(ValueError):
    """Raised when training makes the objective non-finite, explode or end above its start."""


#: Why a training call ended (``GradientDescentRegressor.stop_reason_``), and
#: whether that is convergence.
STOP_REASONS = {
    "converged": True,
    "max_iter": False,
    "step_exhausted": False,
    "stalled": False,
    "noise_floor": False,
    "callback": True,
    "partial_fit": True,
}


@dataclass
class Controls:
    """How long to train and when to stop, decided by the estimator.

    Parameters
    ----------
    max_iter : int
        Epochs to run at most.
    tol : float or None
        Required relative improvement; None disables the progress checks.
    n_iter_no_change : int
        Epochs without improvement that count as a stall (see ``patience``).
    adaptive : bool
        Whether stalls reduce the step (``schedule="adaptive"``).
    stop_on_stall : bool
        Whether training may stop before ``max_iter`` (False for ``partial_fit``).
    validation : tuple or None
        ``(X_val, Y_val, sample_weight_val)`` for early stopping.
    verbose : int
    rounding : float
        Relative change of the objective that is rounding (the loss is
        computed in X's dtype: larger for float32 X).
    squares : bool
        Whether J's data term is a mean of squares of the residuals (or of
        their excesses over epsilon): its rounding at an exact fit is their
        last places squared (``Loss.squares``).
    safe_step : callable
        ``() -> float``: the largest safe step measured from the data, named
        when training diverges.
    score : Loss or None, default=None
        The loss whose ``score`` the validation reports (``validation_score``);
        None for R^2.
    automatic : bool, default=False
        Whether the step is ``learning_rate="auto"``'s (a divergence then
        advises something else).
    """

    max_iter: int
    tol: float
    n_iter_no_change: int
    adaptive: bool
    stop_on_stall: bool
    validation: tuple
    verbose: int
    rounding: float
    squares: bool
    safe_step: object
    score: object = None
    automatic: bool = False


def stop_message(state, tol, max_iter, schedule, automatic):
    """What to tell the user when training ended before it converged (never the step already in use)."""
    auto = "" if automatic else "use learning_rate='auto' (steps in conditioned coordinates), "
    if state.stop_reason == "step_exhausted":
        return (
            f"The adaptive step fell under 1e-6 of its start after {state.n_iter} epochs while the loss still "
            f"improved: training crawled rather than converged. To go on: {auto}scale X, use solver='batch', "
            "or raise tol."
        )
    if state.stop_reason in ("noise_floor", "stalled"):
        adaptive = "" if schedule == "adaptive" else "schedule='adaptive', "
        cause = (
            f"the steps' noise keeps the model off the optimum (sgd): use {adaptive}a smaller step, "
            "larger batches, solver='batch', or raise tol"
            if state.stop_reason == "noise_floor"
            else f"the step fell to the objective's rounding: {auto}scale X, or raise tol"
        )
        return (
            f"Training stalled after {state.n_iter} epochs without evidence of the optimum: no certificate put "
            f"the gap on the full objective within tol={tol} times it ({state.stop_reason}); {cause}."
        )
    advice = "raising max_iter" if automatic else "raising max_iter or using learning_rate='auto'"
    return (
        f"Maximum number of epochs ({max_iter}) reached before convergence (tol={tol}, relative to "
        f"the objective); consider {advice}."
    )


def patience(n_iter_no_change, momentum):
    """Epochs without improvement that make a stall, given the momentum.

    Momentum ``mu`` carries each step over about ``1 / (1 - mu)`` epochs, and
    its loss rises and falls on that scale while it still makes progress, so
    the window stretches by that factor: 5 epochs at momentum 0 are 50 at 0.9.

    Parameters
    ----------
    n_iter_no_change : int
    momentum : float

    Returns
    -------
    int
    """
    return int(np.ceil(n_iter_no_change / (1.0 - momentum) - 1e-9))  # 1 - 0.9 is not 0.1


def _diverged(state, what, eta, controls):
    """The error for a call whose objective ``what``, at the current epoch (never advising the step in use)."""
    if controls.automatic:
        advice = (
            "The automatic step (learning_rate='auto', in use) was too large for this data: pass a float "
            f"learning_rate below {eta:.6g}, scale X (for example with StandardScaler), or use solver='batch', "
            "whose automatic steps search for their size."
        )
    else:
        advice = (
            f"The largest safe step measured from the data is {controls.safe_step():.6g} "
            "(learning_rate='auto' takes it); use a smaller learning_rate, learning_rate='auto', "
            "or scale X (for example with StandardScaler)."
        )
    return DivergenceError(
        f"Gradient descent diverged at epoch {state.n_iter}: {what}, with learning rate {eta!r}. {advice} "
        "The estimator keeps the state it had before this call."
    )


def _exploded(loss, progress):
    """Whether an epoch's loss (measured along its pass) exploded past J's magnitude (``Progress.scale``)."""
    return loss > EXPLOSION_FACTOR * progress.scale + progress.floor


def _rising(loss, progress, noise):
    """Whether the epoch's loss ends ``n_iter_no_change`` rises in a row above the call's start (and its noise)."""
    losses, n = progress.losses, progress.controls.n_iter_no_change
    window = losses[-n:] + [loss]
    rising = len(window) > n and all(a < b for a, b in zip(window[:-1], window[1:], strict=True))
    # A steady rise within the call's noise is not divergence where training began in this call: its
    # start may be better than sgd's noisy passes settle at (the log link's intercept-only optimum).
    began_here = len(progress.state.loss_curve) == len(losses)
    start = progress.start
    return rising and loss > start + (abs(start) * noise if began_here else 0.0) + progress.floor


def _check_epoch(loss, progress, eta, noise, xp):
    """Raise ``DivergenceError`` when the epoch's loss shows the step is too large.

    Parameters
    ----------
    loss : float
        This epoch's loss.
    progress : Progress
        The call so far (its earlier epoch losses, J at its start, rounding).
    eta : float
    noise : float
        The algorithm's noise (``Algorithm.noise``).
    xp : array namespace
    """
    losses, state, start, floor = progress.losses, progress.state, progress.start, progress.floor
    controls = progress.controls
    finite = (
        math.isfinite(loss) and bool(xp.all(xp.isfinite(state.coef))) and bool(xp.all(xp.isfinite(state.intercept)))
    )
    if not finite:
        raise _diverged(state, f"the objective became {loss!r}", eta, controls)
    if _exploded(loss, progress):
        raise _diverged(state, f"the objective rose to {loss!r} from {start!r}", eta, controls)
    if progress.algorithm.monotone and losses and loss > losses[-1] + abs(losses[-1]) * controls.rounding + floor:
        raise _diverged(
            state, f"the objective rose from {losses[-1]!r} to {loss!r} in one full-batch step", eta, controls
        )
    if _rising(loss, progress, noise):
        raise _diverged(
            state,
            f"the objective rose for {controls.n_iter_no_change} epochs in a row, to {loss!r} from {start!r}",
            eta,
            controls,
        )


def _norm(a):
    """Euclidean norm of all of ``a``'s entries, as a float (any array namespace)."""
    xp, _ = get_namespace(a)
    return float(xp.sqrt(xp.sum(a * a)))


def _report(state, loss, eta, elapsed, score, update_norm, verbose):
    coef = state.coef
    line = f"Epoch {state.n_iter - 1}: loss={loss!r}"
    if math.prod(coef.shape) == 1:
        line += f", w={float(coef[0, 0])!r}"
    line += f", step={eta:.6g}, time={elapsed:.3f}s"
    if verbose > 1:
        if score is not None:
            line += f", validation R2={score:.6f}"
        line += f", |w|={_norm(coef):.6g}, |update|={update_norm:.6g}, t={state.t}"
    print(line)


def _kinetic_energy(state, eta):
    """``||v||^2 / (2 eta)`` of the state's velocity, measured where the steps are taken (0 without momentum)."""
    if state.momentum is None or not eta > 0.0:
        return 0.0
    velocity, velocity_intercept = state.momentum.velocity, state.momentum.velocity_intercept
    if state.conditioning is not None:
        squared = state.conditioning.inner(velocity, velocity_intercept, velocity, velocity_intercept, True)
    else:
        xp, _ = get_namespace(velocity)
        squared = float(xp.sum(velocity * velocity)) + float(xp.sum(velocity_intercept * velocity_intercept))
    return squared / (2.0 * eta)


def _committed_model(state, controls):
    """The model the call leaves: the best one under early stopping, else the state's."""
    if controls.validation is not None and state.best_model is not None:
        return state.best_model
    return state.model()


def _epochs(progress, rule, noise, callbacks, xp):
    """The epoch loop of ``run_epochs``; returns why it stopped."""
    algorithm, state, controls = progress.algorithm, progress.state, progress.controls
    losses, best = progress.losses, progress.best
    retreats = 0  # epochs undone by the search for sgd's step
    # The search is a whole fit's, with a tol (a fit that runs its steps, tol=None, equals its partial_fits).
    retreat = algorithm.retreats and controls.stop_on_stall and controls.tol is not None
    while len(losses) < controls.max_iter:
        if callbacks is not None:
            callbacks.begin_epoch()
        eta = state.eta0 * state.eta_factor
        started = time.perf_counter()
        before = xp.asarray(state.coef, copy=True) if controls.verbose > 1 else None
        if state.average_restart:
            if state.sgd is not None:
                state.sgd.n_averaged = 0
            state.average_restart = False
        saved = state.copy() if retreat and retreats < MAX_RETREATS else None
        with np.errstate(over="ignore", invalid="ignore"):
            loss = algorithm.epoch(state, eta)
        # J at the model the epoch leaves (its loss is measured along the pass, a step behind).
        value = algorithm.value(*state.model()) if saved is not None else None
        # Undone too when the pass went wild on its way there (its loss exploded, is NaN, or rose for
        # n_iter_no_change epochs in a row above the start): a step the guard would call divergence.
        if saved is not None and (
            not value <= progress.start + progress.floor  # a NaN J is undone too
            or _exploded(loss, progress)
            or _rising(loss, progress, noise)
        ):
            vars(state).update(vars(saved))  # undone: the same epoch again at a smaller step
            state.eta_factor *= RETREAT_FACTOR
            retreats += 1
            if controls.verbose:
                print(f"Epoch undone (objective {value!r}); step reduced to {state.eta0 * state.eta_factor:.6g}")
            continue
        _check_epoch(loss, progress, eta, noise, xp)
        losses.append(loss)
        state.loss_curve.append(loss)
        state.n_iter += 1
        score = None
        if controls.validation is not None:
            score = validation_score(controls.validation, *state.model(), loss=controls.score)
            state.validation_scores.append(score)
            metric = -score
        else:
            metric = loss
        best.append(min(metric, best[-1]) if best else metric)
        if controls.verbose:
            update_norm = _norm(state.coef - before) if before is not None else None
            _report(state, loss, eta, time.perf_counter() - started, score, update_norm, controls.verbose)
        if controls.validation is not None and metric < state.best_metric:
            state.best_model = tuple(xp.asarray(a, copy=True) for a in state.model())
        if callbacks is not None and callbacks.end_epoch(state):
            return "callback"
        if controls.tol is None:
            state.best_metric = min(state.best_metric, metric)
            continue
        reason = rule.after_epoch(progress, metric)
        if reason is not None:
            return reason
    return "max_iter" if controls.stop_on_stall else "partial_fit"


def run_epochs(algorithm, state, controls, callbacks=None):
    """Train ``state`` in place with ``algorithm`` under ``controls``.

    The call's objective is measured at its starting model and at the model it
    leaves: training that ends above its start (beyond ``algorithm.noise``)
    raises, as does an epoch whose loss is non-finite, explodes, rises in a
    plain full-batch step, or rises for ``n_iter_no_change`` epochs in a row.

    Parameters
    ----------
    algorithm : Algorithm
        Runs one epoch, ``algorithm.epoch(state, eta) -> loss``, measures J,
        ``algorithm.value(coef, intercept) -> float``, and gives the call's
        stopping rule (``skgd._algorithms._protocol``); early stopping
        replaces the rule by the improvement of the validation score.
    state : TrainingState
    controls : Controls
    callbacks : TrainingTasks or None, default=None
        Told when each epoch begins and ends; a callback may end training
        after an epoch.

    Returns
    -------
    str
        Why training stopped: a key of ``STOP_REASONS``.

    Raises
    ------
    DivergenceError
        If training diverged; ``state`` is then left mid-way and must be
        discarded.
    """
    xp, _ = get_namespace(state.coef)
    start = algorithm.value(*_committed_model(state, controls))
    at_iterate = state.model()[0] is state.coef  # not an average
    state.objective = start if controls.validation is None and at_iterate else None
    if not math.isfinite(start):
        raise ValueError(
            f"The objective at the starting model is {start!r}: the data or the initial model is too large."
        )
    # Momentum carries energy from earlier calls in its velocity: a call may
    # spend it, raising J by up to the kinetic energy ||v||^2 / (2 eta) it
    # started with (in the coordinates the steps are taken in), times the
    # momentum's time scale 1 / (1 - mu)**2.
    noise = algorithm.noise(controls.rounding)
    kinetic = _kinetic_energy(state, state.eta0 * state.eta_factor) * (1.0 + noise)
    # Rounding is relative to J, and never under what the problem's scale
    # leaves (``Progress.resolution``): J at the call's start, or at the model
    # training began from (a call may start at J near zero), or, for a warm
    # start without that history or an exact fit, at the zero model (a read of
    # y). A deviance at its minimum of 0 may round to just below it: the scale
    # is a magnitude.
    scale = max(abs(start), abs(state.loss_curve[0]) if state.loss_curve else 0.0)
    coef, intercept = state.model()
    if scale == 0.0 or (not state.loss_curve and bool(xp.any(coef != 0.0))):
        scale = max(scale, abs(algorithm.value(xp.zeros_like(coef), xp.zeros_like(intercept))))
    progress = Progress(algorithm, state, controls, [], [], start, scale)
    floor = progress.floor
    rule = algorithm.stopping_rule(controls) if controls.validation is None else ImprovementRule(None)
    reason = _epochs(progress, rule, noise, callbacks, xp)
    end = algorithm.value(*_committed_model(state, controls))
    if not (math.isfinite(end) and end <= start + abs(start) * noise + kinetic + floor):
        raise _diverged(
            state,
            f"the call ended at objective {end!r}, above {start!r} where it began",
            state.eta0 * state.eta_factor,
            controls,
        )
    if controls.verbose:
        print(f"Stopped after epoch {state.n_iter - 1}: {reason} (objective {end!r})")
    return reason
