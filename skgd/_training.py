"""The epoch loop every solver shares: progress, stopping, divergence, reports.

A solver only knows how to run one epoch on a state; this loop decides
how many, keeps ``loss_curve_``, applies the adaptive schedule, tracks the
validation score for early stopping and refuses to continue past a divergence.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import ShuffleSplit

from . import _certificate
from ._array_api import _is_numpy_namespace, get_namespace, get_namespace_and_device, widest_float
from ._schedules import adaptive_reduce
from ._sgd import index_dtype
from ._state import linear_predict

#: An epoch loss this many times the call's starting objective counts as exploding.
EXPLOSION_FACTOR = 1e4


#: Adaptive reductions in a row that bring no improvement before training is
#: taken to have converged (a smaller step no longer lowers the loss).
FRUITLESS_REDUCTIONS = 2

#: The full-batch rule stops once the objective is estimated within this share
#: of ``tol`` of its limit (relative): tol=1e-4 aims at 1e-6, a margin of 100
#: for the estimate, so a fit that stops silently is within ``tol`` of the optimum.
WINDOW_GAP_SHARE = 1e-2


#: Steps in the curvature matrix's coordinates a full-batch fit takes, each
#: followed by a new measurement, when the evidence contradicts its rule.
NEWTON_STEPS = 5


#: Epochs without a stop of the window rule (or a continuation's stage) after which a fit that can take
#: curvature steps measures the evidence anyway (and steps if it contradicts).
CRAWL_EPOCHS = 50


#: Epochs a search for sgd's step (``Controls.retreat``) may undo in one call, and the step each keeps.
MAX_RETREATS, RETREAT_FACTOR = 20, 0.2


#: Stages of a continuation in a row that take no step (each smoothing five
#: times finer than the last) before the model counts as converged.
STUCK_STAGES = 4


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
    rule : {"window", "improvement", "continuation"}
        How convergence is judged: ``"window"`` (full-batch steps on a smooth
        loss) extrapolates the objective's decrease over the last
        ``n_iter_no_change`` epochs to its limit and stops when the objective
        is within ``tol / 100`` of it (relative); ``"improvement"`` (sgd,
        non-smooth losses) counts epochs that fail to improve on the best
        loss by ``tol`` times it, reduces the adaptive step on a stall, and
        stops when ``FRUITLESS_REDUCTIONS`` reductions in a row bring no such
        improvement; ``"continuation"`` (full-batch steps on a loss's
        smoothing, each reduction of the step shrinking the smoothing)
        applies ``"window"`` to each stage and then reduces the step, and
        stops when a whole stage gained no more than ``tol / 100`` (relative).
    monotone : bool
        Whether every epoch must decrease the loss (plain full-batch steps on a
        smooth loss): any rise beyond rounding is divergence.
    rounding : float
        Relative change of the objective that is rounding (the loss is
        computed in X's dtype: larger for float32 X).
    noise : float
        Relative rise of the objective over a whole call that is still noise
        (0 for full batch up to rounding; sgd passes may end a little above
        where they began).
    safe_step : callable
        ``() -> float``: the largest safe step measured from the data, named
        when training diverges.
    crawl : bool, default=True
        Whether an adaptive step under ``ADAPTIVE_MIN_RATIO`` of its start
        while the loss still improves ends training as a crawl. False for sgd
        steps sized by a loss's smoothing at the residuals' scale, which
        shrink as far as they pay (down to rounding).
    score : Loss or None, default=None
        The loss whose ``score`` the validation reports (``validation_score``);
        None for R^2.
    automatic : bool, default=False
        Whether the step is ``learning_rate="auto"``'s (a divergence then
        advises something else).
    retreat : bool, default=False
        Whether an epoch that leaves J above the call's start (beyond rounding)
        is undone and taken again at ``RETREAT_FACTOR`` of the step, up to
        ``MAX_RETREATS`` times: sgd's automatic step for a loss without a
        global curvature bound (the log link's), searched as the batch step is.
    evidence : {None, "continue", "newton", "warn"}, default=None
        What a rule's "converged" must first pass (``skgd._certificate``): the
        measured gap of J at the model within ``tol`` times J. When it is not,
        ``"continue"`` (full batch) trains on, ``"newton"`` (full batch with
        ``learning_rate="auto"`` on a smooth loss) first takes up to
        ``NEWTON_STEPS`` steps in the curvature matrix's coordinates, and
        ``"warn"`` (sgd) ends as ``"noise_floor"`` (an adaptive step is reduced
        and training goes on). None trusts the rule.
    """

    max_iter: int
    tol: float
    n_iter_no_change: int
    adaptive: bool
    stop_on_stall: bool
    validation: tuple
    verbose: int
    rule: str
    monotone: bool
    rounding: float
    noise: float
    safe_step: object
    crawl: bool = True
    score: object = None
    automatic: bool = False
    retreat: bool = False
    evidence: str = None


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


