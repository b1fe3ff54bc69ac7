"""FISTA with adaptive restart (``learning_rate="auto"``, no momentum): on a smooth loss, or on a loss's smoothings.

A non-smooth loss with a smoothing (``Loss.smoothed``) is accelerated on its
smoothed form, of width ``width * eta_factor``: each stage of the
continuation (``ContinuationRule``) shrinks the smoothing with the step, so
the smoothed problems continue towards the loss itself while J, measured on
the loss itself, falls every epoch.
"""

from dataclasses import dataclass

from .._array_api import get_namespace
from .._schedules import adaptive_reduce
from .._state import StatePart
from ._gradient import BatchAlgorithm, take_step, target_steps
from ._stopping import SLOW_EPOCHS, WINDOW_GAP_SHARE, ImprovementRule, confirmed, window_converged

#: Stages of a continuation in a row that take no step (each smoothing five
#: times finer than the last) before the model counts as converged.
STUCK_STAGES = 4


@dataclass
class FISTAState(StatePart):
    """FISTA's own state (``state.fista``).

    Parameters
    ----------
    coef_extrapolated, intercept_extrapolated : arrays
        Where the next accelerated step takes its gradient (FISTA's ``y``).
    momentum_t : float, default=1.0
        FISTA's momentum sequence (1 after a restart).
    """

    ARRAYS = ("coef_extrapolated", "intercept_extrapolated")
    ITERATE = ("coef_extrapolated",)

    coef_extrapolated: object
    intercept_extrapolated: object
    momentum_t: float = 1.0

    def restart(self, coef, intercept):
        """Extrapolate from ``(coef, intercept)`` anew."""
        xp, _ = get_namespace(coef)
        self.coef_extrapolated = xp.asarray(coef, copy=True)
        self.intercept_extrapolated = xp.asarray(intercept, copy=True)
        self.momentum_t = 1.0


def accelerated_step(state, objective, eta, settings, xp):
    """One step of monotone FISTA (Beck and Teboulle's MFISTA) with adaptive restart, in place.

    The gradient is taken at the extrapolated point ``y``; the proximal step
    from it gives ``z``, which becomes the iterate only if J does not rise
    (``x_next = z`` if ``J(z) <= J(x)``, else ``x``), so J falls every epoch.
    The next extrapolation is ``y = x_next + t / t_next (z - x_next) +
    (t - 1) / t_next (x_next - x)``; the momentum restarts (``t = 1``, no
    extrapolation) when the step turned back against the last displacement
    (O'Donoghue and Candes' gradient scheme, measured in the conditioned
    coordinates) or J rose at ``z`` (beyond rounding in X's dtype). The state keeps ``x`` in
    ``coef``/``intercept``, ``y`` in ``state.fista`` and ``J(x)`` in ``objective``.

    Parameters
    ----------
    state : TrainingState
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
        Supplies J and its gradient, J alone and ``rounding`` (the relative
        change of J that is rounding).
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
    value_x = objective.value(x_coef, x_intercept) if state.objective is None else state.objective
    fista = state.fista
    y_coef, y_intercept = fista.coef_extrapolated, fista.intercept_extrapolated
    _, grad_coef, grad_intercept = objective.value_and_gradient(y_coef, y_intercept)
    state.coef, state.intercept = xp.asarray(y_coef, copy=True), xp.asarray(y_intercept, copy=True)
    take_step(state, grad_coef, grad_intercept, eta, settings, xp)
    z_coef, z_intercept = state.coef, state.intercept
    value_z = objective.value(z_coef, z_intercept)
    # At the floor J's rounding decides between equals: a step that changes J by
    # no more than rounding (in X's dtype) is taken (its coefficients still improve).
    descended = value_z <= value_x + objective.rounding * abs(value_x)
    new_coef, new_intercept = (z_coef, z_intercept) if descended else (x_coef, x_intercept)
    turned = state.conditioning.inner(
        y_coef - z_coef, y_intercept - z_intercept, z_coef - x_coef, z_intercept - x_intercept, True
    )
    t = fista.momentum_t
    t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
    if turned > 0.0 or not descended:
        fista.momentum_t = 1.0
        fista.coef_extrapolated, fista.intercept_extrapolated = new_coef, new_intercept
    else:
        fista.momentum_t = t_next
        a, b = t / t_next, (t - 1.0) / t_next
        fista.coef_extrapolated = new_coef + a * (z_coef - new_coef) + b * (new_coef - x_coef)
        fista.intercept_extrapolated = (
            new_intercept + a * (z_intercept - new_intercept) + b * (new_intercept - x_intercept)
        )
    state.coef, state.intercept = xp.asarray(new_coef, copy=True), xp.asarray(new_intercept, copy=True)
    state.objective = min(value_z, value_x)
    return value_x


def first_smoothing_width(objective, state):
    """The state's first smoothing width, measured where training begins when it has none (one pass over X).

    Each target's width is the root mean square of its residuals at the
    model training starts from: the first smoothed problem is nearly least
    squares over the residuals met, and widths are in y's units (y times c
    gives widths, steps and coefficients times c). A target fitted exactly
    takes width 1. Later ``partial_fit`` calls keep the width, as they keep
    the conditioning.

    Parameters
    ----------
    objective : StreamingObjective or DaskStreamingObjective
    state : TrainingState
        Its ``smoothing_width`` is set when None.

    Returns
    -------
    array of shape (n_targets,)
    """
    if state.smoothing_width is None:
        xp, width = objective.xp, objective.residual_scale(state.coef, state.intercept)
        state.smoothing_width = xp.where(width > 0.0, width, xp.ones_like(width))
    return state.smoothing_width


class FISTA(BatchAlgorithm):
    """FISTA with adaptive restart on a smooth loss (``learning_rate="auto"``, no momentum, a steady schedule).

    Parameters
    ----------
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
    settings : Settings
    """

    descends = True

    def __init__(self, objective, settings):
        super().__init__(objective, settings, automatic=True)

    def allocate(self, state):
        """Give the state FISTA's part, extrapolating from the iterate, unless it has one."""
        if state.fista is None:
            state.fista = FISTAState(None, None)
            state.fista.restart(state.coef, state.intercept)

    def epoch(self, state, eta):
        """One FISTA step (``accelerated_step``); returns J at the iterate it was taken from."""
        steps = target_steps(eta, self.objective.loss, state)
        return accelerated_step(state, self.objective, steps, self.settings, self.xp)


