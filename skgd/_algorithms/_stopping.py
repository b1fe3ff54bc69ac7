"""When an algorithm's training has converged: its stopping rule, confirmed by the measured evidence.

Each algorithm picks its rule (``stopping_rule``), a fresh object per
training call that keeps its own counters, and the epoch loop
(``skgd._training``) asks it after every epoch:

- ``WindowRule`` (full-batch steps on a smooth loss) extrapolates the
  objective's decrease over the last ``n_iter_no_change`` epochs to its limit
  and stops when the objective is within ``tol / 100`` of it (relative);
- ``skgd._algorithms._fista.ContinuationRule`` (full-batch steps on a loss's
  smoothing, each stage's smoothing finer) applies the window to each stage,
  then shrinks the smoothing with the step, and stops when a whole stage
  gained no more than ``tol / 100`` (relative);
- ``ImprovementRule`` (sgd, non-smooth losses, early stopping) counts epochs
  that fail to improve on the best loss by ``tol`` times it, reduces the
  adaptive step on a stall, and stops when ``UNPRODUCTIVE_REDUCTIONS``
  reductions in a row bring no such improvement.

A rule's "converged" must pass the evidence first (``skgd._certificate``):
the measured gap of J at the model within ``tol`` times J. ``evidence``
says what happens when it is not: ``"continue"`` (full batch) trains on,
``"newton"`` (full batch with ``learning_rate="auto"`` on a smooth loss)
first takes up to ``NEWTON_STEPS`` steps in the curvature matrix's
coordinates, ``"warn"`` (sgd) ends as ``"noise_floor"`` (an adaptive step is
reduced and training goes on); None trusts the rule.
"""

import math
from dataclasses import dataclass

from .. import _certificate
from .._array_api import ROUNDING_ULPS
from .._schedules import adaptive_reduce

#: Adaptive reductions in a row that bring no improvement before training is
#: taken to have converged (a smaller step no longer lowers the loss).
UNPRODUCTIVE_REDUCTIONS = 2

#: The full-batch rule stops once the objective is estimated within this share
#: of ``tol`` of its limit (relative): tol=1e-4 aims at 1e-6, a margin of 100
#: for the estimate, so a fit that stops silently is within ``tol`` of the optimum.
WINDOW_GAP_SHARE = 1e-2

#: An estimated gap (the Newton decrement ``lambda**2 / 2`` of a smooth loss
#: other than squared error) confirms convergence at this multiple: where J is
#: self-concordant and ``lambda < 0.68``, ``J - J* <= lambda**2`` (Boyd and
#: Vandenberghe, 9.6.3); huber's kinks may move under the Newton step.
ESTIMATE_MARGIN = 2.0

#: Steps in the curvature matrix's coordinates a full-batch fit takes, each
#: followed by a new measurement, when the evidence contradicts its rule.
NEWTON_STEPS = 5

#: Epochs without a stop of the window rule (or a continuation's stage) after which a fit that can take
#: curvature steps measures the evidence anyway (and steps if it contradicts).
SLOW_EPOCHS = 50

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


@dataclass
class Progress:
    """What a stopping rule reads of the call so far (the epoch loop appends to ``losses`` and ``best``).

    Parameters
    ----------
    algorithm : Algorithm
    state : TrainingState
    controls : Controls
    losses : list of float
        The call's epoch losses.
    best : list of float
        The best metric after each epoch (the loss, or minus the validation score).
    start : float
        J at the model the call started from.
    scale : float
        J's magnitude: the larger of J at the call's start and of the first
        epoch's loss training ever recorded (a chunk's start may be near zero
        by chance), and J at the all-zero model where neither speaks for it
        (a warm start near the optimum with no loss recorded, or J of 0).
    """

    algorithm: object
    state: object
    controls: object
    losses: list
    best: list
    start: float
    scale: float

    @property
    def floor(self):
        """Changes of J at or under it are rounding at the call's start (``resolution`` there)."""
        return self.resolution(self.start)

    def resolution(self, value):
        """Changes of J at or under it are rounding where J is ``value``.

        ``rounding`` of J, and what the residuals' last places, formed at the
        problem's ``scale``, leave in it: ``unit**2 * scale`` of a mean of
        squares (``Loss.squares``), ``unit * scale`` of any other loss (a deviance's
        terms cancel to its value), ``unit = rounding / ROUNDING_ULPS``. A fit
        that falls far from a large start (an intercept far from zero) is
        judged at the J it reached, not at the J it began from.
        """
        controls = self.controls
        unit = controls.rounding / ROUNDING_ULPS
        last_places = unit * (unit if controls.squares else 1.0) * self.scale
        return controls.rounding * abs(value) + last_places + 1e-300


def window_converged(best, n, tol, floor):
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
        Changes at or under it are rounding (``Progress.resolution`` at the
        best loss).

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


