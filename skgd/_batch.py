"""Full-batch gradient descent: one (proximal) gradient step per epoch.

Two ways to get ``J`` and its gradient at the current iterate, the same maths:

- ``StreamingBatchSolver`` reads X each epoch (any loss): residuals, loss and
  gradient in one fused pass over row blocks, O(n * d) per epoch and nothing
  of the data's size allocated.
- ``GramBatchSolver`` (squared error only) reads X once for the weighted sufficient
  statistics (means and centred second moments of X and y, in float64 and in
  row blocks, no copy of X); every epoch then costs O(d^2) per target.

Both read the data through ``skgd._reductions``, the sums a pass accumulates,
which the dask solvers (``skgd._dask``) compute per chunk instead.

``choose_batch_solver`` picks one (see its docstring for the rule). Both hand
the gradient to ``take_step``, the single place a batch step is taken, or to
``accelerated_step`` (FISTA with adaptive restart) for smooth losses with
``learning_rate="auto"``; with ``"auto"`` steps are taken in the conditioned
coordinates of ``skgd._conditioning``.

Both run in the data's array namespace and on its device (``skgd._array_api``):
the same code fits NumPy arrays and, say, CUDA tensors.
"""

from ._array_api import get_namespace, get_namespace_and_device, rounding
from ._loss import SquaredError
from ._reductions import ColumnMoments, SufficientStatistics, loss_gradient_sums
from ._schedules import adaptive_reduce
from ._step_size import batch_lipschitz, gram_lipschitz

#: Below this many entries of X an epoch costs microseconds either way, and
#: the streaming loss is exact to the last bit (the Gram form of the loss loses
#: relative accuracy as the loss approaches zero), so small data streams.
GRAM_MIN_SIZE = 10_000

#: Largest number of features for which the d x d statistics are kept.
GRAM_MAX_FEATURES = 4096


def choose_batch_solver(loss, X, max_iter, one_epoch):
    """Pick the batch solver for the data at hand.

    The Gram solver is taken when the loss is quadratic (squared error), the call runs more
    than one epoch, X has more rows than columns, at least ``GRAM_MIN_SIZE``
    entries and at most ``GRAM_MAX_FEATURES`` columns, and its one O(n d^2)
    pass costs no more than the O(n d) epochs it replaces (``d <= 2 * max_iter``).
    Everything else streams.

    Parameters
    ----------
    loss : Loss
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    max_iter : int
    one_epoch : bool
        True for ``partial_fit``.

    Returns
    -------
    class
        ``GramBatchSolver`` or ``StreamingBatchSolver``.
    """
    n, d = X.shape
    gram = (
        loss.quadratic
        and not one_epoch
        and n > d
        and n * d >= GRAM_MIN_SIZE
        and d <= min(GRAM_MAX_FEATURES, 2 * max_iter)
    )
    return GramBatchSolver if gram else StreamingBatchSolver


def take_step(state, grad_coef, grad_intercept, eta, settings, xp):
    """One (proximal, optionally momentum) gradient step on ``state``, in place.

    With a conditioning on the state (``learning_rate="auto"``) the step is
    taken in its coordinates (``skgd._conditioning``): the direction is
    ``P g`` and the L1 part's proximal step is weighted there.

    Parameters
    ----------
    state : TrainingState
    grad_coef : array of shape (n_targets, n_features)
        Gradient of the data term, in the state's namespace.
    grad_intercept : array of shape (n_targets,)
    eta : float or array of shape (n_targets,)
        The step size of this update, or each target's (the targets are
        independent problems: a target may take its own step).
    settings : Settings
        Supplies ``penalty``, ``momentum``, ``nesterov`` and ``fit_intercept``.
    xp : array namespace
        The state's.
    """
    penalty, conditioning = settings.penalty, state.conditioning
    eta, eta_intercept = (eta, eta) if isinstance(eta, float) else (eta[:, None], eta)
    grad_coef = grad_coef + penalty.l2 * state.coef
    if not settings.fit_intercept:
        grad_intercept = xp.zeros_like(grad_intercept)
    if conditioning is not None:
        grad_coef, grad_intercept = conditioning.direction(grad_coef, grad_intercept, settings.fit_intercept)
    if settings.momentum:
        mu = settings.momentum
        state.velocity *= mu
        state.velocity -= eta * grad_coef
        state.velocity_intercept *= mu
        state.velocity_intercept -= eta_intercept * grad_intercept
        if settings.nesterov:
            state.coef += mu * state.velocity - eta * grad_coef
            state.intercept += mu * state.velocity_intercept - eta_intercept * grad_intercept
        else:
            state.coef += state.velocity
            state.intercept += state.velocity_intercept
    else:
        state.coef -= eta * grad_coef
        state.intercept -= eta_intercept * grad_intercept
    if conditioning is None:
        penalty.prox(state.coef, eta, xp=xp)
    else:
        conditioning.prox(state.coef, state.intercept, eta, penalty.l1, settings.fit_intercept)
    state.t += 1


