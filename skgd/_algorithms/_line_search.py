"""Conjugate directions, each searched along the rows' predictors: the log link's losses with ``learning_rate="auto"``.

Their deviance has no global curvature bound, so no step is safe from the
start (``_backtracking`` halves a step until J falls, a pass over X a try).
Here an epoch reads X twice: once for J's gradient and the rows' linear
predictors ``p`` (one fused pass), once for the predictors' change ``q``
along the new direction ``d``. J along the line, ``phi(t) = J(w + t d)``,
is a sum over the rows of ``l(p + t q)``: a safeguarded secant search drives
its slope to zero without reading X again. The directions are Polak and
Ribiere's conjugate ones (PR+, restarted where they would not descend),
preconditioned by the conditioning (``Conditioning.direction``, and
``inner`` for the products): the same objective in better coordinates, in
a few epochs where gradient steps take many.
"""

import math
from dataclasses import dataclass

from .._array_api import get_namespace_and_device
from .._conditioning import Conditioning
from .._schedules import automatic_step
from .._state import StatePart
from ._gradient import BatchAlgorithm
from ._stopping import WindowRule, confirmed

#: A search ends where the slope along the line is within this share of its start (a near-exact search).
SEARCH_TOLERANCE = 1e-3

#: Most points a search evaluates (each O(n) over the predictors, no read of X); it then keeps the
#: lowest point of J it found.
MAX_EVALUATIONS = 60

#: Most a step may grow by in one try while the slope still descends.
MAX_EXPANSION = 8.0

#: Most a search's step may grow to, times where it started (where J falls without end along the line).
MAX_GROWTH = 2.0**10


@dataclass
class ConjugateState(StatePart):
    """The conjugate directions' own state (``state.conjugate``), kept across calls as FISTA's is.

    Parameters
    ----------
    direction_coef, direction_intercept : arrays, default=None
        The last direction; None where the next one is the steepest (a restart).
    gradient_coef, gradient_intercept : arrays, default=None
        The preconditioned gradient ``P g`` the last direction was taken from.
    steps : array of shape (n_targets,), default=None
        Each target's last step, where its next search starts (None: the safe step).
    """

    ARRAYS = ("direction_coef", "direction_intercept", "gradient_coef", "gradient_intercept", "steps")
    ITERATE = ("direction_coef", "gradient_coef")

    direction_coef: object = None
    direction_intercept: object = None
    gradient_coef: object = None
    gradient_intercept: object = None
    steps: object = None

    def restart(self, coef, intercept):
        """Take the steepest direction next: a step outside the searches breaks the conjugacy."""
        self.direction_coef = self.direction_intercept = self.gradient_coef = self.gradient_intercept = None


