"""GradientDescentRegressor: parameters, validation and state. It wires; it does no maths."""

import functools
import threading
import warnings
import weakref
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._array_api import (
    ARRAY_API_SUPPORT,
    _max_precision_float_dtype,
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    is_dask_array,
    move_to,
    rounding,
    to_numpy,
)
from ._callbacks import CallbackSupportMixin, TrainingTasks, with_callbacks
from ._conditioning import Conditioning
from ._loss import LOSSES, make_loss
from ._penalty import Penalty
from ._problem import Settings, TrainingData
from ._reductions import target_summary
from ._schedules import SCHEDULES, automatic_step
from ._sgd import int32_indices
from ._solver_choice import make_solver
from ._state import TrainingState, independent_rng, linear_predict
from ._stream import averages_the_stream, begin_chunk, refine_conditioning, report, stream_average, stream_step
from ._training import STOP_REASONS, Controls, deviance_explained, hold_out, patience, run_epochs

#: Relative rise over a call of sgd passes (or subgradient steps) that is noise:
#: measured over thousands of random small problems with learning_rate="auto",
#: a pass ended at most 1.33 times its start, and rarely (tiny data) above 2.
SGD_NOISE = 3.0


def call_noise(descends, momentum, rounding):
    """Relative rise of a call's objective that is not divergence.

    Full-batch steps on a smooth loss descend: rounding. An sgd pass is noisy,
    and so is a subgradient step on a non-smooth loss: near the optimum, on a
    few rows, either may end up to four times where it began (``SGD_NOISE``). Momentum ``mu`` carries the iterate
    past the minimum and back while stable; its loss may rise by the factor
    ``1 / (1 - mu)**2`` on top.

    Parameters
    ----------
    descends : bool
        Whether the steps descend (full batch on a smooth loss).
    momentum : float
    rounding : float
        As ``rounding`` gives it for the data.

    Returns
    -------
    float
    """
    base = 1.0 + (rounding if descends else SGD_NOISE)
    return base / (1.0 - momentum) ** 2 - 1.0


def _stopping_rule(smooth_batch, continuation):
    """How ``run_epochs`` judges convergence (``Controls.rule``)."""
    if smooth_batch:
        return "window"
    return "continuation" if continuation else "improvement"


def _evidence_mode(one_epoch, batch, newton):
    """What a rule's "converged" must pass (``Controls.evidence``): nothing for one epoch, else the evidence."""
    if one_epoch:
        return None
    if not batch:
        return "warn"
    return "newton" if newton else "continue"


def _training_namespace(X):
    """The array namespace and device a fit on X keeps its state in.

    X's own; NumPy's for a dask array, whose blocks are NumPy arrays.
    """
    xp, _, device = get_namespace_and_device(np.empty(0) if is_dask_array(X) else X)
    return xp, device


#: Each estimator's training lock, kept off the estimator (a lock neither pickles nor clones).
_TRAINING_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _training_lock(estimator):
    """The re-entrant lock one estimator's training calls take in turn."""
    with _LOCKS_LOCK:
        lock = _TRAINING_LOCKS.get(estimator)
        if lock is None:
            lock = _TRAINING_LOCKS[estimator] = threading.RLock()
        return lock