def hold_out(X, Y, sample_weight, n_val, seed):
    """Hold out ``n_val`` rows for early stopping, copying only those.

    The rows are the ones ``train_test_split(X, test_size=n_val,
    random_state=seed)`` holds out (its ``ShuffleSplit``), and the training
    rows keep its order. NumPy and sparse data are not copied: training reads
    all of X, with zero weight on the held-out rows and the training positions
    in ``train_rows``, which is the objective, gradient and step bound of the
    training rows alone. Other array namespaces get a copy of the training
    rows instead, as the namespace mini-batch solver steps through its rows by
    slicing X.

    Parameters
    ----------
    X : array or CSR matrix of shape (n_samples, n_features)
    Y : array of shape (n_samples, n_targets)
    sample_weight : array of shape (n_samples,)
    n_val : int
        Rows to hold out, at least one fewer than ``n_samples``.
    seed : int
        The split's ``random_state``.

    Returns
    -------
    X, Y : arrays
        The data to train on: the same X and Y, or copies of the training rows.
    sample_weight : array
        The training weights: a copy with zeros on the held-out rows, or those
        of the training rows.
    train_rows : ndarray of shape (n_samples - n_val,) or None
        The training positions in X (of ``index_dtype(n_samples)``), or None
        when X holds only the training rows.
    validation : tuple
        ``(X_val, Y_val, sample_weight_val)``, copies of the held-out rows.
    """
    split = ShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(split.split(X))
    xp, _, device = get_namespace_and_device(X)
    if not _is_numpy_namespace(xp):
        train, val = xp.asarray(train, device=device), xp.asarray(val, device=device)
        (X, Y, sample_weight), validation = (
            tuple(xp.take(a, rows, axis=0) for a in (X, Y, sample_weight)) for rows in (train, val)
        )
        return X, Y, sample_weight, None, validation
    dtype = index_dtype(X.shape[0])
    train, val = train.astype(dtype), val.astype(dtype)  # frees the int64 permutation
    validation = (X[val], Y[val], sample_weight[val])
    sample_weight = sample_weight.copy()
    sample_weight[val] = 0
    return X, Y, sample_weight, train, validation


def validation_score(validation, coef, intercept, loss=None):
    """R^2 (or the loss's D^2) of the linear model on the validation data (uniform over targets).

    Weighted as ``r2_score`` weighs it, and finite as its ``force_finite``
    makes it also for a single validation row: a target without spread scores
    1 when predicted exactly and 0 otherwise. A loss whose ``score`` is
    ``"d2"`` (the log link's) is scored by ``deviance_explained`` instead.

    Parameters
    ----------
    validation : tuple
        ``(X_val, Y_val, sample_weight_val)``.
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    loss : Loss, default=None
        None (or a loss scored by R^2) for R^2.

    Returns
    -------
    float
    """
    X_val, Y_val, s_val = validation
    if loss is not None and loss.score == "d2":
        return deviance_explained(loss, Y_val, linear_predict(X_val, coef, intercept), s_val)
    xp, _ = get_namespace(Y_val)
    float64 = widest_float(xp, Y_val)
    Y = xp.astype(Y_val, float64)
    s = xp.astype(s_val, float64)[:, None]
    residual = Y - xp.astype(linear_predict(X_val, coef, intercept), float64)
    unexplained = xp.sum(s * residual * residual, axis=0)
    centred = Y - xp.sum(s * Y, axis=0) / xp.sum(s)
    total = xp.sum(s * centred * centred, axis=0)
    spread, ones = total > 0.0, xp.ones_like(total)
    exact = xp.where(unexplained == 0.0, ones, 0.0 * ones)
    scores = xp.where(spread, 1.0 - unexplained / xp.where(spread, total, ones), exact)
    return float(xp.mean(scores))