def accelerated_step(state, solver, eta, settings, xp):
    """One step of monotone FISTA (Beck and Teboulle's MFISTA) with adaptive restart, in place.

    The gradient is taken at the extrapolated point ``y``; the proximal step
    from it gives ``z``, which becomes the iterate only if J does not rise
    (``x_next = z`` if ``J(z) <= J(x)``, else ``x``), so J falls every epoch.
    The next extrapolation is ``y = x_next + t / t_next (z - x_next) +
    (t - 1) / t_next (x_next - x)``; the momentum restarts (``t = 1``, no
    extrapolation) when the step turned back against the last displacement
    (O'Donoghue and Candes' gradient scheme, measured in the conditioned
    coordinates) or J rose at ``z`` (beyond rounding in X's dtype). The state keeps ``x`` in
    ``coef``/``intercept``, ``y`` in ``coef_extrapolated``/``intercept_extrapolated``
    and ``J(x)`` in ``objective``.

    Parameters
    ----------
    state : TrainingState
    solver : _BatchSolver
        Supplies ``objective`` (J and its gradient), ``value`` (J alone) and
        ``rounding`` (the relative change of J that is rounding).
    eta : float
        The step, at most ``1 / L`` in the conditioned coordinates.
    settings : Settings
    xp : array namespace

    Returns
    -------
    float
        J at the iterate before the step.
    """
    x_coef, x_intercept = state.coef, state.intercept
    value_x = solver.value(x_coef, x_intercept) if state.objective is None else state.objective
    y_coef, y_intercept = state.coef_extrapolated, state.intercept_extrapolated
    _, grad_coef, grad_intercept = solver.objective(y_coef, y_intercept)
    state.coef, state.intercept = xp.asarray(y_coef, copy=True), xp.asarray(y_intercept, copy=True)
    take_step(state, grad_coef, grad_intercept, eta, settings, xp)
    z_coef, z_intercept = state.coef, state.intercept
    value_z = solver.value(z_coef, z_intercept)
    # At the floor J's rounding decides between equals: a step that changes J by
    # no more than rounding (in X's dtype) is taken (its coefficients still improve).
    descended = value_z <= value_x + solver.rounding * abs(value_x)
    new_coef, new_intercept = (z_coef, z_intercept) if descended else (x_coef, x_intercept)
    turned = state.conditioning.inner(
        y_coef - z_coef, y_intercept - z_intercept, z_coef - x_coef, z_intercept - x_intercept, True
    )
    t = state.momentum_t
    t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
    if turned > 0.0 or not descended:
        state.momentum_t = 1.0
        state.coef_extrapolated, state.intercept_extrapolated = new_coef, new_intercept
    else:
        state.momentum_t = t_next
        a, b = t / t_next, (t - 1.0) / t_next
        state.coef_extrapolated = new_coef + a * (z_coef - new_coef) + b * (new_coef - x_coef)
        state.intercept_extrapolated = (
            new_intercept + a * (z_intercept - new_intercept) + b * (new_intercept - x_intercept)
        )
    state.coef, state.intercept = xp.asarray(new_coef, copy=True), xp.asarray(new_intercept, copy=True)
    state.objective = min(value_z, value_x)
    return value_x


#: Halvings a backtracking step tries before it leaves the iterate where it is.
MAX_HALVINGS = 60

#: How many times the first (curvature-measured) step a backtracking step may grow to.
MAX_GROWTH = 2.0**30


