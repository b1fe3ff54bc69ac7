"""The epoch loop every solver shares: progress, stopping, divergence, reports.

A solver path only knows how to run one epoch on a state; this loop decides
how many, keeps ``loss_curve_``, applies the adaptive schedule, tracks the
validation score for early stopping and refuses to continue past a divergence.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import ShuffleSplit

from ._array_api import _is_numpy_namespace, get_namespace, get_namespace_and_device
from ._schedules import adaptive_reduce
from ._sgd import index_dtype
from ._state import linear_predict

#: A loss this many times the reference loss (that of the all-zero model, or
#: the first epoch's, whichever is larger) counts as exploding.
EXPLOSION_FACTOR = 1e10


class DivergenceError(ValueError):
    """Raised when an epoch makes the objective non-finite or explode."""


@dataclass
class Controls:
    """How long to train and when to stop, decided by the estimator.

    Parameters
    ----------
    max_iter : int
        Epochs to run at most.
    tol : float or None
        Required improvement; None disables the progress checks.
    n_iter_no_change : int
        Epochs without improvement that count as a stall (see ``patience``).
    adaptive : bool
        Whether stalls reduce the step (``schedule="adaptive"``).
    stop_on_stall : bool
        Whether a stall may end training (False for ``partial_fit``).
    validation : tuple or None
        ``(X_val, Y_val, sample_weight_val)`` for early stopping.
    verbose : int
    reference_loss : float
        Scale against which an exploding loss is judged.
    """

    max_iter: int
    tol: float
    n_iter_no_change: int
    adaptive: bool
    stop_on_stall: bool
    validation: tuple
    verbose: int
    reference_loss: float


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
    rows instead, as the namespace mini-batch path steps through its rows by
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


def validation_score(validation, coef, intercept):
    """R^2 of the linear model on the validation data (uniform over targets).

    Parameters
    ----------
    validation : tuple
        ``(X_val, Y_val, sample_weight_val)``.
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)

    Returns
    -------
    float
    """
    X_val, Y_val, s_val = validation
    return float(r2_score(Y_val, linear_predict(X_val, coef, intercept), sample_weight=s_val))


def _check_diverged(loss, state, eta, reference, xp):
    finite = (
        math.isfinite(loss) and bool(xp.all(xp.isfinite(state.coef))) and bool(xp.all(xp.isfinite(state.intercept)))
    )
    if finite and loss <= EXPLOSION_FACTOR * max(reference, 1e-300):
        return
    raise DivergenceError(
        f"Gradient descent diverged at epoch {state.n_iter}: the loss became {loss!r} "
        f"with learning rate {eta!r}. Use a smaller learning_rate, "
        "learning_rate='auto', or scale X (for example with StandardScaler). "
        "The estimator keeps the state it had before this call."
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


def run_epochs(path, state, controls, callbacks=None):
    """Train ``state`` in place with ``path`` under ``controls``.

    Parameters
    ----------
    path : StreamingBatch, GramBatch or SGDPath
        Runs one epoch: ``path.epoch(state, eta) -> loss``.
    state : TrainingState
    controls : Controls
    callbacks : TrainingTasks or None, default=None
        Told when each epoch begins and ends; a callback may end training
        after an epoch.

    Returns
    -------
    converged : bool
        Whether training stopped before ``max_iter`` because progress stalled
        (always True when ``tol`` is None or ``stop_on_stall`` is False, or
        when a callback ended training).

    Raises
    ------
    DivergenceError
        If an epoch makes the loss non-finite or explode; ``state`` is then
        left mid-way and must be discarded.
    """
    reference = controls.reference_loss
    xp, _ = get_namespace(state.coef)
    for _ in range(controls.max_iter):
        if callbacks is not None:
            callbacks.begin_epoch()
        eta = state.eta0 * state.eta_factor
        started = time.perf_counter()
        before = xp.asarray(state.coef, copy=True) if controls.verbose > 1 else None
        with np.errstate(over="ignore", invalid="ignore"):
            loss = path.epoch(state, eta)
        _check_diverged(loss, state, eta, reference, xp)
        if not state.loss_curve:
            reference = max(reference, loss)
        state.loss_curve.append(loss)
        state.n_iter += 1
        score = None
        if controls.validation is not None:
            score = validation_score(controls.validation, *state.model())
            state.validation_scores.append(score)
            metric = -score
        else:
            metric = loss
        if controls.verbose:
            update_norm = _norm(state.coef - before) if before is not None else None
            _report(state, loss, eta, time.perf_counter() - started, score, update_norm, controls.verbose)
        if controls.validation is not None and metric < state.best_metric:
            state.best_model = tuple(xp.asarray(a, copy=True) for a in state.model())
        if callbacks is not None and callbacks.end_epoch(state):
            return True
        if controls.tol is None:
            state.best_metric = min(state.best_metric, metric)
            continue
        if metric > state.best_metric - controls.tol:
            state.n_no_improvement += 1
        else:
            state.n_no_improvement = 0
        state.best_metric = min(state.best_metric, metric)
        if state.n_no_improvement >= controls.n_iter_no_change:
            state.n_no_improvement = 0
            if controls.adaptive:
                state.eta_factor, exhausted = adaptive_reduce(state.eta_factor)
                if controls.verbose:
                    print(f"Step reduced to {state.eta0 * state.eta_factor:.6g}")
                if exhausted and controls.stop_on_stall:
                    return True
            elif controls.stop_on_stall:
                return True
    return controls.tol is None or not controls.stop_on_stall