def deviance_explained(loss, Y, predictor, sample_weight):
    """D^2: the share of the loss's deviance the model explains, uniform over targets.

    ``1 - sum_i s_i l(p_i, y_i) / sum_i s_i l(p0, y_i)`` with ``p0`` the
    constant model's optimum (``Loss.null_predictor``: the log of the
    weighted mean for a log-link deviance, as scikit-learn's
    ``d2_tweedie_score``; a weighted quantile for the pinball loss, as
    ``d2_pinball_score``). A target without spread scores 1 when predicted
    exactly and 0 otherwise.

    Parameters
    ----------
    loss : Loss
        A loss scored by D^2 (``Loss.score``), of the linear predictor.
    Y : array of shape (n_samples, n_targets)
    predictor : array of shape (n_samples, n_targets)
        The model's linear predictors.
    sample_weight : array of shape (n_samples,)

    Returns
    -------
    float
    """
    xp, _ = get_namespace(Y)
    float64 = widest_float(xp, Y)
    Y, predictor = xp.astype(Y, float64), xp.astype(predictor, float64)
    s = xp.astype(sample_weight, float64)[:, None]
    model = xp.sum(s * loss.value_and_derivative(predictor, Y, xp=xp)[0], axis=0)
    null = xp.sum(s * loss.value_and_derivative(loss.null_predictor(Y, s, xp) + 0.0 * Y, Y, xp=xp)[0], axis=0)
    spread, ones = null > 0.0, xp.ones_like(null)
    exact = xp.where(model == 0.0, ones, 0.0 * ones)
    scores = xp.where(spread, 1.0 - model / xp.where(spread, null, ones), exact)
    return float(xp.mean(scores))


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


def _check_epoch(loss, losses, state, eta, start, floor, controls, xp):
    """Raise ``DivergenceError`` when the epoch's loss shows the step is too large.

    Parameters
    ----------
    loss : float
        This epoch's loss.
    losses : list of float
        The call's earlier epoch losses.
    state : TrainingState
    eta : float
    start : float
        J at the model the call started from.
    floor : float
        Changes of J at or under it are rounding.
    controls : Controls
    xp : array namespace
    """
    finite = (
        math.isfinite(loss) and bool(xp.all(xp.isfinite(state.coef))) and bool(xp.all(xp.isfinite(state.intercept)))
    )
    if not finite:
        raise _diverged(state, f"the objective became {loss!r}", eta, controls)
    if loss > EXPLOSION_FACTOR * abs(start) + floor:
        raise _diverged(state, f"the objective rose to {loss!r} from {start!r}", eta, controls)
    if controls.monotone and losses and loss > losses[-1] + abs(losses[-1]) * controls.rounding + floor:
        raise _diverged(
            state, f"the objective rose from {losses[-1]!r} to {loss!r} in one full-batch step", eta, controls
        )
    window = losses[-controls.n_iter_no_change :] + [loss]
    rising = len(window) > controls.n_iter_no_change and all(
        a < b for a, b in zip(window[:-1], window[1:], strict=True)
    )
    # A steady rise within the call's noise is not divergence where training began in this call: its
    # start may be better than sgd's noisy passes settle at (the log link's intercept-only optimum).
    began_here = len(state.loss_curve) == len(losses)
    if rising and loss > start + (abs(start) * controls.noise if began_here else 0.0) + floor:
        raise _diverged(
            state,
            f"the objective rose for {controls.n_iter_no_change} epochs in a row, to {loss!r} from {start!r}",
            eta,
            controls,
        )


def _window_converged(best, n, tol, floor):
    """Whether the best loss, extrapolated to its limit, is within ``tol / 100`` of it (relative).

    ``D`` is the decrease of the best loss over the last ``n`` epochs and
    ``D_prev`` over the ``n`` before; with the ratio ``rho = D / D_prev`` of a
    geometric tail, what is left to gain is ``D * rho / (1 - rho)``, so the
    loss is within ``D / (1 - rho)`` of its limit.

    Parameters
    ----------
    best : list of float
        The best loss after each epoch of the call.
    n : int
        The window.
    tol : float
    floor : float
        Changes at or under it are rounding.

    Returns
    -------
    bool
    """
    if len(best) <= n:
        return False
    decrease = best[-1 - n] - best[-1]
    if decrease <= floor:
        return True
    if len(best) <= 2 * n:
        return False
    previous = best[-1 - 2 * n] - best[-1 - n]
    rho = decrease / previous if previous > 0.0 else 1.0
    return rho < 1.0 and decrease / (1.0 - rho) <= WINDOW_GAP_SHARE * tol * best[-1]