class ConjugateGradient(BatchAlgorithm):
    """Preconditioned nonlinear conjugate gradient with a line search on the predictors (see the module's docstring).

    Parameters
    ----------
    objective : StreamingObjective
        Gives the predictors with the gradient (``value_gradient_and_predictors``),
        along a direction (``predictors``) and J and its slope along a line (``along_line``).
    settings : Settings
        An L2 penalty or none (the line's J is smooth).
    """

    def __init__(self, objective, settings):
        super().__init__(objective, settings, automatic=True)
        self.moved = True  # whether the last epoch's search moved any target
        self.left = None  # (coef, intercept, J) where the last search left the model
        self.before = None  # (coef, intercept, each target's J) where the last search began

    def allocate(self, state):
        """Give the state the conjugate directions' part unless it has one."""
        if state.conjugate is None:
            state.conjugate = ConjugateState()

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``: where the last search left the model, its line's J there (no pass over X).

        The line's J sums the loss at the predictors ``p + t q``, which are the
        model's own to rounding; any other model is measured by the objective.
        """
        if self.left is not None:
            xp = self.xp
            left_coef, left_intercept, value = self.left
            if bool(xp.all(coef == left_coef)) and bool(xp.all(intercept == left_intercept)):
                return value
        return super().value(coef, intercept)

    def safe_step(self, state):
        """Where the first search starts: ``1 / trace`` of the curvature bound in the conditioned coordinates.

        Jacobi's scaling gives each conditioned coordinate the loss's curvature
        bound (its column's spread, with the L2 part, scaled to one), so the
        trace is that bound times the coordinates: at most ``1 / L``, and no
        pass over X (the searches measure their steps). Without a conditioning,
        the full-batch bound.
        """
        if state.conditioning is None:
            return super().safe_step(state)
        coordinates = state.coef.shape[1] + int(self.settings.fit_intercept)
        return automatic_step(self.settings.loss.curvature * coordinates)

    def stopping_rule(self, controls):
        """A fresh ``SearchRule`` for one call."""
        return SearchRule(self.evidence)

    def epoch(self, state, eta):
        """One searched step along a conjugate direction; returns J at the iterate it was taken from."""
        s, xp, objective = self.settings, self.xp, self.objective
        values, grad_coef, grad_intercept, predictors = objective.value_gradient_and_predictors(
            state.coef, state.intercept
        )
        own = state.conjugate
        if self.before is not None and _rose(values, self.before[2], objective.rounding, xp):
            # The last line's J said the step fell, the pass says it rose (predictors formed on columns far
            # from zero round by more than J's rounding): the step is undone, and training ends there.
            state.coef, state.intercept, values = self.before
            own.restart(state.coef, state.intercept)
            self.moved, self.before = False, None
            self.left = (state.coef, state.intercept, float(xp.mean(values)))
            return float(xp.mean(values))
        grad_coef = grad_coef + s.penalty.l2 * state.coef
        if not s.fit_intercept:
            grad_intercept = xp.zeros_like(grad_intercept)
        conditioning = state.conditioning
        if conditioning is None:
            _, _, device = get_namespace_and_device(state.coef)
            conditioning = Conditioning.identity(state.coef.shape[1], xp, device)
        gradient = conditioning.direction(grad_coef, grad_intercept, s.fit_intercept)  # P g
        direction = self._direction(own, gradient, (grad_coef, grad_intercept), conditioning)
        change = objective.predictors(*direction)
        start = [float(t) for t in own.steps] if own.steps is not None else [eta] * state.coef.shape[0]
        steps, ends = line_search(
            lambda t: objective.along_line(predictors, change, state.coef, direction[0], t),
            start,
            objective.rounding,
            [float(v) for v in values],
            [float(f) for f in _dot(grad_coef, grad_intercept, *direction, xp)],
        )
        self.before = (xp.asarray(state.coef, copy=True), xp.asarray(state.intercept, copy=True), values)
        device = get_namespace_and_device(state.coef)[2]
        t = xp.asarray(steps, dtype=state.coef.dtype, device=device)
        state.coef += t[:, None] * direction[0]
        state.intercept += xp.astype(t, state.intercept.dtype) * direction[1]
        state.t += 1
        moved = [step for step in steps if step > 0.0]
        self.moved = bool(moved)
        kept = [step if step > 0.0 else start[j] for j, step in enumerate(steps)]
        own.steps = xp.asarray(kept, dtype=state.coef.dtype, device=device)
        if moved and state.eta0:
            state.eta_factor = sum(moved) / len(moved) / state.eta0  # the steps' scale, as the step reports it
        own.direction_coef, own.direction_intercept = direction
        own.gradient_coef, own.gradient_intercept = gradient
        self.left = (xp.asarray(state.coef, copy=True), xp.asarray(state.intercept, copy=True), sum(ends) / len(ends))
        return float(xp.mean(values))

    def _direction(self, own, gradient, full_gradient, conditioning):
        """``-P g``, plus PR+ times the last direction where that descends (per target)."""
        xp = self.xp
        steepest = (-gradient[0], -gradient[1])
        if own.direction_coef is None:
            return steepest
        last_coef, last_intercept = own.direction_coef, own.direction_intercept
        old_coef, old_intercept = own.gradient_coef, own.gradient_intercept

        def inner(a, b):
            return conditioning.inner(*a, *b, self.settings.fit_intercept, per_target=True)

        old = (old_coef, old_intercept)
        squares = inner(old, old)
        numerator = inner(gradient, gradient) - inner(gradient, old)
        beta = xp.where((squares > 0.0) & (numerator > 0.0), numerator / xp.where(squares > 0.0, squares, 1.0), 0.0)
        candidate = (steepest[0] + beta[:, None] * last_coef, steepest[1] + beta * last_intercept)
        keep = _dot(*full_gradient, *candidate, xp) < 0.0
        return (
            xp.where(keep[:, None], candidate[0], steepest[0]),
            xp.where(keep, candidate[1], steepest[1]),
        )


class SearchRule(WindowRule):
    """The window rule over one epoch, and the end of training where a search found nothing lower.

    An exact search's decrease falls faster than geometrically, so each
    epoch's ratio to the last extrapolates what is left (the evidence
    confirms it before a silent stop). An epoch whose searches found no point
    lower than J's rounding leaves the model where it was (as does a step
    undone because the next pass saw J rise), and every later epoch would
    search the same lines: training ends there, silently only on the
    evidence (else ``"stalled"``).

    Parameters
    ----------
    evidence : {None, "continue", "newton"}
    """

    def __init__(self, evidence):
        super().__init__(evidence, window=1)

    def after_epoch(self, progress, metric):
        """Why training ends after this epoch, or None to go on."""
        if progress.algorithm.moved or not progress.controls.stop_on_stall:
            return super().after_epoch(progress, metric)
        return "converged" if confirmed(progress, self.evidence, rule=False) else "stalled"


def _rose(values, earlier, rounding, xp):
    """Whether J (the targets' mean) rose from ``earlier`` to ``values`` beyond its rounding."""
    now, then = float(xp.mean(values)), float(xp.mean(earlier))
    return now > then + rounding * abs(then)


def _dot(a_coef, a_intercept, b_coef, b_intercept, xp):
    """Each target's ``a . b`` over ``(w, b)``: an array of shape (n_targets,)."""
    return xp.sum(a_coef * b_coef, axis=1) + a_intercept * b_intercept


def line_search(along, start_steps, rounding, start_values, start_slopes):
    """Each target's step along its line where the slope of J vanishes (a safeguarded secant search).

    Parameters
    ----------
    along : callable
        Takes each target's step (a list of floats) and returns each one's
        ``(phi(t), phi'(t))`` (two arrays); non-finite where J overflows there.
    start_steps : list of float
        Where each search starts (positive).
    rounding : float
        The relative change of J that is rounding: a point counts as lower
        only where J falls by more (far along a flat line the predictors'
        rounding moves J by more than the line's own change).
    start_values, start_slopes : list of float
        ``phi(0)`` and ``phi'(0)`` (J and its gradient along the line where it
        starts): a line whose slope is not negative takes no step.

    Returns
    -------
    steps : list of float
        Steps where ``|phi'(t)| <= SEARCH_TOLERANCE * |phi'(0)|`` and J is
        lower than at 0; else the lowest point of J tried (0 where none was
        lower, or the line does not descend). Each is at most ``MAX_GROWTH``
        times its start.
    values : list of float
        ``phi`` at those steps.
    """
    k = len(start_steps)
    low, high = [0.0] * k, [MAX_GROWTH * t for t in start_steps]
    open_ended = [True] * k  # no slope has turned upwards yet: high is the cap, not a bracket
    previous = [(0.0, f) for f in start_slopes]  # the last point each secant passes through
    best = [(0.0, v - rounding * abs(v)) for v in start_values]  # a point must fall below this to count
    steps = list(start_steps)
    done = [not (f < 0.0 and math.isfinite(v)) for f, v in zip(start_slopes, start_values, strict=True)]
    for _ in range(MAX_EVALUATIONS):
        if all(done):
            break
        values, slopes = along(steps)
        for j in range(k):
            if done[j]:
                continue
            t, v, f = steps[j], float(values[j]), float(slopes[j])
            if math.isfinite(v) and v < best[j][1]:
                best[j] = (t, v)
            if math.isfinite(f) and abs(f) <= SEARCH_TOLERANCE * abs(start_slopes[j]) and best[j][0] == t:
                done[j] = True
                continue
            if math.isfinite(f) and f < 0.0:
                low[j] = t
            else:
                high[j], open_ended[j] = t, False
            t_prev, f_prev = previous[j]
            secant = t - f * (t - t_prev) / (f - f_prev) if math.isfinite(f) and f != f_prev else math.nan
            if open_ended[j] and low[j] == t:  # still descending: extrapolate, within MAX_EXPANSION of the step
                following = min(secant, MAX_EXPANSION * t) if secant > t else MAX_EXPANSION * t
            elif low[j] < secant < high[j]:
                following = secant
            else:
                following = 0.5 * (low[j] + high[j])
            if math.isfinite(f):
                previous[j] = (t, f)
            following = min(following, high[j])
            if following == t or high[j] - low[j] <= 1e-12 * high[j]:  # the cap, or a bracket of rounding
                done[j] = True
                continue
            steps[j] = following
    return [t for t, _ in best], [v if t > 0.0 else start for (t, v), start in zip(best, start_values, strict=True)]