class SmoothedFISTA(FISTA):
    """FISTA on a non-smooth loss's smoothings, shrunk with the adaptive step (the continuation).

    Parameters
    ----------
    objective : StreamingObjective or DaskStreamingObjective
        On the loss itself.
    settings : Settings
    width : array of shape (n_targets,)
        The first smoothing width (``first_smoothing_width``).
    """

    def __init__(self, objective, settings, width):
        super().__init__(objective, settings)
        self.width = width
        #: The objective the steps descend: the loss's smoothing at the current width.
        self.stepping = objective.with_loss(settings.loss.smoothed(width * 1.0))

    def value(self, coef, intercept):
        """J at ``(coef, intercept)`` on the loss itself (the smoothing's value is the loss's)."""
        return self.stepping.value(coef, intercept)

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smoothing's gradient in the conditioned coordinates."""
        return self.stepping.lipschitz(conditioning)

    def epoch(self, state, eta):
        """One FISTA step on the smoothing of width ``width * state.eta_factor``; returns J before it."""
        self.stepping = self.objective.with_loss(self.settings.loss.smoothed(self.width * state.eta_factor))
        steps = target_steps(eta, self.stepping.loss, state)
        return accelerated_step(state, self.stepping, steps, self.settings, self.xp)

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
        residuals = float(self.xp.max(self.objective.residual_scale(state.coef, state.intercept) / self.width))
        return min(reduced, residuals) if residuals > 0.0 else reduced

    def stopping_rule(self, controls):
        """The continuation's rule; a single epoch (``partial_fit``) keeps the improvement rule's records."""
        if controls.stop_on_stall:
            return ContinuationRule(self.evidence)
        return ImprovementRule(self.evidence)


class ContinuationRule:
    """The continuation's rule: a window per smoothing stage (see ``skgd._algorithms._stopping``).

    Parameters
    ----------
    evidence : {None, "continue", "newton"}
    """

    def __init__(self, evidence):
        self.evidence = evidence
        self.stage = 0  # where the current stage began in ``best``
        self.since = 0  # where a crawling stage last asked the evidence
        self.stuck = 0  # stages in a row that took no step

    def after_epoch(self, progress, metric):
        """Why training ends after this epoch, or None to go on; a settled stage makes the smoothing finer."""
        controls, state, best = progress.controls, progress.state, progress.best
        if not controls.stop_on_stall:
            return None
        floor = progress.resolution(best[-1])
        if not window_converged(best[self.stage :], controls.n_iter_no_change, controls.tol, floor):
            if self.evidence == "newton" and len(best) - self.since >= SLOW_EPOCHS:
                # A stage that crawls asks the evidence too, whose step (a vertex's) may end training.
                if confirmed(progress, self.evidence, rule=False):
                    return "converged"
                self.since = len(best)
            return None
        gain = (best[self.stage - 1] if self.stage else progress.start) - best[-1]
        # A stage that took no step at all had too coarse a smoothing to improve on the model.
        self.stuck = self.stuck + 1 if gain <= floor else 0
        small = floor < gain <= WINDOW_GAP_SHARE * controls.tol * best[-1]
        settled = self.stuck >= STUCK_STAGES or (self.stage and small)
        # Each stage's end asks the evidence, which may end training before the rule would.
        if confirmed(progress, self.evidence, rule=settled):
            return "converged"  # a finer smoothing no longer pays
        self.stuck = 0 if settled else self.stuck
        # The smoothing (and the step with it) shrinks as far as it pays: no crawl to report,
        # until it is finer than the residuals' rounding.
        state.eta_factor = progress.algorithm.finer_smoothing(state)
        if state.eta_factor <= controls.rounding:
            return "converged" if confirmed(progress, self.evidence) else "stalled"
        self.stage = self.since = len(best)
        return None