def _confirmed(solver, state, controls, losses, best, floor, rule=True):
    """Whether the evidence at the model (``skgd._certificate``) confirms a rule's "converged".

    The measured gap must be within ``tol`` times J (or J's rounding). A
    ``"newton"`` fit first takes up to ``NEWTON_STEPS`` curvature steps while
    it is not, each an epoch of the loss curve. A certificate's gap is kept
    on the state (``gap_bound``). Where nothing can be measured the rule
    decides: ``rule`` is whether it holds (False: the evidence is asked
    whether training may end before the rule says so).
    """
    state.gap_bound = None
    if controls.evidence is None or controls.validation is not None:
        return rule
    for _ in range(NEWTON_STEPS + 1):
        model = state.model()
        evidence = _certificate.measure(solver, *model)
        if evidence is None:
            return rule
        value = solver.value(*model)
        if controls.verbose:
            print(f"Measured gap {evidence.gap} at objective {value!r}")
        if evidence.gap is not None and evidence.gap <= controls.tol * abs(value) + floor:
            state.gap_bound = evidence.gap if evidence.bound else None
            return True
        unknown = rule and evidence.gap is None  # no certificate found: the rule decides, after a step that pays
        if controls.evidence != "newton" or evidence.step is None or len(losses) >= controls.max_iter:
            return unknown
        loss, moved = _certificate.newton_step(solver, state, evidence)
        if not moved:
            return unknown
        losses.append(loss)
        state.loss_curve.append(loss)
        state.n_iter += 1
        best.append(min(loss, best[-1]))
    return False


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
    if state.velocity is None or not eta > 0.0:
        return 0.0
    velocity, velocity_intercept = state.velocity, state.velocity_intercept
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


def _epochs(solver, state, controls, callbacks, start, floor, xp):
    """The epoch loop of ``run_epochs``; returns why it stopped."""
    losses, best = [], []
    since = 0  # where the window rule looks from: after the last contradicting evidence
    fruitless = 0  # adaptive reductions in a row that brought no improvement
    contradicted = False  # whether evidence contradicted a stall of the improvement rule
    stage = 0  # where the continuation's current stage began in ``best``
    stuck = 0  # the continuation's stages in a row that took no step
    retreats = 0  # epochs undone by the search for sgd's step
    while len(losses) < controls.max_iter:
        if callbacks is not None:
            callbacks.begin_epoch()
        eta = state.eta0 * state.eta_factor
        started = time.perf_counter()
        before = xp.asarray(state.coef, copy=True) if controls.verbose > 1 else None
        if state.average_restart:
            state.n_averaged, state.average_restart = 0, False
        saved = state.copy() if controls.retreat and retreats < MAX_RETREATS else None
        with np.errstate(over="ignore", invalid="ignore"):
            loss = solver.epoch(state, eta)
        # J at the model the epoch leaves (its loss is measured along the pass, a step behind).
        value = solver.value(*state.model()) if saved is not None else None
        if saved is not None and not value <= start + floor:  # NaN too
            vars(state).update(vars(saved))  # undone: the same epoch again at a smaller step
            state.eta_factor *= RETREAT_FACTOR
            retreats += 1
            if controls.verbose:
                print(f"Epoch undone (objective {value!r}); step reduced to {state.eta0 * state.eta_factor:.6g}")
            continue
        _check_epoch(loss, losses, state, eta, start, floor, controls, xp)
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
        if controls.rule == "window" and controls.validation is None:
            window = _window_converged(best[since:], controls.n_iter_no_change, controls.tol, floor)
            # A fit that can take curvature steps asks the evidence also after a long crawl.
            crawled = controls.evidence == "newton" and len(best) - since >= CRAWL_EPOCHS
            if controls.stop_on_stall and (window or crawled):
                if _confirmed(solver, state, controls, losses, best, floor, rule=window):
                    return "converged"
                since = len(best)
            continue
        if controls.rule == "continuation" and controls.validation is None:
            n = controls.n_iter_no_change
            if controls.stop_on_stall and _window_converged(best[stage:], n, controls.tol, floor):
                gain = (best[stage - 1] if stage else start) - best[-1]
                # A stage that took no step at all had too coarse a smoothing to improve on the model.
                stuck = stuck + 1 if gain <= floor else 0
                settled = stuck >= STUCK_STAGES or (
                    stage and floor < gain <= WINDOW_GAP_SHARE * controls.tol * best[-1]
                )
                # Each stage's end asks the evidence, which may end training before the rule would.
                if _confirmed(solver, state, controls, losses, best, floor, rule=settled):
                    return "converged"  # a finer smoothing no longer pays
                stuck = 0 if settled else stuck
                # The smoothing (and the step with it) shrinks as far as it pays: no crawl to report,
                # until it is finer than the residuals' rounding.
                state.eta_factor = solver.finer_smoothing(state)
                if state.eta_factor <= controls.rounding:
                    return "converged" if _confirmed(solver, state, controls, losses, best, floor) else "stalled"
                stage = since = len(best)
            elif controls.stop_on_stall and controls.evidence == "newton" and len(best) - since >= CRAWL_EPOCHS:
                # A stage that crawls asks the evidence too, whose step (a vertex's) may end training.
                if _confirmed(solver, state, controls, losses, best, floor, rule=False):
                    return "converged"
                since = len(best)
            continue
        # Relative for a loss (scale-free), absolute for a validation R^2 (already scale-free).
        scale = abs(state.best_metric) if controls.validation is None and math.isfinite(state.best_metric) else 1.0
        if metric >= state.best_metric - controls.tol * scale:  # at J = 0 nothing improves
            state.n_no_improvement += 1
        else:
            state.n_no_improvement = 0
            fruitless = 0
        state.best_metric = min(state.best_metric, metric)
        if state.n_no_improvement < controls.n_iter_no_change:
            continue
        state.n_no_improvement = 0
        if controls.adaptive and fruitless < FRUITLESS_REDUCTIONS and controls.validation is None:
            state.eta_factor, exhausted = adaptive_reduce(state.eta_factor)
            # The average of the larger step's iterates carries their noise (and, for a
            # non-smooth loss, the whole way they travelled): averaging begins anew with
            # the next epoch (until then the model is still the average).
            state.average_restart = True
            fruitless += 1
            if controls.verbose:
                print(f"Step reduced to {state.eta0 * state.eta_factor:.6g}")
            if controls.stop_on_stall and state.eta_factor <= controls.rounding:  # a step under J's rounding
                if _confirmed(solver, state, controls, losses, best, floor):
                    return "converged"
                return "noise_floor" if controls.evidence == "warn" else "stalled"
            if exhausted and controls.stop_on_stall and controls.crawl:
                return "noise_floor" if contradicted and controls.evidence == "warn" else "step_exhausted"
        elif controls.stop_on_stall:
            if _confirmed(solver, state, controls, losses, best, floor):
                return "converged"
            if controls.evidence == "warn" and not controls.adaptive:
                return "noise_floor"
            fruitless, contradicted = 0, True  # not the optimum: train on (an adaptive step reduces again)
    return "max_iter" if controls.stop_on_stall else "partial_fit"