def confirmed(progress, evidence, rule=True):
    """Whether the evidence at the model (``skgd._certificate``) confirms a rule's "converged".

    The measured gap must be within ``tol`` times J (or J's rounding), an
    estimated one within half of it (``ESTIMATE_MARGIN``). A
    ``"newton"`` fit first takes up to ``NEWTON_STEPS`` curvature steps while
    it is not, each an epoch of the loss curve. A certificate's gap is kept
    on the state (``gap_bound``). Where nothing can be measured the rule
    decides: ``rule`` is whether it holds (False: the evidence is asked
    whether training may end before the rule says so).
    """
    algorithm, state, controls = progress.algorithm, progress.state, progress.controls
    state.gap_bound = None
    if evidence is None or controls.validation is not None:
        return rule
    for _ in range(NEWTON_STEPS + 1):
        model = state.model()
        measured = algorithm.measure(*model)
        if measured is None:
            return rule
        value = algorithm.value(*model)
        if controls.verbose:
            print(f"Measured gap {measured.gap} at objective {value!r}")
        margin = 1.0 if measured.bound else ESTIMATE_MARGIN
        if measured.gap is not None and margin * measured.gap <= controls.tol * abs(value) + progress.resolution(value):
            state.gap_bound = measured.gap if measured.bound else None
            return True
        unknown = rule and measured.gap is None  # no certificate found: the rule decides, after a step that pays
        if evidence != "newton" or measured.step is None or len(progress.losses) >= controls.max_iter:
            return unknown
        loss, moved = _certificate.newton_step(algorithm, state, measured)
        if not moved:
            return unknown
        progress.losses.append(loss)
        state.loss_curve.append(loss)
        state.n_iter += 1
        progress.best.append(min(loss, progress.best[-1]))
    return False


class WindowRule:
    """The window rule of full-batch steps on a smooth loss (see the module's docstring).

    Parameters
    ----------
    evidence : {None, "continue", "newton"}
    window : int, default=None
        The epochs the decrease is measured over; None for ``n_iter_no_change``.
    """

    def __init__(self, evidence, window=None):
        self.evidence, self.window = evidence, window
        self.since = 0  # where the window looks from: after the last contradicting evidence

    def after_epoch(self, progress, metric):
        """Why training ends after this epoch, or None to go on."""
        controls, best = progress.controls, progress.best
        n = controls.n_iter_no_change if self.window is None else self.window
        window = window_converged(best[self.since :], n, controls.tol, progress.resolution(best[-1]))
        # A fit that can take curvature steps asks the evidence also after a long crawl.
        slow = self.evidence == "newton" and len(best) - self.since >= SLOW_EPOCHS
        if controls.stop_on_stall and (window or slow):
            if confirmed(progress, self.evidence, rule=window):
                return "converged"
            self.since = len(best)
        return None


class ImprovementRule:
    """The improvement rule of sgd, non-smooth losses and early stopping (see the module's docstring).

    Parameters
    ----------
    evidence : {None, "continue", "newton", "warn"}
    ends_when_exhausted : bool, default=True
        Whether an adaptive step under ``ADAPTIVE_MIN_RATIO`` of its start
        while the loss still improves ends training (``"step_exhausted"``).
        False for sgd steps sized by a loss's smoothing at the residuals'
        scale, which shrink as far as they pay (down to rounding).
    """

    def __init__(self, evidence, ends_when_exhausted=True):
        self.evidence, self.ends_when_exhausted = evidence, ends_when_exhausted
        self.unproductive = 0  # adaptive reductions in a row that brought no improvement
        self.contradicted = False  # whether evidence contradicted a stall

    def after_epoch(self, progress, metric):
        """Why training ends after this epoch, or None to go on; a stall reduces the adaptive step."""
        controls, state = progress.controls, progress.state
        # Relative for a loss (scale-free), absolute for a validation R^2 (already scale-free).
        scale = abs(state.best_metric) if controls.validation is None and math.isfinite(state.best_metric) else 1.0
        if metric >= state.best_metric - controls.tol * scale:  # at J = 0 nothing improves
            state.n_no_improvement += 1
        else:
            state.n_no_improvement = 0
            self.unproductive = 0
        state.best_metric = min(state.best_metric, metric)
        if state.n_no_improvement < controls.n_iter_no_change:
            return None
        state.n_no_improvement = 0
        if controls.adaptive and self.unproductive < UNPRODUCTIVE_REDUCTIONS and controls.validation is None:
            state.eta_factor, exhausted = adaptive_reduce(state.eta_factor)
            # The average of the larger step's iterates carries their noise (and, for a
            # non-smooth loss, the whole way they travelled): averaging begins anew with
            # the next epoch (until then the model is still the average).
            state.average_restart = True
            self.unproductive += 1
            if controls.verbose:
                print(f"Step reduced to {state.eta0 * state.eta_factor:.6g}")
            if controls.stop_on_stall and state.eta_factor <= controls.rounding:  # a step under J's rounding
                if confirmed(progress, self.evidence):
                    return "converged"
                return "noise_floor" if self.evidence == "warn" else "stalled"
            if exhausted and controls.stop_on_stall and self.ends_when_exhausted:
                return "noise_floor" if self.contradicted and self.evidence == "warn" else "step_exhausted"
        elif controls.stop_on_stall:
            # A stall of a step that was not reduced (a constant or decaying schedule) on J is
            # its noise floor, not evidence of the optimum: only a certificate confirms it there.
            if confirmed(progress, self.evidence, rule=controls.adaptive or controls.validation is not None):
                return "converged"
            if self.evidence == "warn" and not controls.adaptive:
                return "noise_floor"
            self.unproductive, self.contradicted = 0, True  # not the optimum: train on (an adaptive step reduces again)
        return None
