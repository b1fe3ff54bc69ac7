"""Full-batch (proximal) gradient descent, with momentum when asked: one step from J's gradient per epoch.

``take_step`` is the single place a batch step is taken (FISTA and
backtracking take theirs through it too); ``BatchAlgorithm`` is what the
full-batch algorithms share: they ask their objective (``skgd._objective``)
for J, its gradient, the column moments and the curvature.
"""

from dataclasses import dataclass

from .. import _certificate
from .._array_api import _max_precision_float_dtype, get_namespace_and_device
from .._conditioning import Conditioning
from .._schedules import automatic_step
from .._state import StatePart
from ._stopping import ImprovementRule, WindowRule, call_noise


@dataclass
class Momentum(StatePart):
    """Heavy-ball velocities (``state.momentum``): of batch steps (``take_step``) and of sgd's.

    Parameters
    ----------
    velocity : array of shape (n_targets, n_features)
        In the iterate's dtype.
    velocity_intercept : array of shape (n_targets,)
    """

    ARRAYS = ("velocity", "velocity_intercept")
    ITERATE = ("velocity",)
    PAIRS = (("velocity", "velocity_intercept"),)

    velocity: object
    velocity_intercept: object

    @classmethod
    def allocate(cls, state):
        """Give ``state`` zero velocities unless it has them."""
        if state.momentum is None:
            xp, _, device = get_namespace_and_device(state.coef)
            float64 = _max_precision_float_dtype(xp, device)
            state.momentum = cls(
                xp.zeros(state.coef.shape, dtype=state.coef.dtype, device=device),
                xp.zeros(state.coef.shape[0], dtype=float64, device=device),
            )

    def restart(self, coef, intercept):
        """Drop the velocities (a restart)."""
        xp, _, _ = get_namespace_and_device(self.velocity)
        self.velocity, self.velocity_intercept = xp.zeros_like(self.velocity), xp.zeros_like(self.velocity_intercept)


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
        mu, v = settings.momentum, state.momentum
        v.velocity *= mu
        v.velocity -= eta * grad_coef
        v.velocity_intercept *= mu
        v.velocity_intercept -= eta_intercept * grad_intercept
        if settings.nesterov:
            state.coef += mu * v.velocity - eta * grad_coef
            state.intercept += mu * v.velocity_intercept - eta_intercept * grad_intercept
        else:
            state.coef += v.velocity
            state.intercept += v.velocity_intercept
    else:
        state.coef -= eta * grad_coef
        state.intercept -= eta_intercept * grad_intercept
    if conditioning is None:
        penalty.prox(state.coef, eta, xp=xp)
    else:
        conditioning.prox(state.coef, state.intercept, eta, penalty.l1, settings.fit_intercept)
    state.t += 1


def has_smoothing(loss):
    """Whether a non-smooth loss has a smoothing (``Loss.smoothed``) that steps can descend or be sized by."""
    return not loss.smooth and loss.smoothed(1.0) is not None


def target_steps(eta, loss, state):
    """``eta``, or each target's step: times the loss's ``relative_steps`` (targets of unequal curvature).

    Parameters
    ----------
    eta : float
        The shared step, sized by the largest curvature.
    loss : Loss
        The loss the steps descend.
    state : TrainingState
        Whose namespace and device the steps are made in.

    Returns
    -------
    float or array of shape (n_targets,)
    """
    relative = loss.relative_steps
    if relative is None:
        return eta
    xp, _, device = get_namespace_and_device(state.intercept)
    return eta * xp.asarray(relative, dtype=state.intercept.dtype, device=device)


class BatchAlgorithm:
    """What the full-batch algorithms share: the objective they ask, their bounds, evidence and rule.

    Parameters
    ----------
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
    settings : Settings
    automatic : bool, default=False
        Whether the step is ``learning_rate="auto"``'s (a smooth loss's
        evidence may then take curvature steps).
    """

    def __init__(self, objective, settings, automatic=False):
        self.objective, self.settings, self.automatic = objective, settings, automatic
        self.xp = objective.xp
        self.can_condition = objective.can_condition
        #: Whether every epoch must decrease the loss: any rise beyond rounding is divergence.
        self.monotone = self.descends and settings.momentum == 0
        #: The sgd loop's sparse rows stay uncentred; full-batch steps always centre.
        self.centres = True
        #: A full-batch step that rises is divergence (or searched for by backtracking), never undone.
        self.retreats = False

    @property
    def descends(self):
        """Whether the steps descend J: on a smooth loss (or its smoothing), not a subgradient's."""
        return self.settings.loss.smooth

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets (the objective's)."""
        return self.objective.value(coef, intercept)

    def moments(self):
        """The training rows' weighted column moments (the objective's)."""
        return self.objective.moments()

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient in the conditioned coordinates (the objective's)."""
        return self.objective.lipschitz(conditioning)

    def safe_step(self, state):
        """The largest safe step ``1 / L``, measured in the state's coordinates (the user's without one)."""
        conditioning = state.conditioning
        if conditioning is None:  # batch bounds are measured in some coordinates: the user's
            xp, _, device = get_namespace_and_device(state.coef)
            conditioning = Conditioning.identity(state.coef.shape[1], xp, device)
        return automatic_step(self.lipschitz(conditioning), 0.0)

    def noise(self, rounding):
        """Relative rise of a call's objective that is not divergence (``call_noise``)."""
        return call_noise(self.descends, self.settings.momentum, rounding)

    def measure(self, coef, intercept):
        """The evidence at ``(coef, intercept)`` (``skgd._certificate``), or None where none can be measured."""
        return _certificate.measure(self.objective, coef, intercept)

    @property
    def evidence(self):
        """What a rule's "converged" must pass: curvature steps where auto steps descend, else training on."""
        return "newton" if self.automatic and self.descends else "continue"

    def allocate(self, state):
        """Give the state the velocities, with momentum, unless it has them."""
        if self.settings.momentum > 0:
            Momentum.allocate(state)

    def stopping_rule(self, controls):
        """A fresh stopping rule for one call: the window on a smooth loss, else the improvement rule."""
        return WindowRule(self.evidence) if self.settings.loss.smooth else ImprovementRule(self.evidence)


class GradientDescent(BatchAlgorithm):
    """Plain (proximal) gradient descent, with momentum when asked: a float step, momentum or a decaying schedule.

    Parameters
    ----------
    objective : StreamingObjective, GramObjective or DaskStreamingObjective
    settings : Settings
    automatic : bool, default=False
    """

    def epoch(self, state, eta):
        """One full-gradient step; returns J at the point it was taken from."""
        s = self.settings
        value, grad_coef, grad_intercept = self.objective.value_and_gradient(state.coef, state.intercept)
        take_step(state, grad_coef, grad_intercept, s.schedule.step(eta, state.t, s.power_t), s, self.xp)
        return value