def run_epochs(solver, state, controls, callbacks=None):
    """Train ``state`` in place with ``solver`` under ``controls``.

    The call's objective is measured at its starting model and at the model it
    leaves: training that ends above its start (beyond ``controls.noise``)
    raises, as does an epoch whose loss is non-finite, explodes, rises in a
    plain full-batch step, or rises for ``n_iter_no_change`` epochs in a row.

    Parameters
    ----------
    solver : Solver
        Runs one epoch, ``solver.epoch(state, eta) -> loss``, and measures J,
        ``solver.value(coef, intercept) -> float`` (``skgd._solver``); a
        ``BatchSolver`` under the ``"continuation"`` rule, which asks it for
        each next stage's smoothing (``solver.finer_smoothing(state)``).
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
    start = solver.value(*_committed_model(state, controls))
    state.objective = start if controls.validation is None and state.n_averaged == 0 else None
    if not math.isfinite(start):
        raise ValueError(
            f"The objective at the starting model is {start!r}: the data or the initial model is too large."
        )
    # Momentum carries energy from earlier calls in its velocity: a call may
    # spend it, raising J by up to the kinetic energy ||v||^2 / (2 eta) it
    # started with (in the coordinates the steps are taken in), times the
    # momentum's time scale 1 / (1 - mu)**2.
    kinetic = _kinetic_energy(state, state.eta0 * state.eta_factor) * (1.0 + controls.noise)
    # Rounding is judged on the problem's scale: J at the call's start, or at
    # the model training began from (a call may start at J near zero). A deviance
    # at its minimum of 0 may round to just below it: the scale is a magnitude.
    scale = max(abs(start), abs(state.loss_curve[0]) if state.loss_curve else 0.0)
    if scale == 0.0:  # an exact fit from the start: J at the zero model sets the scale
        coef, intercept = state.model()
        scale = abs(solver.value(xp.zeros_like(coef), xp.zeros_like(intercept)))
    floor = controls.rounding * scale + 1e-300
    reason = _epochs(solver, state, controls, callbacks, start, floor, xp)
    end = solver.value(*_committed_model(state, controls))
    if not (math.isfinite(end) and end <= start + abs(start) * controls.noise + kinetic + floor):
        raise _diverged(
            state,
            f"the call ended at objective {end!r}, above {start!r} where it began",
            state.eta0 * state.eta_factor,
            controls,
        )
    if controls.verbose:
        print(f"Stopped after epoch {state.n_iter - 1}: {reason} (objective {end!r})")
    return reason
