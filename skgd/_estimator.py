"""GradientDescentRegressor: its parameters; a training call validates, builds, runs the epoch loop and commits."""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _validation as check
from ._array_api import (
    ARRAY_API_SUPPORT,
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    is_dask_array,
    move_to,
)
from ._atomic import all_or_nothing
from ._build import build_training, continued_state, fresh_state
from ._callbacks import CallbackSupportMixin, TrainingTasks, with_callbacks
from ._loss import LOSSES, make_loss
from ._schedules import SCHEDULES
from ._scores import deviance_explained
from ._state import linear_predict
from ._stored_columns import stored_columns, widen, widen_state
from ._stream import report
from ._training import STOP_REASONS, run_epochs, stop_message


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
    loss : {LOSSES}, default="squared_error"
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
        With ``learning_rate="auto"`` the batch solver searches each step
        (the deviance has no global curvature bound): along conjugate
        directions, on the rows' predictors, or by halving with an L1 part,
        momentum, float32 X or dask data; sgd caps the change one sample's step makes
        to its own ``x . w + b`` at 1; ``score`` is then D^2, the deviance
        explained.
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
    schedule : {SCHEDULES}, default="adaptive"
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
        model off the optimum by more than ``tol``, as measured, or a stall
        of a step that was not reduced, with no certificate to measure it),
        ``"callback"`` (a callback asked to stop) or ``"partial_fit"`` (one
        epoch, as asked). Only ``"converged"``, ``"callback"`` and
        ``"partial_fit"`` end silently.
    gap_bound_ : float or None
        A certified upper bound on ``J - J*`` (averaged over targets) at the
        fitted model, as ``Lasso``'s ``dual_gap_``: the exact gap of squared
        error's quadratic J (an upper bound with an L1 penalty), or the LP
        duality gap of the quantile, absolute and epsilon-insensitive losses. None where the
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
        """The loss the parameters name, its own parameters bound in (read as attributes: no signature inspection)."""
        return make_loss(self.loss, **vars(self))

    def _start_intercept(self, intercept_init, summary):
        """The starting intercept: as given, or the loss's own start (the log link's ``log(mean(y))``)."""
        if intercept_init is not None or summary is None or not self.fit_intercept:
            return intercept_init
        return self._make_loss().initial_intercept(summary[1])

    def _validate_params(self):
        try:
            super()._validate_params()
        except InvalidParameterError as error:
            hint = check.learning_rate_hint(error, self.learning_rate)
            if hint is None:
                raise
            raise InvalidParameterError(hint) from None

    # -------------------------------------------------------------- training
    def _train(self, X, Y, sample_weight, state, *, one_epoch, one_d, summary, columns=None):
        # ``columns``: the state holds those of X's columns only, and trains on them (``skgd._stored_columns``).
        tasks = TrainingTasks(
            self,
            max_epochs=1 if one_epoch else self.max_iter,
            X=X,
            y=Y[:, 0] if one_d else Y,
            sample_weight=sample_weight,
            fitted_model=functools.partial(
                self._fitted_model, one_d=one_d, dtype=X.dtype, columns=columns, n_features=X.shape[1]
            ),
        )
        X_train = X if columns is None else X[:, columns].asformat(X.format)
        training = build_training(self, X_train, Y, sample_weight, state, one_epoch=one_epoch, summary=summary)
        state.stop_reason = run_epochs(training.algorithm, state, training.controls, tasks)
        if training.prequential is not None and self.verbose:
            print(report(training.prequential, state, state.eta0))
        if columns is not None:
            widen_state(state, columns, X.shape[1])
        self._commit(state, one_d, X.dtype, early_stopping=training.controls.validation is not None)
        tasks.end()
        if not STOP_REASONS[state.stop_reason] and self.tol is not None:
            message = stop_message(state, self.tol, self.max_iter, self.schedule, training.controls.automatic)
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        return self

    def _fitted_model(self, state, one_d, dtype, columns=None, n_features=None):
        """``(coef_, intercept_)`` as training leaves them at ``state`` (trained on ``columns`` of ``n_features``)."""
        coef, intercept = state.best_model if state.best_model is not None else state.model()
        if columns is not None:
            coef = widen(coef, columns, n_features)
        xp, _ = get_namespace(coef, intercept)
        coef, intercept = xp.astype(coef, dtype, copy=False), xp.astype(intercept, dtype, copy=False)
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
    @all_or_nothing
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
        check.check_settings(self)
        X, Y, sample_weight, one_d = check.check_training_data(self, X, y, sample_weight, reset=True)
        summary = check.check_targets(self._make_loss(), X, Y, sample_weight)
        n_targets, n_features = Y.shape[1], X.shape[1]
        if coef_init is None and self.warm_start and hasattr(self, "_state"):
            check.check_warm_start(self._state, n_targets, n_features)
            coef_init = self.coef_
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        coef_init = check.check_init(coef_init, (n_targets, n_features), "coef_init")
        intercept_init = self._start_intercept(intercept_init, summary)
        intercept_init = check.check_init(intercept_init, (n_targets,), "intercept_init")
        columns = stored_columns(X, coef_init) if self.solver == "batch" else None
        if columns is not None:
            coef_init = np.zeros((n_targets, columns.shape[0])) if coef_init is None else coef_init[:, columns]
        state = fresh_state(self, X, n_targets, coef_init, intercept_init)
        return self._train(X, Y, sample_weight, state, one_epoch=False, one_d=one_d, summary=summary, columns=columns)

    @_fit_context(prefer_skip_nested_validation=True)
    @all_or_nothing
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
        check.check_settings(self)
        first = not hasattr(self, "_state")
        X, Y, sample_weight, one_d = check.check_training_data(self, X, y, sample_weight, reset=first)
        summary = check.check_targets(self._make_loss(), X, Y, sample_weight, starting=first)
        if first:
            state = fresh_state(self, X, Y.shape[1], intercept_init=self._start_intercept(None, summary))
        else:
            check.check_continued_targets(self._state, Y.shape[1])
            state = continued_state(self._state, self.solver, X)
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


def _options(names):
    """The numpydoc ``{...}`` of a string parameter's options ``names``."""
    return "{" + ", ".join(f'"{name}"' for name in names) + "}"


# The docstring lists each registry's keys as its parameter's options: a registered loss or schedule is listed.
GradientDescentRegressor.__doc__ = GradientDescentRegressor.__doc__.replace("{LOSSES}", _options(LOSSES)).replace(
    "{SCHEDULES}", _options(SCHEDULES)
)