def backtracking_step(state, solver, eta, settings, xp):
    """One (proximal) gradient step whose size is searched for (Armijo), in place.

    For losses without a global curvature bound (the log link's). The step
    ``eta * state.eta_factor`` was the last accepted one (``eta`` from the
    schedule); it is tried at twice that when the last step was accepted as
    first tried, and halved until the new iterate ``z`` decreases J enough:
    ``J(z) <= J(x) - ||z - x||^2 / (2 eta)``, the distance measured where the
    steps are taken (the conditioned coordinates), which any step under
    ``1 / L`` of the local curvature satisfies, allowing J's rounding.
    ``state.eta_factor`` keeps the accepted step for the next epoch. With
    momentum a rejected step also drops the velocity (a restart). After
    ``MAX_HALVINGS`` halvings (J at its floor) the iterate stays.

    Parameters
    ----------
    state : TrainingState
    solver : _BatchSolver
        Supplies ``objective`` (J and its gradient), ``value`` (J alone) and
        ``rounding``.
    eta : float
        The schedule's step at ``state.eta_factor`` (the step last accepted).
    settings : Settings
    xp : array namespace

    Returns
    -------
    float
        J at the iterate before the step.
    """
    value_x, grad_coef, grad_intercept = solver.objective(state.coef, state.intercept)
    names = ("coef", "intercept", "velocity", "velocity_intercept")
    start = {name: getattr(state, name) for name in names}
    t = state.t
    factor = 2.0 if state.grow_step else 1.0
    slack = solver.rounding * abs(value_x)
    for halving in range(MAX_HALVINGS):
        for name in names:
            if start[name] is not None:
                setattr(state, name, xp.asarray(start[name], copy=True))
        if halving and settings.momentum:
            state.velocity = xp.zeros_like(state.velocity)
            state.velocity_intercept = xp.zeros_like(state.velocity_intercept)
        step = eta * factor
        state.t = t
        take_step(state, grad_coef, grad_intercept, solver.target_steps(step, state), settings, xp)
        dc, di = state.coef - start["coef"], state.intercept - start["intercept"]
        relative = solver.target_steps(1.0, state)
        if not isinstance(relative, float):  # each target's distance in its own step's units
            dc, di = dc / xp.sqrt(relative)[:, None], di / xp.sqrt(relative)
        if state.conditioning is None:
            distance = float(xp.sum(dc * dc)) + float(xp.sum(di * di)) * settings.fit_intercept
        else:
            distance = state.conditioning.inner(dc, di, dc, di, settings.fit_intercept)
        distance /= state.coef.shape[0]  # J is the targets' mean: each target's descent, averaged
        value_z = solver.value(state.coef, state.intercept)
        if value_z <= value_x - distance / (2.0 * step) + slack:
            state.eta_factor *= factor
            # Grow again only after a step that moved the model (at a zero gradient every step passes)
            # and while the step stays under MAX_GROWTH times the first one.
            state.grow_step = halving == 0 and distance > 0.0 and state.eta_factor < MAX_GROWTH
            return value_x
        factor *= 0.5
    for name in names:
        setattr(state, name, start[name])
    state.t = t
    state.grow_step = False
    return value_x


