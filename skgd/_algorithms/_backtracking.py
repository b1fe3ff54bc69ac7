"""Full-batch steps whose size is searched for (Armijo): the log link's losses with ``learning_rate="auto"``.

Their deviance has no global curvature bound, so no step is safe from the
start: each epoch's step is halved until J falls enough, and grows again
after a step accepted as first tried.
"""

import copy
from dataclasses import dataclass

from .._state import StatePart
from ._gradient import BatchAlgorithm, take_step, target_steps

#: Halvings a backtracking step tries before it leaves the iterate where it is.
MAX_HALVINGS = 60

#: How many times the first (curvature-measured) step a backtracking step may grow to.
MAX_GROWTH = 2.0**30


@dataclass
class SearchState(StatePart):
    """The line search's own state (``state.search``).

    Parameters
    ----------
    grow_step : bool, default=True
        Whether the next step is first tried at twice the last accepted one
        (the last was accepted as first tried).
    """

    grow_step: bool = True


def backtracking_step(state, objective, eta, settings, xp):
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
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
        Supplies J and its gradient, J alone and ``rounding``.
    eta : float
        The schedule's step at ``state.eta_factor`` (the step last accepted).
    settings : Settings
    xp : array namespace

    Returns
    -------
    float
        J at the iterate before the step.
    """
    value_x, grad_coef, grad_intercept = objective.value_and_gradient(state.coef, state.intercept)
    start = {"coef": state.coef, "intercept": state.intercept}
    momentum, t = state.momentum, state.t
    factor = 2.0 if state.search.grow_step else 1.0
    slack = objective.rounding * abs(value_x)
    for halving in range(MAX_HALVINGS):
        state.coef, state.intercept = (xp.asarray(start[name], copy=True) for name in ("coef", "intercept"))
        state.momentum = copy.deepcopy(momentum)  # the velocities as the step found them (None without)
        if halving and settings.momentum:
            state.momentum.restart(state.coef, state.intercept)
        step = eta * factor
        state.t = t
        take_step(state, grad_coef, grad_intercept, target_steps(step, objective.loss, state), settings, xp)
        dc, di = state.coef - start["coef"], state.intercept - start["intercept"]
        relative = target_steps(1.0, objective.loss, state)
        if not isinstance(relative, float):  # each target's distance in its own step's units
            dc, di = dc / xp.sqrt(relative)[:, None], di / xp.sqrt(relative)
        if state.conditioning is None:
            distance = float(xp.sum(dc * dc)) + float(xp.sum(di * di)) * settings.fit_intercept
        else:
            distance = state.conditioning.inner(dc, di, dc, di, settings.fit_intercept)
        distance /= state.coef.shape[0]  # J is the targets' mean: each target's descent, averaged
        value_z = objective.value(state.coef, state.intercept)
        if value_z <= value_x - distance / (2.0 * step) + slack:
            state.eta_factor *= factor
            # Grow again only after a step that moved the model (at a zero gradient every step passes)
            # and while the step stays under MAX_GROWTH times the first one.
            state.search.grow_step = halving == 0 and distance > 0.0 and state.eta_factor < MAX_GROWTH
            return value_x
        factor *= 0.5
    state.coef, state.intercept, state.momentum, state.t = start["coef"], start["intercept"], momentum, t
    state.search.grow_step = False
    return value_x


class Backtracking(BatchAlgorithm):
    """Proximal gradient steps sized by a line search (``backtracking_step``), with momentum when asked.

    Parameters
    ----------
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
    settings : Settings
    """

    def __init__(self, objective, settings):
        super().__init__(objective, settings, automatic=True)

    def allocate(self, state):
        """Give the state the search's part (and velocities, with momentum) unless it has them."""
        super().allocate(state)
        if state.search is None:
            state.search = SearchState()

    def epoch(self, state, eta):
        """One searched step; returns J at the point it was taken from."""
        s = self.settings
        return backtracking_step(state, self.objective, s.schedule.step(eta, state.t, s.power_t), s, self.xp)