def _all_or_nothing(method):
    """Run a training method atomically: one call at a time, and if it raises, the estimator is left as it was.

    Training already works on a copy of the state; this also undoes what input
    validation set (``n_features_in_``, ``feature_names_in_``) before the failure.
    Calls from several threads on one estimator take turns, so the estimator
    holds one call's complete model, never a mix of two.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _training_lock(self):
            before = dict(vars(self))
            try:
                return method(self, *args, **kwargs)
            except BaseException:
                vars(self).clear()
                vars(self).update(before)
                raise

    return wrapper


class GradientDescentRegressor(CallbackSupportMixin, RegressorMixin, BaseEstimator):
    """Linear regression fitted by gradient descent you can watch and control.

    Minimises the note's objective, generalised::

        J(w, b) = sum_i s_i * l(x_i . w + b - y_i) / sum_i s_i  +  R(w)

    with ``l(r) = r**2`` for squared error (no factor 1/2, so a learning rate
    means the same step as in the plain mean-squared-error derivation) and
    ``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)``.

    Parameters
    ----------
    solver : {"batch", "sgd"}, default="batch"
        ``"batch"``: one full-gradient step per epoch. ``"sgd"``: each epoch
        is one pass over the samples in steps of ``batch_size`` samples.
    loss : {"squared_error", "huber", "epsilon_insensitive", \
            "squared_epsilon_insensitive", "absolute_error", "quantile", \
            "poisson", "gamma", "tweedie"}, default="squared_error"
        The loss ``l`` (``skgd._loss.LOSSES``). Huber is
        ``r**2`` inside ``epsilon`` and ``2*epsilon*|r| - epsilon**2``
        outside; absolute error is ``|r|`` (least absolute deviations, the
        median regression); quantile is the pinball loss
        ``max(q * (y - p), (q - 1) * (y - p))`` of ``q = quantile``, whose
        model predicts the conditional ``q``-quantile of ``y``.
        ``"poisson"``, ``"gamma"`` and ``"tweedie"`` are generalised linear
        models with the log link: ``l`` is the unit deviance (no factor 1/2)
        at ``mu = exp(x . w + b)``, e.g. ``2 * (y * log(y / mu) - y + mu)``
        for poisson, so ``coef_`` is on the log scale, ``predict`` returns
        ``exp(X @ coef_ + intercept_)``, ``loss_curve_`` is in deviance and
        ``PoissonRegressor(alpha=a / 2)`` is ``loss="poisson",
        penalty="l2", alpha=a`` (likewise ``GammaRegressor`` and
        ``TweedieRegressor(link="log")``). Poisson and tweedie with
        ``power < 2`` need ``y >= 0``, gamma and tweedie with ``power >= 2``
        need ``y > 0`` (``ValueError`` otherwise); a fit starts at the
        intercept ``log(mean(y))`` (weighted) unless ``intercept_init`` is given.
        With ``learning_rate="auto"`` the batch solver searches for each
        step (backtracking: the deviance has no global curvature bound) and
        sgd caps the change one sample's step makes to its own ``x . w + b``
        at 1; ``score`` is then D^2, the deviance explained.
    epsilon : float, default=0.1
        Width of the huber and epsilon-insensitive losses.
    quantile : float, default=0.5
        The quantile ``q`` of ``loss="quantile"``, in (0, 1) (the name
        ``HistGradientBoostingRegressor`` uses); 0.5 is half the absolute error.
    power : float, default=1.5
        The Tweedie power ``k >= 1`` of ``loss="tweedie"`` (as
        ``TweedieRegressor``'s): 1 is poisson, 2 gamma, 3 inverse Gaussian and
        ``1 < k < 2`` compound Poisson-gamma. Powers below 1 are not offered:
        ``0 < k < 1`` has no distribution, and ``k <= 0`` (the normal
        deviance with a log link) allows targets of any sign, whose mean the
        log link cannot start from.
    penalty : {"l2", "l1", "elasticnet"} or None, default=None
        The regulariser ``R``: ``rho`` is 0 for l2, 1 for l1 and ``l1_ratio``
        for elasticnet. The intercept is never penalised.
    alpha : float, default=1e-4
        Strength of the penalty.
    l1_ratio : float, default=0.15
        ``rho`` of the elastic net.
    learning_rate : "auto" or float, default="auto"
        The step size. ``"auto"`` fits raw data (features in their own units)
        as well as least squares does: the solver steps in better coordinates
        for the same objective (columns centred when there is an intercept and
        scaled by Jacobi's diagonal preconditioner, ``skgd._conditioning``;
        never densifying sparse X, which sgd scales without centring), with the step ``1 / L`` measured there
        (``L`` the Lipschitz constant of the smooth part's gradient for
        batch, the largest per-sample one, times ``1 - momentum``, for sgd).
        With a smooth loss and no momentum the batch solver is accelerated
        (FISTA with adaptive restart); so is the quantile loss, on its
        smoothed form, whose width shrinks with each reduction of the
        adaptive step while J (the pinball loss itself) falls every epoch. ``coef_`` and ``intercept_`` stay in
        the user's units and the penalty applies to them. A float is a plain
        step in the user's coordinates (the note's steps, to the last bit).
        The coordinates are chosen by the call that starts training (``fit``,
        or the first ``partial_fit``) and kept by later ``partial_fit`` calls.
    schedule : {"constant", "invscaling", "adaptive"}, default="adaptive"
        How the step changes: constant; ``eta / (1 + t) ** power_t`` with
        ``t`` the updates made so far; or kept until ``n_iter_no_change``
        epochs fail to improve the loss by ``tol`` (relative), then divided
        by 5 (sgd and non-smooth losses; see ``tol``). The adaptive default
        lets constant-step SGD settle below its noise floor; with
        ``tol=None`` it is the constant schedule. ``partial_fit`` never
        reduces the step (its chunks are different data): with sgd and a
        ``tol`` the adaptive schedule keeps the step and adapts the
        averaging window instead (see ``partial_fit``).
    power_t : float, default=0.5
        Exponent of the invscaling schedule.
    momentum : float, default=0.0
        Heavy-ball momentum in [0, 1).
    nesterov : bool, default=False
        Use Nesterov's momentum (as MLPRegressor's SGD optimizer).
    batch_size : int, default=1
        Samples per step for ``solver="sgd"``; 1 is per-sample SGD.
    average : bool or int, default=False
        ``solver="sgd"`` only: when True, ``coef_`` is the average of the
        iterates; an int starts averaging at that update count. With the
        adaptive schedule the average begins anew with the epoch after each
        reduction of the step (the larger step's iterates carry its noise).
        A ``partial_fit`` stream with the adaptive schedule (and a ``tol``)
        always averages, from update ``max(average, 1)``.
    max_iter : int, default=1000
        Maximum number of epochs of ``fit``.
    tol : float or None, default=1e-4
        When training has converged, scale-free (multiplying y by ``c``
        changes neither ``n_iter_`` nor ``coef_ / c``). Batch with a smooth
        loss: the objective's decrease over the last ``n_iter_no_change``
        epochs, extrapolated geometrically to its limit, puts it within
        ``tol / 100`` of the optimum (relative). Sgd and non-smooth losses:
        ``n_iter_no_change`` epochs in a row that fail to improve on the best
        loss by ``tol`` times it make a stall; the adaptive schedule divides
        the step by 5, and training has converged when two reductions in a
        row bring no such improvement. With early stopping the validation R^2
        must improve by ``tol`` (absolute). Any other end of ``fit`` (the
        epoch limit, or an adaptive step under 1e-6 of its start while the
        loss still improves) raises ``ConvergenceWarning`` and is recorded in
        ``stop_reason_``. None runs ``max_iter`` epochs, quietly.
    n_iter_no_change : int, default=5
        The window of epochs the stopping rules look at. With momentum ``mu``
        it is ``ceil(n_iter_no_change / (1 - mu))`` epochs, since a momentum
        loss rises and falls on that scale while still making progress.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, score it after every
        epoch and keep the best coefficients seen (``fit`` only: as in
        MLPRegressor and SGDRegressor, ``partial_fit`` trains on all the rows
        it is given). Only the held-out rows are
        copied (for NumPy and sparse X; other array namespaces also copy the
        training rows); not supported for dask arrays.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``.
    shuffle : bool, default=True
        Whether sgd visits the samples in a fresh random order each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the sample order and the validation split.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    verbose : int, default=0
        1 prints a line per epoch (epoch, loss, the weight when there is one,
        step, time), and for a ``partial_fit`` stream a line per chunk (its
        prequential loss at the model and at the iterate, whether the
        average was kept or restarted, its length and the step); 2 adds the
        validation score (with early stopping), the weight norm, the norm of
        the epoch's update and the update count.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Fitted coefficients, in the dtype of X.
    intercept_ : float or ndarray of shape (n_targets,)
        Fitted intercept.
    loss_curve_ : list of float
        J per epoch: for batch at the iterate before the epoch's step, for sgd
        the weighted mean of each sample's loss before its update, plus R.
    n_iter_ : int
        Epochs run (cumulative over ``partial_fit`` calls).
    t_ : int
        Updates made.
    learning_rate_ : float
        The step size in use at the end of training (in the conditioned
        coordinates with ``learning_rate="auto"``).
    stop_reason_ : str
        Why the last call ended: ``"converged"``, ``"max_iter"``,
        ``"step_exhausted"`` (the adaptive step fell under 1e-6 of its start
        while the loss still improved: a crawl), ``"stalled"`` (the rule
        stalled, or the step fell to J's rounding, above the optimum by the
        measured evidence), ``"noise_floor"`` (sgd: the pass's noise keeps the
        model off the optimum by more than ``tol``, as measured),
        ``"callback"`` (a callback asked to stop) or ``"partial_fit"`` (one
        epoch, as asked). Only ``"converged"``, ``"callback"`` and
        ``"partial_fit"`` end silently.
    gap_bound_ : float or None
        A certified upper bound on ``J - J*`` (averaged over targets) at the
        fitted model, as ``Lasso``'s ``dual_gap_``: the exact gap of squared
        error's quadratic J (an upper bound with an L1 penalty), or the LP
        duality gap of the quantile and absolute losses. None where the
        evidence was an estimate (the other smooth losses), not measured, or
        the call did not converge.
    validation_scores_ : list of float
        Held-out R^2 per epoch (early stopping only); D^2 (the share of the
        deviance explained, as ``score``) for the log link's losses.
    best_validation_score_ : float
        Best held-out score (early stopping only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    With ``sklearn.set_config(array_api_dispatch=True)`` (scikit-learn >= 1.9,
    ``SCIPY_ARRAY_API=1``), X of any array API namespace (PyTorch, CuPy,
    array-api-strict...) is fitted in that namespace and on its device, and
    ``coef_``, ``intercept_`` and predictions come back there; y and
    ``sample_weight`` follow X. The batch solver and mini-batch sgd compute
    on the device; per-sample sgd (``batch_size=1``) runs the compiled loop
    on a host copy of the data and returns the model to the device.

    With scikit-learn >= 1.9 the estimator takes scikit-learn's callbacks
    (``set_callbacks``, from the experimental ``sklearn.callback``): each
    ``fit`` or ``partial_fit`` call is a task and each epoch one of its
    sub-tasks, so ``ProgressBar`` shows the epochs go by, ``ScoringMonitor``
    logs a score per epoch (the last one is ``score`` of the fitted model) and
    a callback that asks to stop ends training after the epoch, leaving the
    model that epoch produced. Older scikit-learn versions train the same,
    without ``set_callbacks``. ``skgd.LossCurveDisplay`` draws ``loss_curve_``.

    See Also
    --------
    sklearn.linear_model.SGDRegressor : Per-sample SGD with half squared loss.
    sklearn.neural_network.MLPRegressor : Momentum and a loss curve, for networks.
    sklearn.linear_model.LinearRegression : The closed-form least squares fit.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GradientDescentRegressor
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> y = np.array([2.0, 4.0, 6.0])
    >>> reg = GradientDescentRegressor(learning_rate=0.01, max_iter=100, tol=None,
    ...                                fit_intercept=False).fit(X, y, coef_init=[1.0])
    >>> round(float(reg.coef_[0]), 6)
    1.999944
    >>> round(reg.loss_curve_[0], 6)
    4.666667
    """

    _parameter_constraints = {
        "solver": [StrOptions({"batch", "sgd"})],
        "loss": [StrOptions(set(LOSSES))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "power": [Interval(Real, 1, None, closed="left")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "schedule": [StrOptions(set(SCHEDULES))],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterov": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "average": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "fit_intercept": ["boolean"],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        solver="batch",
        loss="squared_error",
        epsilon=0.1,
        quantile=0.5,
        power=1.5,
        penalty=None,
        alpha=1e-4,
        l1_ratio=0.15,
        learning_rate="auto",
        schedule="adaptive",
        power_t=0.5,
        momentum=0.0,
        nesterov=False,
        batch_size=1,
        average=False,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        fit_intercept=True,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.solver = solver
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.power = power
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.average = average
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.array_api_support = ARRAY_API_SUPPORT
        # The log link's losses take non-negative or positive targets only.
        tags.target_tags.positive_only = self.loss in LOSSES and self._make_loss().targets is not None
        return tags

    def _make_loss(self):
        """The loss the parameters name, its own parameters bound in."""
        return make_loss(self.loss, **self.get_params(deep=False))

    def _target_summary(self, X, Y, sample_weight, starting=True):
        """``(minimum, means, maxima)`` of the targets for a loss that has a range (None for the others); checks it."""
        loss = self._make_loss()
        if loss.targets is None:
            return None
        if is_dask_array(X):
            from ._dask import target_summary as dask_target_summary

            summary = dask_target_summary(Y, sample_weight)
        else:
            summary = target_summary(Y, sample_weight)
        loss.check_targets(*summary[:2], starting=starting)
        return summary

    def _start_intercept(self, intercept_init, summary):
        """The starting intercept: as given, or the loss's own start (the log link's ``log(mean(y))``)."""
        if intercept_init is not None or summary is None or not self.fit_intercept:
            return intercept_init
        return self._make_loss().initial_intercept(summary[1])

    def _validate_params(self):
        # SGDRegressor's learning_rate names a schedule; here it is the step size. Say where the name goes.
        from sklearn.utils._param_validation import InvalidParameterError

        try:
            super()._validate_params()
        except InvalidParameterError as error:
            name = self.learning_rate
            hints = {
                **dict.fromkeys(
                    tuple(SCHEDULES),
                    f"is schedule={name!r} here, with learning_rate the step size: eta0 / 2 for squared error "
                    "and huber, eta0 for the epsilon-insensitive losses",
                ),
                **dict.fromkeys(
                    ("optimal", "pa1", "pa2"),
                    "has no counterpart here; learning_rate='auto' derives a safe step from the data",
                ),
            }
            if not (str(error).startswith("The 'learning_rate'") and isinstance(name, str) and name in hints):
                raise
            raise InvalidParameterError(f"{error} SGDRegressor's learning_rate={name!r} {hints[name]}.") from None

    # ------------------------------------------------------------------ data
    def _validate_training_data(self, X, y, sample_weight, reset):
        if is_dask_array(X):
            if self.early_stopping:
                raise ValueError(
                    "early_stopping=True is not supported with dask arrays; hold out a validation "
                    "set (for example with dask_ml.model_selection.train_test_split) and score it."
                )
            from ._dask import check_training_data  # dask is imported only for dask input

            validate_data(self, X, y, reset=reset, skip_check_array=True)
            return check_training_data(X, y, sample_weight)
        xp, _, device = get_namespace_and_device(X)
        y, sample_weight = move_to(y, sample_weight, xp=xp, device=device)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=[xp.float64, xp.float32],
            order="C",
            multi_output=True,
            y_numeric=True,
        )
        if hasattr(X, "tocsr"):
            X = int32_indices(X.tocsr())
        with np.errstate(over="ignore"):  # an overflow is reported just below
            Y = xp.astype(y, X.dtype, copy=False)
        if not bool(xp.all(xp.isfinite(Y))):
            raise ValueError(
                f"y holds values too large for X's dtype {X.dtype} (largest |y| is "
                f"{float(xp.max(xp.abs(xp.astype(y, _max_precision_float_dtype(xp, device))))):.3g}); "
                "pass X as float64 or rescale y."
            )
        one_d = Y.ndim == 1
        Y = xp.reshape(Y, (Y.shape[0], -1))
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if not bool(xp.any(sample_weight)):  # scikit-learn < 1.8 lets all-zero weights through
            raise ValueError("Sample weights must contain at least one non-zero number.")
        total = float(xp.sum(xp.astype(sample_weight, _max_precision_float_dtype(xp, device))))
        if total > float(xp.finfo(X.dtype).max) / 1e3:
            raise ValueError(
                f"sample_weight sums to {total:.3g}, too close to the largest {X.dtype} for the weighted sums "
                "of a pass; rescale the weights (only their ratios matter to the objective) or pass X as float64."
            )
        return X, Y, sample_weight, one_d

    def _check_settings(self):
        if self.solver == "batch" and self.average:
            raise ValueError("average is an option of solver='sgd'; the batch solver's iterates are not noisy.")

    def _settings(self, n_train, loss, accelerated=False, smoothing=False, backtracking=False, stream=False):
        average = (stream_average(self.average) if stream else int(self.average)) if self.solver == "sgd" else 0
        return Settings(
            loss=loss,
            penalty=Penalty.from_params(self.penalty, self.alpha, self.l1_ratio),
            fit_intercept=bool(self.fit_intercept),
            schedule=SCHEDULES[self.schedule],
            power_t=float(self.power_t),
            momentum=float(self.momentum),
            nesterov=bool(self.nesterov),
            batch_size=min(int(self.batch_size), n_train),
            shuffle=bool(self.shuffle),
            average=average,
            accelerated=accelerated,
            smoothing=smoothing,
            backtracking=backtracking,
        )

    # -------------------------------------------------------------- training
    def _train(self, X, Y, sample_weight, state, *, one_epoch, one_d, summary):
        tasks = TrainingTasks(
            self,
            max_epochs=1 if one_epoch else self.max_iter,
            X=X,
            y=Y[:, 0] if one_d else Y,
            sample_weight=sample_weight,
            fitted_model=functools.partial(self._fitted_model, one_d=one_d, dtype=X.dtype),
        )
        train_rows, validation = None, None
        early_stopping = self.early_stopping and not one_epoch
        if not early_stopping:
            state.best_model = None
        else:
            X, Y, sample_weight, train_rows, validation = self._split_validation(X, Y, sample_weight, state.rng)
        batch, auto = self.solver == "batch", self.learning_rate == "auto"
        loss, schedule = self._make_loss(), SCHEDULES[self.schedule]
        if summary is not None:
            # sgd's step must be safe for every sample, whose curvature may grow with its target.
            loss = loss.for_targets(summary[1], relative=auto, maxima=None if batch else summary[2])
        plain = batch and auto and self.momentum == 0
        # The log link's losses have no global curvature bound: their batch steps search (backtracking).
        backtracking = batch and auto and loss.line_search
        # A non-smooth loss with a smoothing continues through its smoothed forms as the adaptive step shrinks.
        smoothable = auto and not loss.smooth and loss.smoothed(1.0) is not None
        smoothing = plain and smoothable and schedule.adaptive
        accelerated = smoothing or (plain and loss.smooth and not schedule.decays and not backtracking)
        data = TrainingData(X, Y, sample_weight, train_rows)
        n_train = X.shape[0] if train_rows is None else train_rows.shape[0]
        stream = averages_the_stream(one_epoch, not batch, schedule, self.tol)
        settings = self._settings(n_train, loss, accelerated, smoothing, backtracking, stream)
        if stream:  # test the chunk, then train on it (skgd._stream)
            prequential, settings = begin_chunk(state, data, settings)
        self._loss = settings.loss  # predict applies its inverse link (callbacks predict during training)
        solver = make_solver(data, settings, self.solver, max_iter=self.max_iter, one_epoch=one_epoch)
        xp, device = _training_namespace(X)
        sized_by_smoothing = smoothable and not batch
        if smoothing or sized_by_smoothing:
            solver.begin_smoothing(state)  # batch: its first smoothing; sgd: the step sized by it
        # The sgd loop steps sparse rows in scaled coordinates without centring them (a row keeps its zeros).
        centre = batch or not sp.issparse(X)
        first_call = auto and state.conditioning is None and state.n_iter == 0 and solver.conditions
        if first_call:
            state.moments = solver.moments()
            state.conditioning = Conditioning.from_moments(
                state.moments, settings.fit_intercept, settings.loss.curvature, settings.penalty.l2, centre=centre
            ).to_namespace(xp, device)
        elif state.conditioning is not None and not (solver.conditions and (centre or not state.conditioning.centred)):
            raise ValueError(
                "This model trains in conditioned coordinates (learning_rate='auto' when training began); this "
                "call's data cannot be stepped in them (sparse X with solver='sgd' after dense X with an intercept, "
                "mini-batches of another array namespace, or dask). Continue with data like the first call's, "
                "or refit."
            )
        refined = stream and not first_call and refine_conditioning(state, solver, settings, xp, device)
        state.ensure_buffers(
            momentum=settings.momentum > 0,
            averaging=settings.average > 0,
            l1=not batch and settings.penalty.l1 > 0,
            accelerated=accelerated,
        )
        conditioning = state.conditioning
        if conditioning is None and batch:  # batch bounds are measured in some coordinates: the user's
            conditioning = Conditioning.identity(X.shape[1], xp, device)

        def safe_step():
            return automatic_step(solver.lipschitz(conditioning), 0.0 if batch else settings.momentum)

        if auto:
            step = safe_step()
            if stream:  # and held where the average of a loss not quadratic would be biased by the iterates' spread
                step = min(step, stream_step(settings.loss, state, settings.fit_intercept, prequential))
            # A stream's chunk in refined coordinates takes its own safe step, measured in them.
            state.eta0 = step if state.eta0 is None or not one_epoch or refined else min(state.eta0, step)
        else:
            state.eta0 = float(self.learning_rate)
        if stream:  # its step is the base step: the stream adapts its averaging window instead (skgd._stream)
            state.eta_factor = 1.0
        controls = Controls(
            max_iter=1 if one_epoch else self.max_iter,
            tol=self.tol,
            n_iter_no_change=patience(self.n_iter_no_change, self.momentum),
            adaptive=schedule.adaptive and not one_epoch,  # chunks of a stream are different data
            stop_on_stall=not one_epoch,
            validation=validation,
            score=settings.loss,
            verbose=self.verbose,
            rule=_stopping_rule(batch and loss.smooth, smoothing and not one_epoch),
            monotone=batch and (loss.smooth or accelerated) and self.momentum == 0,
            rounding=rounding(xp, X.dtype),
            noise=call_noise(batch and (loss.smooth or smoothing), self.momentum, rounding(xp, X.dtype)),
            safe_step=safe_step,
            crawl=not sized_by_smoothing,
            automatic=auto,
            # The adaptive schedule's search for sgd's step where no curvature bound sizes it (a whole fit's).
            retreat=auto
            and not batch
            and loss.line_search
            and schedule.adaptive
            and not one_epoch
            and self.tol is not None,
            evidence=_evidence_mode(one_epoch, batch, auto and (loss.smooth or smoothing)),
        )
        state.stop_reason = run_epochs(solver, state, controls, tasks)
        if stream and self.verbose:
            print(report(prequential, state, state.eta0))
        self._commit(state, one_d, X.dtype, early_stopping)
        tasks.end()
        if not STOP_REASONS[state.stop_reason] and self.tol is not None:
            warnings.warn(self._stop_message(state), ConvergenceWarning, stacklevel=3)
        return self

    def _stop_message(self, state):
        """What to tell the user when training ended before it converged."""
        if state.stop_reason == "step_exhausted":
            return (
                f"The adaptive step fell under 1e-6 of its start after {state.n_iter} epochs while the loss still "
                "improved: training crawled rather than converged. Use learning_rate='auto' (steps in conditioned "
                "coordinates), scale X, or raise tol."
            )
        if state.stop_reason in ("noise_floor", "stalled"):
            adaptive = "" if self.schedule == "adaptive" else "schedule='adaptive', "
            cause = (
                f"the steps' noise keeps the model off the optimum (sgd): use {adaptive}a smaller step, "
                "larger batches, solver='batch', or raise tol"
                if state.stop_reason == "noise_floor"
                else "the step fell to the objective's rounding: use learning_rate='auto', scale X, or raise tol"
            )
            return (
                f"Training stalled after {state.n_iter} epochs above the optimum: the gap measured on the full "
                f"objective exceeds tol={self.tol} times it ({state.stop_reason}); {cause}."
            )
        return (
            f"Maximum number of epochs ({self.max_iter}) reached before convergence (tol={self.tol}, relative to "
            "the objective); consider raising max_iter or using learning_rate='auto'."
        )

    def _split_validation(self, X, Y, sample_weight, rng):
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if X.shape[0] - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no sample to train on of "
                f"n_samples={X.shape[0]}; early stopping needs one to train on and one to validate."
            )
        X, Y, train_weight, train_rows, validation = hold_out(
            X, Y, sample_weight, n_val, rng.randint(np.iinfo(np.int32).max)
        )
        xp, _ = get_namespace(train_weight)
        if not bool(xp.any(train_weight > 0)):
            raise ValueError(
                "early_stopping=True: every sample with positive weight fell in the held-out validation split, "
                "so the training split has zero total weight. Use a smaller validation_fraction, another "
                "random_state, or early_stopping=False."
            )
        if not bool(xp.any(validation[2] > 0)):
            raise ValueError(
                "early_stopping=True: the held-out validation split has zero total weight, so it cannot be "
                "scored. Use a larger validation_fraction, another random_state, or early_stopping=False."
            )
        return X, Y, train_weight, train_rows, validation

    def _fitted_model(self, state, one_d, dtype):
        """``(coef_, intercept_)`` as training leaves them at ``state``."""
        if state.best_model is not None:
            coef, intercept = state.best_model
        else:
            coef, intercept = state.model()
        xp, _ = get_namespace(coef, intercept)
        coef = xp.astype(coef, dtype, copy=False)
        intercept = xp.astype(intercept, dtype, copy=False)
        coef = xp.asarray(coef[0, :] if one_d else coef, copy=True)
        return coef, (intercept[0] if one_d else xp.asarray(intercept, copy=True))

    def _commit(self, state, one_d, dtype, early_stopping):
        self._state = state
        self.coef_, self.intercept_ = self._fitted_model(state, one_d, dtype)
        self.loss_curve_ = list(state.loss_curve)
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        self.learning_rate_ = state.eta0 * state.eta_factor
        self.stop_reason_ = state.stop_reason
        self.gap_bound_ = state.gap_bound
        if early_stopping:
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = max(state.validation_scores)

    @_fit_context(prefer_skip_nested_validation=True)
    @_all_or_nothing
    @with_callbacks
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the linear model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data; float32 stays float32. A dask array (chunked by
            rows, with y and sample_weight chunked alike) is fitted where it
            lives, reading its blocks rather than collecting them.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; each column of a 2-D y is its own problem.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights ``s_i`` of the objective.
        coef_init : array-like of shape (n_features,) or (n_targets, n_features), default=None
            Starting coefficients (zeros, or the previous fit's with warm_start).
        intercept_init : float or array-like of shape (n_targets,), default=None
            Starting intercept.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_settings()
        X, Y, sample_weight, one_d = self._validate_training_data(X, y, sample_weight, reset=True)
        summary = self._target_summary(X, Y, sample_weight)
        n_targets, n_features = Y.shape[1], X.shape[1]
        if coef_init is None and self.warm_start and hasattr(self, "_state"):
            if self._state.coef.shape != (n_targets, n_features):
                raise ValueError(
                    f"warm_start=True continues from the previous fit, which had {self._state.coef.shape[1]} "
                    f"feature(s) and {self._state.coef.shape[0]} target(s); this X has {n_features} and y "
                    f"{n_targets}. Set warm_start=False to start afresh."
                )
            coef_init = self.coef_
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        coef_init = self._check_init(coef_init, (n_targets, n_features), "coef_init")
        intercept_init = self._start_intercept(intercept_init, summary)
        intercept_init = self._check_init(intercept_init, (n_targets,), "intercept_init")
        xp, device = _training_namespace(X)
        dtype = X.dtype if self.solver == "sgd" else _max_precision_float_dtype(xp, device)
        state = TrainingState.fresh(
            n_targets,
            n_features,
            dtype,
            independent_rng(self.random_state),
            coef_init,
            intercept_init,
            xp=xp,
            device=device,
        )
        return self._train(X, Y, sample_weight, state, one_epoch=False, one_d=one_d, summary=summary)

    @staticmethod
    def _check_init(value, shape, name):
        if value is None:
            return None
        array = np.asarray(to_numpy(value), dtype=np.float64)
        if array.size != int(np.prod(shape)):
            raise ValueError(f"{name} has shape {array.shape}; expected {shape} (or its 1-D form).")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite.")
        return array.reshape(shape)

    @_fit_context(prefer_skip_nested_validation=True)
    @_all_or_nothing
    @with_callbacks
    def partial_fit(self, X, y, sample_weight=None):
        """Run exactly one epoch on the given data, continuing from the last call.

        Successive calls are a stream: the step is never reduced on a
        comparison of one chunk's loss with another's. With
        ``solver="sgd"``, the adaptive schedule and a ``tol`` (the defaults),
        the step stays the safe one (``learning_rate="auto"``: this chunk's,
        in coordinates measured from every chunk so far) or the given one,
        and the model is the average of the iterates: before training on the
        chunk (test, then train) its objective is measured at the average and
        at the running iterate, and where the iterate is better by three
        standard errors of the paired difference (a burn-in, or a changed
        concept) the average begins anew, with the second half of the
        chunk's updates (``skgd._stream``). A model from ``fit`` counts as
        the average of one of its epochs. ``verbose`` reports each chunk's
        prequential loss, the average's fate and the step.

        Otherwise (``tol=None``, another schedule, or the batch solver) ``k``
        calls on the same data equal ``fit(max_iter=k, tol=None)`` with
        ``shuffle=False``. Parameters changed with ``set_params`` between
        calls are honoured.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        # scikit-learn's _fit_context validates only a first partial_fit; every call is validated here.
        self._validate_params()
        self._check_settings()
        first = not hasattr(self, "_state")
        X, Y, sample_weight, one_d = self._validate_training_data(X, y, sample_weight, reset=first)
        summary = self._target_summary(X, Y, sample_weight, starting=first)
        xp, device = _training_namespace(X)
        dtype = X.dtype if self.solver == "sgd" else _max_precision_float_dtype(xp, device)
        if first:
            state = TrainingState.fresh(
                Y.shape[1],
                X.shape[1],
                dtype,
                independent_rng(self.random_state),
                intercept_init=self._start_intercept(None, summary),
                xp=xp,
                device=device,
            )
        else:
            state = self._state.copy().to(xp, device)
            if Y.shape[1] != state.coef.shape[0]:
                raise ValueError(f"y has {Y.shape[1]} target(s); this model was trained on {state.coef.shape[0]}.")
            state.set_dtype(dtype)
        return self._train(X, Y, sample_weight, state, one_epoch=True, one_d=one_d, summary=summary)

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            With array API dispatch, an array of the namespace and device the
            model was fitted in.

        Returns
        -------
        array or dask array of shape (n_samples,) or (n_samples, n_targets)
            The loss's inverse link of ``X @ coef_.T + intercept_`` (the
            identity for the residual losses), in the floating dtype of X, its array namespace and device; lazy
            (a dask array) for a dask X.
        """
        check_is_fitted(self)
        one_d = self.coef_.ndim == 1
        if is_dask_array(X):
            from ._dask import predict

            validate_data(self, X, reset=False, skip_check_array=True)
            return predict(X, np.atleast_2d(self.coef_), np.atleast_1d(self.intercept_), self._loss, one_d=one_d)
        xp, _ = get_namespace(X)
        prediction = self._loss.inverse_link(self._linear_predictor(X, "predict"), xp=xp)
        return xp.reshape(prediction, (-1,)) if one_d else prediction

    def _linear_predictor(self, X, method):
        """``X @ coef_.T + intercept_`` of shape (n_samples, n_targets), X validated as ``method`` needs."""
        check_same_namespace(X, self, attribute="coef_", method=method)
        xp, _ = get_namespace(X)
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=[xp.float64, xp.float32])
        coef = xp.reshape(self.coef_, (-1, X.shape[1]))
        return linear_predict(X, coef, xp.reshape(xp.asarray(self.intercept_), (-1,)))

    def score(self, X, y, sample_weight=None):
        """R^2 of ``predict``; D^2 (the loss explained) for the quantile and log link's losses.

        For ``loss="poisson"``, ``"gamma"`` and ``"tweedie"`` the score is
        ``1 - D(y, predict(X)) / D(y, mean(y))`` with ``D`` the loss's
        weighted deviance and ``mean(y)`` the weighted mean, as scikit-learn's
        GLMs' ``score`` (``d2_tweedie_score``); for ``loss="quantile"`` it
        is ``d2_pinball_score`` (the pinball loss against that of the
        weighted ``q``-quantile of y), what the model is fitted for, where R^2
        would favour the mean; for the other losses it is
        ``RegressorMixin``'s R^2. Uniform over the targets of a 2-D y. Early
        stopping's validation score is the same.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        float
            R^2, or D^2 for the quantile and log link's losses (1 is a perfect fit).
        """
        check_is_fitted(self)
        if self._loss.score != "d2":
            return super().score(X, y, sample_weight=sample_weight)
        # The linear predictor itself (not the link of predict, which under- or overflows at the extremes).
        predictor = self._linear_predictor(X, "score")
        xp, _, device = get_namespace_and_device(predictor)
        n = predictor.shape[0]
        y = move_to(y, xp=xp, device=device)
        Y = xp.reshape(xp.astype(xp.asarray(y, device=device), predictor.dtype), (n, -1))
        weights = _check_sample_weight(sample_weight, Y, dtype=predictor.dtype)
        return deviance_explained(self._loss, Y, predictor, weights)