class _BatchSolver:
    """What the batch solvers share: an epoch is one step from ``objective``.

    A non-smooth loss with a smoothing (``Loss.smoothed``) is accelerated on
    its smoothed form, of width ``width * eta_factor``: each reduction of the
    adaptive step (a stall) shrinks the smoothing with the step, so the
    smoothed problems continue towards the loss itself while J, measured on
    the loss itself, falls every epoch.
    """

    #: Batch steps can be taken in conditioned coordinates (``skgd._conditioning``).
    conditions = True

    #: The first smoothing width per target (None: the loss is stepped on as it is).
    width = None

    @property
    def loss(self):
        """The loss whose slope the steps take: the settings', or its smoothing at the current width."""
        return getattr(self, "_stepping_loss", self.settings.loss)

    def target_steps(self, eta, state):
        """``eta``, or each target's step: times the loss's ``relative_steps`` (targets of unequal curvature).

        Parameters
        ----------
        eta : float
            The shared step, sized by the largest curvature.
        state : TrainingState
            Whose namespace and device the steps are made in.

        Returns
        -------
        float or array of shape (n_targets,)
        """
        relative = self.loss.relative_steps
        if relative is None:
            return eta
        xp, _, device = get_namespace_and_device(state.intercept)
        return eta * xp.asarray(relative, dtype=state.intercept.dtype, device=device)

    def smooth(self, factor):
        """Step on the loss smoothed to ``factor`` times the first width (no-op for a loss stepped on as it is).

        Parameters
        ----------
        factor : float
            The adaptive schedule's factor, at most 1.
        """
        if self.width is not None:
            self._stepping_loss = self.settings.loss.smoothed(self.width * factor)

    def epoch(self, state, eta):
        """One full-gradient step; returns J at the point it was taken from.

        Plain (proximal) gradient descent, with momentum when asked; FISTA
        (``accelerated_step``) when the problem is accelerated.

        Parameters
        ----------
        state : TrainingState
        eta : float
            Base step size.

        Returns
        -------
        float
        """
        p = self.settings
        if p.backtracking:
            return backtracking_step(state, self, p.schedule.step(eta, state.t, p.power_t), p, self.xp)
        if p.accelerated:
            self.smooth(state.eta_factor)
            return accelerated_step(state, self, self.target_steps(eta, state), p, self.xp)
        value, grad_coef, grad_intercept = self.objective(state.coef, state.intercept)
        take_step(state, grad_coef, grad_intercept, p.schedule.step(eta, state.t, p.power_t), p, self.xp)
        return value

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets.

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
        intercept : array of shape (n_targets,)

        Returns
        -------
        float
        """
        return self.objective(coef, intercept)[0]


class StreamingBatchSolver(_BatchSolver):
    """Full-gradient epochs that read X each time (any loss).

    Parameters
    ----------
    data : TrainingData
    settings : Settings
    """

    def __init__(self, data, settings):
        self.data, self.settings = data, settings
        self.xp, _ = get_namespace(data.X, data.sample_weight)
        self.weight_sum = float(self.xp.sum(data.sample_weight))
        self.rounding = rounding(self.xp, data.X.dtype)  # the loss is formed in X's dtype

    def begin_smoothing(self, state):
        """Take the state's first smoothing width, measured when training begins (one pass over X).

        Each target's width is the root mean square of its residuals at the
        model training starts from: the first smoothed problem is nearly
        least squares over the residuals met, and widths are in y's units (y
        times c gives widths, steps and coefficients times c). A target
        fitted exactly takes width 1. Later ``partial_fit`` calls keep the
        width, as they keep the conditioning.

        Parameters
        ----------
        state : TrainingState
            Its ``smoothing_width`` is set when None.
        """
        xp = self.xp
        if state.smoothing_width is None:
            width = self.residual_scale(state)
            state.smoothing_width = xp.where(width > 0.0, width, xp.ones_like(width))
        self.width = state.smoothing_width
        self.smooth(1.0)

    def finer_smoothing(self, state):
        """The factor of the continuation's next stage: the step's reduction, or the residuals' scale if finer.

        A stage that ended far inside its smoothing (residuals much smaller
        than its width) jumps at once to the width of the residuals now,
        rather than through stages too coarse to improve the model.

        Parameters
        ----------
        state : TrainingState

        Returns
        -------
        float
            The new ``eta_factor`` (the step and the smoothing shrink together).
        """
        reduced, _ = adaptive_reduce(state.eta_factor)
        residuals = float(self.xp.max(self.residual_scale(state) / self.width))
        return min(reduced, residuals) if residuals > 0.0 else reduced

    def residual_scale(self, state):
        """Each target's root mean square residual at the state's model (one pass over X, no gradient).

        Parameters
        ----------
        state : TrainingState

        Returns
        -------
        array of shape (n_targets,)
        """
        squares, _, _ = self.sums(state.coef, state.intercept, gradient=False, loss=SquaredError())
        return self.xp.sqrt(squares / self.weight_sum)

    def moments(self):
        """The training rows' weighted column moments (one pass over X).

        Returns
        -------
        ColumnMoments
        """
        return ColumnMoments.of(self.data.X, self.data.sample_weight)

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient in the conditioned coordinates.

        Parameters
        ----------
        conditioning : Conditioning

        Returns
        -------
        float
        """
        p, data = self.settings, self.data
        return batch_lipschitz(self.loss, p.penalty, data.X, data.sample_weight, p.fit_intercept, conditioning)

    def objective(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        value : float
            J averaged over targets.
        grad_coef : ndarray of shape (n_targets, n_features)
        grad_intercept : ndarray of shape (n_targets,)
        """
        loss_sums, grad_coef, grad_intercept = self.sums(coef, intercept)
        penalty = self.settings.penalty.value(coef, xp=self.xp)
        value = float(self.xp.mean(loss_sums / self.weight_sum + penalty))
        return value, grad_coef / self.weight_sum, grad_intercept / self.weight_sum

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets: a pass without the gradient.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        float
        """
        loss_sums, _, _ = self.sums(coef, intercept, gradient=False)
        penalty = self.settings.penalty.value(coef, xp=self.xp)
        return float(self.xp.mean(loss_sums / self.weight_sum + penalty))

    def sums(self, coef, intercept, gradient=True, loss=None):
        """Weighted loss and gradient sums over the data (one read of X).

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        gradient : bool, default=True
            Whether to form the gradient sums.
        loss : Loss, default=None
            The loss summed; None for the one the steps take (``loss``).

        Returns
        -------
        loss_sums, grad_coef, grad_intercept : ndarrays
            As ``skgd._reductions.loss_gradient_sums``.
        """
        data, loss = self.data, self.loss if loss is None else loss
        return loss_gradient_sums(
            loss, data.X, data.Y, data.sample_weight, coef, intercept, xp=self.xp, gradient=gradient
        )


class GramBatchSolver(_BatchSolver):
    """Squared-error epochs from the weighted sufficient statistics, O(d^2) each.

    Parameters
    ----------
    data : TrainingData or None
        Read only when ``statistics`` is None.
    settings : Settings
        Its loss must be squared error.
    statistics : SufficientStatistics, default=None
        The data's statistics when already computed (by a dask pass); None
        accumulates them from ``data`` here.
    """

    def __init__(self, data, settings, statistics=None):
        self.settings = settings
        if statistics is None:
            statistics = SufficientStatistics.of(data.X, data.Y, data.sample_weight)
        self.statistics = statistics
        self.xp, _ = get_namespace(statistics.scatter_xx)
        self.rounding = rounding(self.xp, statistics.scatter_xx.dtype)  # J from float64 statistics
        total = statistics.weight_sum
        self.covariance = statistics.scatter_xx / total
        self.cross = statistics.scatter_xy.T / total
        self.variance_y = statistics.scatter_yy / total

    def begin_smoothing(self, state):
        """Refuse: the Gram solver fits squared error, which has no smoothing.

        Parameters
        ----------
        state : TrainingState

        Raises
        ------
        ValueError
            Always (``choose_batch_solver`` picks it only for squared error).
        """
        raise ValueError("The Gram solver fits squared error only, a smooth loss: there is no smoothing to begin.")

    def finer_smoothing(self, state):
        """Refuse, as ``begin_smoothing``.

        Parameters
        ----------
        state : TrainingState

        Raises
        ------
        ValueError
            Always.
        """
        self.begin_smoothing(state)

    def moments(self):
        """The column moments the statistics hold (no pass over X).

        Returns
        -------
        ColumnMoments
        """
        return self.statistics.moments()

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient, from the statistics.

        Parameters
        ----------
        conditioning : Conditioning

        Returns
        -------
        float
        """
        p = self.settings
        return gram_lipschitz(p.loss, p.penalty, self.statistics, p.fit_intercept, conditioning)

    def objective(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient, in O(d^2) per target.

        With the means ``mu``, ``nu`` and the centred moments, the residuals'
        mean is ``mu . w + b - nu`` and J's data term is
        ``w^T Cxx w - 2 w . Cxy + Cyy`` (divided by the weight sum) plus that
        mean squared.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        value : float
        grad_coef : ndarray of shape (n_targets, n_features)
        grad_intercept : ndarray of shape (n_targets,)
        """
        p, xp, stats = self.settings, self.xp, self.statistics
        mean_residual = coef @ stats.mean_x + intercept - stats.mean_y
        covariance_coef = coef @ self.covariance
        losses = xp.sum(coef * (covariance_coef - 2.0 * self.cross), axis=1) + self.variance_y + mean_residual**2
        grad_coef = 2.0 * (covariance_coef - self.cross + mean_residual[:, None] * stats.mean_x)
        grad_intercept = 2.0 * mean_residual
        value = float(xp.mean(losses + p.penalty.value(coef, xp=xp)))
        return value, grad_coef, grad_intercept
