"""Losses, penalties, proximal step and step-size bounds: small pure functions.

The objective is the note's, generalised (the README's "The objective")::

    J(w, b) = sum_i s_i * l(x_i . w + b - y_i) / sum_i s_i  +  R(w)

with ``l(r) = r**2`` for squared error (no factor 1/2) and
``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)``.
A solver asks a loss for ``value_and_derivative`` (in the linear predictor)
and a penalty for ``value``, ``l2``/``l1`` strengths and ``prox``. The losses
are classes in one registry, ``LOSSES``; the estimator's parameter
constraints and the tests read it. Passes over rows live in
``skgd._reductions``; this module only forms the objective's pieces and bounds.
"""

import abc
from dataclasses import dataclass, fields, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from ._array_api import (
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    move_to,
    widest_float,
)
from ._reductions import largest_row_scale, loss_gradient_sums


class Loss(abc.ABC):
    """A loss ``l(p, y)`` of the linear predictor ``p = x . w + b`` and the target ``y``.

    A loss is one object: its value and derivative in ``p``, a curvature
    bound, its own parameters bound in, and the inverse link ``predict``
    applies. Subclasses set the class attributes below and implement
    ``value_and_derivative``; ``from_params`` builds one from the
    estimator's parameters.

    Attributes
    ----------
    name : str
        The ``loss`` parameter value (the key in ``LOSSES``).
    code : int
        The loss's code in the compiled loop (``_sgd_fast._loss``).
    sgd_factor : float or None
        How many times scikit-learn's SGDRegressor loss of the same name this
        loss is (2 for squared error and huber, whose SGDRegressor forms are
        halved; 1 for the epsilon-insensitive losses); None where SGDRegressor
        has no such loss.
    curvature : float
        Upper bound on ``d^2 l / dp^2`` used for the automatic step (the
        subgradient losses use that of their squared counterpart).
    smooth : bool
        Whether ``dl/dp`` is continuous, so full-batch steps of ``1 / L``
        decrease J and may be accelerated.
    quadratic : bool
        Whether J's data term is a quadratic in ``(w, b)`` that the weighted
        sufficient statistics determine (the batch solver's ``GramBatchSolver``).
    line_search : bool
        Whether ``curvature`` is only local (the log link's losses): the
        batch solver with ``learning_rate="auto"`` then searches for each
        step rather than trusting ``1 / L``.
    max_change : float
        Largest change of a sample's linear predictor one sgd step on it may
        make (0: no cap).
    targets : {None, "non-negative", "positive"}
        The targets the loss accepts (None: any finite value).
    relative_steps : sequence of float or None
        Each target's automatic step over the shared one, when the targets'
        curvatures differ (a loss whose curvature is measured from the
        targets, under ``learning_rate="auto"``); None: one step for all.
    score : {"r2", "d2"}
        What ``score`` and early stopping's validation measure: R^2 of the
        predictions, or D^2, the share of the loss the model explains
        against the best constant model (``null_predictor``): the log
        link's deviances against the weighted mean, as scikit-learn's GLMs'
        ``score``, and the pinball loss against the weighted quantile, as
        ``d2_pinball_score``.
    """

    name = None
    code = None
    sgd_factor = None
    curvature = None
    smooth = None
    quadratic = False
    line_search = False
    max_change = 0.0
    targets = None
    score = "r2"
    relative_steps = None

    @classmethod
    def from_params(cls, params):
        """The loss with its parameters read from the estimator's.

        A loss's parameters are its dataclass fields (``epsilon``,
        ``quantile``, ...); each takes the estimator's value of that name, or
        its default when ``params`` lacks it.

        Parameters
        ----------
        params : dict
            The estimator's parameters (``get_params()``).

        Returns
        -------
        Loss
        """
        return cls(**{field.name: float(params[field.name]) for field in fields(cls) if field.name in params})

    @property
    def parameter(self):
        """The one float the compiled loop receives with ``code`` (0 when none)."""
        return 0.0

    @property
    def sgdregressor(self):
        """The parameters of scikit-learn's SGDRegressor for ``sgd_factor`` times this loss (None: it has none)."""
        return {"loss": self.name}

    def for_targets(self, means):
        """The loss with what it measures from the targets bound in (itself: nothing).

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.

        Returns
        -------
        Loss
        """
        return self

    def initial_intercept(self, means):
        """Where a fit's intercept starts when none is given: None for 0.

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.

        Returns
        -------
        ndarray of shape (n_targets,) or None
        """
        return None

    def check_targets(self, minimum, means, starting=True):
        """Raise ``ValueError`` when the targets are outside the loss's range.

        Parameters
        ----------
        minimum : float
            The smallest target.
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.
        starting : bool, default=True
            Whether training starts from these targets (``fit``, a first
            ``partial_fit``): only then must each target's mean be positive
            (a later chunk of zero counts is a valid update).

        Raises
        ------
        ValueError
            If a target is negative (``targets="non-negative"``), non-positive
            (``"positive"``), or, when starting, a target's weighted mean is
            not positive.
        """
        if self.targets is None:
            return
        if minimum < 0.0 or (self.targets == "positive" and minimum <= 0.0):
            strict = ">" if self.targets == "positive" else ">="
            raise ValueError(
                f"loss={self.name!r} needs y {strict} 0 ({self.targets} targets); the smallest y is {minimum!r}."
            )
        if starting and not bool(np.all(np.asarray(means) > 0.0)):
            raise ValueError(
                f"loss={self.name!r} needs some y > 0 (with positive weight) in every target: its log link "
                "predicts exp(X w + b) > 0, and an all-zero target has no finite optimum."
            )

    @abc.abstractmethod
    def value_and_derivative(self, p, y, xp=None):
        """Elementwise loss and its derivative in ``p``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets, broadcastable against ``p``, in its namespace.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """

    def smoothed(self, width):
        """A smooth loss whose slope full-batch steps may descend in this loss's stead (None: no such loss).

        A non-smooth loss with a smoothing (``Quantile``) returns a loss
        whose value is this one's and whose derivative is that of a
        smoothing of ``width`` (in the units of ``y``), with curvature
        ``1 / width``: the batch solver shrinks ``width`` as it converges.

        Parameters
        ----------
        width : float or array of shape (n_targets,)

        Returns
        -------
        Loss or None
        """
        return None

    def null_predictor(self, Y, sample_weight, xp):
        """The linear predictor of the best constant model, per target (a loss scored by D^2 defines it).

        Parameters
        ----------
        Y : array of shape (n_samples, n_targets)
            In float64 (the widest float of ``xp``).
        sample_weight : array of shape (n_samples, 1)
            Likewise.
        xp : namespace

        Returns
        -------
        array of shape (n_targets,)
        """
        raise NotImplementedError(f"loss={self.name!r} is scored by R^2: it has no null model.")

    def inverse_link(self, p, xp=None):
        """The prediction at linear predictor ``p``: ``p`` itself (the identity link).

        Parameters
        ----------
        p : array
        xp : namespace, default=None

        Returns
        -------
        array
        """
        return p


class ResidualLoss(Loss):
    """A loss ``l(r)`` of the residual ``r = p - y``, with the identity link."""

    def value_and_derivative(self, p, y, xp=None):
        """Elementwise ``l(p - y)`` and its derivative ``l'(p - y)``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets, broadcastable against ``p``, in its namespace.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """
        return self.of_residual(p - y, xp)

    @abc.abstractmethod
    def of_residual(self, r, xp=None):
        """Elementwise ``l(r)`` and ``l'(r)``.

        Parameters
        ----------
        r : array
            Residuals, of any array API namespace.
        xp : namespace, default=None
            The namespace of ``r`` (found from ``r`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``r``.
        """


@dataclass(frozen=True)
class SquaredError(ResidualLoss):
    """``l(r) = r**2``: the note's cost (no factor 1/2)."""

    name, code, sgd_factor, curvature, smooth = "squared_error", 0, 2.0, 2.0, True
    quadratic = True

    def of_residual(self, r, xp=None):
        """``r**2`` and ``2 r``; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        return r * r, 2.0 * r


@dataclass(frozen=True)
class EpsilonLoss(ResidualLoss):
    """A residual loss with a width ``epsilon``, built from the estimator's ``epsilon``.

    Its value and derivative come from one clipped residual
    ``c = clip(r, -epsilon, epsilon)`` (few array operations, as a fused pass
    wants them). At a kink (``|r| = epsilon``) the subgradient taken is that
    of the inner side, as the compiled loop takes it.

    Parameters
    ----------
    epsilon : float
        The width.
    """

    epsilon: float = 0.1

    @property
    def parameter(self):
        """``epsilon``, the float the compiled loop receives."""
        return self.epsilon

    @property
    def sgdregressor(self):
        """The parameters of scikit-learn's SGDRegressor for ``sgd_factor`` times this loss."""
        return {"loss": self.name, "epsilon": self.epsilon}


class Huber(EpsilonLoss):
    """``r**2`` inside ``epsilon``, ``2 epsilon |r| - epsilon**2`` outside (the continuation of r²)."""

    name, code, sgd_factor, curvature, smooth = "huber", 1, 2.0, 2.0, True

    def of_residual(self, r, xp=None):
        """``c (2 r - c)`` and ``2 c``, ``c`` the clipped residual; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        clipped = _clip(r, self.epsilon, xp)
        return clipped * (2.0 * r - clipped), 2.0 * clipped


class EpsilonInsensitive(EpsilonLoss):
    """``max(0, |r| - epsilon)``: not smooth, so it borrows its squared twin's curvature."""

    name, code, sgd_factor, curvature, smooth = "epsilon_insensitive", 2, 1.0, 2.0, False

    def of_residual(self, r, xp=None):
        """``|z|`` and ``sign(z)``, ``z = r - c``; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        excess = r - _clip(r, self.epsilon, xp)
        return xp.abs(excess), xp.sign(excess)


class SquaredEpsilonInsensitive(EpsilonLoss):
    """``max(0, |r| - epsilon)**2``."""

    name, code, sgd_factor, curvature, smooth = "squared_epsilon_insensitive", 3, 1.0, 2.0, True

    def of_residual(self, r, xp=None):
        """``z**2`` and ``2 z``, ``z = r - c``; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        excess = r - _clip(r, self.epsilon, xp)
        return excess * excess, 2.0 * excess


@dataclass(frozen=True)
class AbsoluteError(ResidualLoss):
    """``l(r) = |r|``, twice the pinball loss at ``q = 0.5``: smoothed as it is (``smoothed``).

    Parameters
    ----------
    curvature : float, default=2.0
        The curvature the sgd step is sized by, as ``Quantile``'s.
    relative_steps : tuple or None, default=None
        As ``Quantile``'s.
    """

    name, code, sgd_factor, smooth = "absolute_error", 4, 1.0, False
    curvature: float = 2.0
    relative_steps: tuple = None

    def smoothed(self, width):
        """Twice the median's smoothed pinball loss; see ``Loss.smoothed``.

        Parameters
        ----------
        width : float or array of shape (n_targets,)

        Returns
        -------
        SmoothedQuantile
        """
        return SmoothedQuantile(quantile=0.5, width=width, factor=2.0)

    @property
    def sgdregressor(self):
        """SGDRegressor's epsilon-insensitive loss of width 0, which this loss is."""
        return {"loss": "epsilon_insensitive", "epsilon": 0.0}

    def of_residual(self, r, xp=None):
        """``|r|`` and ``sign(r)``; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        return xp.abs(r), xp.sign(r)


@dataclass(frozen=True)
class Quantile(ResidualLoss):
    """The pinball loss of ``u = y - p``: ``max(q u, (q - 1) u)``, built from the estimator's ``quantile``.

    Its minimiser predicts the ``q``-quantile of ``y``. In the residual
    ``r = p - y`` it is ``(1 - q) r`` above zero and ``-q r`` below; at zero
    the subgradient taken is 0. Not smooth: the batch solver steps on its
    smoothed form (``smoothed``), and sgd's automatic step is that of the
    smoothing at the residuals' scale (``curvature``, set by the solver).

    Parameters
    ----------
    quantile : float
        The quantile ``q``, in (0, 1).
    curvature : float, default=2.0
        The curvature the sgd step is sized by: ``1 / width`` of the smoothing
        at the residuals' scale (``skgd._sgd.MeasuredByEvaluator.begin_smoothing``),
        squared error's without it.
    relative_steps : tuple or None, default=None
        Each target's sgd step over the shared one: its width over the
        smallest (set with ``curvature``).
    """

    name, code, sgd_factor, smooth, score = "quantile", 5, None, False, "d2"
    quantile: float = 0.5
    curvature: float = 2.0
    relative_steps: tuple = None

    def null_predictor(self, Y, sample_weight, xp):
        """A weighted ``q``-quantile of each target: the constant model of least pinball loss.

        The smallest value whose share of the weight at or below it reaches
        ``q`` (any minimiser gives the same loss, so D^2 is
        ``d2_pinball_score``'s). Found on the host: a score's data.

        Parameters
        ----------
        Y : array of shape (n_samples, n_targets)
        sample_weight : array of shape (n_samples, 1)
        xp : namespace

        Returns
        -------
        array of shape (n_targets,)
        """
        _, _, device = get_namespace_and_device(Y)
        Y_host, weights = (np.asarray(a, dtype=np.float64) for a in move_to(Y, sample_weight, xp=np, device="cpu"))
        order = np.argsort(Y_host, axis=0, kind="stable")
        cumulative = np.cumsum(np.broadcast_to(weights, Y_host.shape)[order, np.arange(Y_host.shape[1])], axis=0)
        first = np.argmax(cumulative >= self.quantile * cumulative[-1], axis=0)
        values = np.take_along_axis(np.take_along_axis(Y_host, order, axis=0), first[None, :], axis=0)[0]
        return xp.asarray(values, dtype=Y.dtype, device=device)

    @property
    def parameter(self):
        """``quantile``, the float the compiled loop receives."""
        return self.quantile

    @property
    def sgdregressor(self):
        """None: SGDRegressor has no pinball loss."""
        return None

    def of_residual(self, r, xp=None):
        """``max((1 - q) r, -q r)`` and its slope (0 at ``r = 0``); see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        q, zero = self.quantile, xp.zeros_like(r)
        derivative = xp.where(r > 0.0, (1.0 - q) + zero, xp.where(r < 0.0, zero - q, zero))
        return _pinball(r, q, xp), derivative

    def smoothed(self, width):
        """The pinball loss with the slope of its Moreau envelope of ``width``; see ``Loss.smoothed``.

        Parameters
        ----------
        width : float or array of shape (n_targets,)

        Returns
        -------
        SmoothedQuantile
        """
        return SmoothedQuantile(quantile=self.quantile, width=width)


@dataclass(frozen=True)
class SmoothedQuantile(ResidualLoss):
    """The pinball loss, with the slope of its smoothing of ``width``: what full-batch steps descend.

    The Moreau envelope of the pinball loss of width ``mu`` is quadratic,
    ``r**2 / (2 mu)``, for ``-q mu <= r <= (1 - q) mu`` and the pinball loss
    less a constant outside; its slope is ``clip(r / mu, -q, 1 - q)``, which
    changes no faster than ``1 / mu``. ``value_and_derivative`` returns the
    pinball loss itself with that slope, so J stays the objective while the
    steps descend the smoothed one (``skgd._batch``); with one width per
    target, each target steps by its own width (``relative_steps``). Not in
    ``LOSSES``: a solver builds it from ``Quantile.smoothed``.

    Parameters
    ----------
    quantile : float
    width : float or array of shape (n_targets,)
        ``mu``, per target (in the namespace of the predictions).
    factor : float, default=1.0
        A multiple of the loss (2 for the absolute error, twice the median's).
    """

    smooth = True
    quantile: float = 0.5
    width: object = 1.0
    factor: float = 1.0

    @property
    def curvature(self):
        """``factor / mu``, the smallest width's (the bound on the slope's rate of change)."""
        xp, _ = get_namespace(self.width)
        return self.factor / float(xp.min(xp.asarray(self.width)))

    @property
    def relative_steps(self):
        """Each target's width over the smallest (its own ``1 / L`` over the shared one); None for one target."""
        xp, _ = get_namespace(self.width)
        width = xp.asarray(self.width)
        return None if width.ndim == 0 or width.shape[0] < 2 else width / xp.min(width)

    def of_residual(self, r, xp=None):
        """The pinball loss of ``r`` and the smoothed slope; see ``ResidualLoss.of_residual``.

        Parameters
        ----------
        r : array
        xp : namespace, default=None

        Returns
        -------
        value, derivative : arrays
        """
        xp, _ = get_namespace(r, xp=xp)
        q, scaled = self.quantile, xp.astype(r / self.width, r.dtype, copy=False)  # the slope in r's dtype
        return self.factor * _pinball(r, q, xp), self.factor * _clip_between(scaled, -q, 1.0 - q, xp)


def _pinball(r, q, xp):
    """The pinball loss ``max((1 - q) r, -q r)`` of residuals ``r`` (0 at 0)."""
    return xp.where(r > 0.0, (1.0 - q) * r, xp.where(r < 0.0, -q * r, xp.zeros_like(r)))


@dataclass(frozen=True)
class LogLinkLoss(Loss):
    """The unit deviance of a Tweedie distribution of power ``k``, with the log link.

    The linear predictor is ``p = log(mu)``: ``predict`` returns
    ``mu = exp(p)``. The loss is the unit deviance itself, with no factor 1/2
    (squared error is the normal deviance, so the convention holds), so
    ``PoissonRegressor(alpha=a / 2)`` is ``loss="poisson", penalty="l2",
    alpha=a``. Its second derivative in ``p`` grows with ``exp(p)``: no global
    curvature bound exists, so ``curvature`` is the deviance's curvature at
    the targets' weighted mean (``for_targets``), which sizes a first step,
    and the batch solver searches for its step (``line_search``); the sgd
    loop caps the change in ``p`` one sample's step may make
    (``max_change``). A prediction ``exp(p)`` that overflows makes the loss
    infinite, which the solvers treat as a step too far.

    Parameters
    ----------
    curvature : float, default=2.0
        ``d^2 l / dp^2`` at the prediction of the targets' mean, the largest
        over the targets: ``2 * mean(y) ** (2 - k)`` (``for_targets`` measures it).
    relative_steps : tuple or None, default=None
        Each target's step over the shared one: the largest curvature over
        its own (``for_targets``).
    """

    sgd_factor, smooth, line_search, score = None, True, True, "d2"
    curvature: float = 2.0
    relative_steps: tuple = None

    @property
    def max_change(self):
        """The most one sample's sgd step may move its linear predictor: 1, and ``1 / (k - 1)`` for powers above 2.

        The deviance's slope grows like ``exp((k - 1) |dp|)`` as ``p`` moves
        below a target: a move of ``1 / (k - 1)`` changes it by at most ``e``
        whatever the power, as a move of 1 does for the gamma deviance.
        """
        return 1.0 / max(1.0, self.power - 1.0)

    @property
    def sgdregressor(self):
        """None: SGDRegressor has no deviance losses."""
        return None

    @property
    def targets(self):
        """The targets the loss accepts: ``"non-negative"`` (``k < 2``) or ``"positive"``."""
        return "non-negative" if self.power < 2.0 else "positive"

    def for_targets(self, means, relative=True):
        """The loss with ``curvature`` measured at the targets' weighted means.

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target (positive).
        relative : bool, default=True
            Whether each target steps by its own curvature (``relative_steps``,
            for the automatic step; a float learning rate is one step for all).

        Returns
        -------
        LogLinkLoss
            The largest curvature over the targets, which the shared step is
            sized by, and each target's step relative to it.
        """
        curvatures = 2.0 * np.asarray(means, dtype=np.float64) ** (2.0 - self.power)
        largest = float(np.max(curvatures))
        steps = largest / np.where(curvatures > 0.0, curvatures, largest)  # a zero-mean chunk: the shared step
        uneven = relative and curvatures.size > 1 and bool(np.any(steps != 1.0))
        return replace(self, curvature=largest, relative_steps=tuple(map(float, steps)) if uneven else None)

    def null_predictor(self, Y, sample_weight, xp):
        """``log`` of each target's weighted mean: the constant model of least deviance.

        Parameters
        ----------
        Y : array of shape (n_samples, n_targets)
        sample_weight : array of shape (n_samples, 1)
        xp : namespace

        Returns
        -------
        array of shape (n_targets,)
        """
        return xp.log(xp.sum(sample_weight * Y, axis=0) / xp.sum(sample_weight))

    def initial_intercept(self, means):
        """``log(mean(y))`` per target: the intercept-only optimum, where a fit starts.

        Parameters
        ----------
        means : ndarray of shape (n_targets,)

        Returns
        -------
        ndarray of shape (n_targets,)
        """
        return np.log(np.asarray(means, dtype=np.float64))

    def inverse_link(self, p, xp=None):
        """The prediction ``exp(p)`` at linear predictor ``p``.

        Parameters
        ----------
        p : array
        xp : namespace, default=None

        Returns
        -------
        array
        """
        xp, _ = get_namespace(p, xp=xp)
        with np.errstate(over="ignore"):  # beyond the float range: an infinite prediction
            return xp.exp(p)

    def value_and_derivative(self, p, y, xp=None):
        """The unit deviance at ``mu = exp(p)`` and its derivative in ``p``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets in the loss's range, broadcastable against ``p``.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """
        xp, _ = get_namespace(p, xp=xp)
        with np.errstate(over="ignore", invalid="ignore"):  # exp(p) beyond the float range: an infinite loss
            value, derivative = self.deviance(p, y, xp)
        # Where both powers of mu overflow (inf - inf, powers above 2 at p << 0) the deviance is +inf and
        # its slope the faster-growing power's.
        inf = xp.full_like(derivative, xp.inf)
        return xp.where(xp.isnan(value), inf, value), xp.where(
            xp.isnan(derivative), xp.where(p < 0.0, -inf, inf), derivative
        )

    def deviance(self, p, y, xp):
        """The unit deviance of power ``k`` and its derivative in ``p`` (``value_and_derivative`` without the guard).

        ``2 (max(y, 0)**(2 - k) / ((1 - k)(2 - k)) - y mu**(1 - k) / (1 - k) + mu**(2 - k) / (2 - k))``
        with ``mu = exp(p)``, as scikit-learn's ``mean_tweedie_deviance``;
        power 1 is the Poisson deviance and power 2 the gamma one (their own
        forms, the limits of this one).

        Parameters
        ----------
        p, y : arrays
        xp : namespace

        Returns
        -------
        value, derivative : arrays
        """
        k = self.power
        if k == 1.0:
            return _poisson_deviance(p, y, xp)
        if k == 2.0:
            return _gamma_deviance(p, y, xp)
        mu_1k = xp.exp((1.0 - k) * p)  # mu ** (1 - k)
        mu_2k = xp.exp((2.0 - k) * p)  # mu ** (2 - k)
        y_2k = xp.where(y > 0.0, y, 0.0 * y) ** (2.0 - k)
        value = 2.0 * (y_2k / ((1.0 - k) * (2.0 - k)) - y * mu_1k / (1.0 - k) + mu_2k / (2.0 - k))
        return value, 2.0 * (mu_2k - y * mu_1k)


def _poisson_deviance(p, y, xp):
    """``2 (y log(y / mu) - y + mu)`` (``y log y = 0`` at 0) and ``2 (mu - y)``, ``mu = exp(p)``."""
    mu = xp.exp(p)
    positive = y > 0.0
    y_log_y = xp.where(positive, y * xp.log(xp.where(positive, y, 1.0 + 0.0 * y)), 0.0 * y)
    return 2.0 * (y_log_y - y * p - y + mu), 2.0 * (mu - y)


def _gamma_deviance(p, y, xp):
    """``2 (log(mu / y) + y / mu - 1)`` and ``2 (1 - y / mu)``, ``mu = exp(p)``."""
    y_over_mu = y * xp.exp(-p)
    return 2.0 * (p - xp.log(y) + y_over_mu - 1.0), 2.0 * (1.0 - y_over_mu)


class Poisson(LogLinkLoss):
    """The Poisson deviance ``2 (y log(y / mu) - y + mu)``, ``mu = exp(p)``; targets ``y >= 0``."""

    name, code, power = "poisson", 6, 1.0


class Gamma(LogLinkLoss):
    """The gamma deviance ``2 (log(mu / y) + y / mu - 1)``, ``mu = exp(p)``; targets ``y > 0``."""

    name, code, power = "gamma", 7, 2.0


@dataclass(frozen=True)
class Tweedie(LogLinkLoss):
    """The Tweedie deviance of power ``k``, built from the estimator's ``power``.

    ``2 (max(y, 0)**(2 - k) / ((1 - k)(2 - k)) - y mu**(1 - k) / (1 - k) + mu**(2 - k) / (2 - k))``
    with ``mu = exp(p)``, as scikit-learn's ``mean_tweedie_deviance``; power 1
    is the Poisson deviance and power 2 the gamma one. Powers ``k >= 1`` are
    accepted (the log link's compound Poisson-gamma, gamma and inverse Gaussian
    range); targets ``y >= 0`` for ``k < 2``, ``y > 0`` from 2 on.

    Parameters
    ----------
    curvature : float, default=2.0
        See ``LogLinkLoss``.
    relative_steps : tuple or None, default=None
        See ``LogLinkLoss``.
    power : float, default=1.5
        The power ``k``.
    """

    name, code = "tweedie", 8
    power: float = 1.5

    @property
    def parameter(self):
        """``power``, the float the compiled loop receives."""
        return self.power


def _clip(x, bound, xp):
    """``x`` clipped to ``[-bound, bound]`` elementwise, in the namespace ``xp`` of ``x``.

    Parameters
    ----------
    x : array
    bound : float
    xp : namespace

    Returns
    -------
    array
    """
    return _clip_between(x, -bound, bound, xp)


def _clip_between(x, low, high, xp):
    """``x`` clipped to ``[low, high]`` elementwise, in the namespace ``xp`` of ``x``.

    Parameters
    ----------
    x : array
    low, high : float
    xp : namespace

    Returns
    -------
    array
    """
    if _is_numpy_namespace(xp):
        return np.clip(x, low, high)  # a NumPy ufunc: many times faster than the namespace's clip
    return xp.clip(x, min=low, max=high)


#: The one registry of losses: the ``loss`` parameter's values, each its class.
LOSSES = {
    cls.name: cls
    for cls in (
        SquaredError,
        Huber,
        EpsilonInsensitive,
        SquaredEpsilonInsensitive,
        AbsoluteError,
        Quantile,
        Poisson,
        Gamma,
        Tweedie,
    )
}


def make_loss(name, **params):
    """The loss ``name`` of ``LOSSES`` with its parameters bound in.

    Parameters
    ----------
    name : str
        A key of ``LOSSES``.
    **params
        The estimator's parameters; each loss reads those it takes.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        If ``name`` is not a registered loss.
    """
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; the registered losses are {sorted(LOSSES)}.")
    return LOSSES[name].from_params(params)


#: The mixing ``rho`` between L1 and L2 of each penalty name (None: l1_ratio).
PENALTY_RHO = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": None}


@dataclass(frozen=True)
class Penalty:
    """``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)``.

    Parameters
    ----------
    alpha : float
        Overall strength (0 for no penalty).
    rho : float
        Share of the L1 part, in [0, 1].
    """

    alpha: float
    rho: float

    @classmethod
    def from_params(cls, penalty, alpha, l1_ratio):
        """Build the penalty named by the estimator's parameters.

        Parameters
        ----------
        penalty : {None, "l2", "l1", "elasticnet"}
        alpha : float
        l1_ratio : float

        Returns
        -------
        Penalty
        """
        if penalty is None:
            return cls(0.0, 0.0)
        rho = PENALTY_RHO[penalty]
        return cls(float(alpha), float(l1_ratio if rho is None else rho))

    @property
    def l2(self):
        """Strength of the smooth part's gradient, ``alpha * (1 - rho)``."""
        return self.alpha * (1.0 - self.rho)

    @property
    def l1(self):
        """Strength of the L1 part, ``alpha * rho``."""
        return self.alpha * self.rho

    def value(self, coef, xp=None):
        """Penalty of each row of ``coef`` (one per target).

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
            Of any array API namespace.
        xp : namespace, default=None
            The namespace of ``coef`` (found from ``coef`` when None).

        Returns
        -------
        array of shape (n_targets,)
            In ``coef``'s namespace and device, at the highest float precision there.
        """
        xp, _ = get_namespace(coef, xp=xp)
        coef = xp.astype(coef, widest_float(xp, coef), copy=False)
        return self.l1 * xp.sum(xp.abs(coef), axis=1) + 0.5 * self.l2 * xp.sum(coef * coef, axis=1)

    def prox(self, coef, step, xp=None):
        """Proximal step of the L1 part (soft thresholding), in place.

        Parameters
        ----------
        coef : array
            Coefficients after the gradient step, of any array API namespace;
            modified in place.
        step : float
            The step size used.
        xp : namespace, default=None
            The namespace of ``coef`` (found from ``coef`` when None).
        """
        if self.l1 > 0.0:
            xp, _ = get_namespace(coef, xp=xp)
            threshold = step * self.l1
            coef[...] = coef - _clip(coef, threshold, xp)  # soft thresholding


#: Largest matrix whose eigenvalues are found densely when it is at hand.
DENSE_EIGEN_SIZE = 1024


def top_eigenvalue(matvec, size):
    """Largest eigenvalue of a symmetric positive semi-definite operator.

    Small operators are formed densely; larger ones use Lanczos (ARPACK) with
    a fixed start vector, so the result is deterministic.

    Parameters
    ----------
    matvec : callable
        ``v -> A @ v`` for float64 vectors of length ``size``.
    size : int
        The operator's dimension.

    Returns
    -------
    float
    """
    if size <= 32:
        dense = np.column_stack([matvec(e) for e in np.eye(size)])
        return float(np.linalg.eigvalsh(0.5 * (dense + dense.T))[-1])
    operator = LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    v0 = np.random.RandomState(0).standard_normal(size)
    return float(eigsh(operator, k=1, which="LA", v0=v0, tol=1e-6, return_eigenvectors=False)[0])


def batch_lipschitz(loss, penalty, X, sample_weight, fit_intercept, conditioning):
    """Lipschitz constant of the gradient of J's smooth part in the solver's coordinates.

    ``L = lambda_max(curvature * T^T (Z^T S Z / sum(S)) T + diag(l2 * s**2))``
    with ``Z = [X, 1]`` (or ``X`` without intercept) and ``T`` the map from the
    conditioned coordinates to the user's (``skgd._conditioning``), so ``1 / L``
    cannot diverge there.

    The products with X run in X's namespace and on its device; only the
    vectors of the eigensolver travel to the host. Sparse X with fewer rows
    than ``d + fit_intercept`` (wide data) is solved in the n dimensions of
    the rows instead (``row_space_eigenvalue``) when the penalty's diagonal is
    a constant ``delta`` (``l2 = 0``, or equal ``l2 * s**2`` and no intercept):
    ``lambda_max(A^T A + delta I) = lambda_max(A A^T) + delta``.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    X : array or sparse matrix of shape (n_samples, n_features)
    sample_weight : array of shape (n_samples,)
    fit_intercept : bool
    conditioning : Conditioning

    Returns
    -------
    float
    """
    d = X.shape[1]
    xp, _, device = get_namespace_and_device(X, sample_weight)
    float64 = _max_precision_float_dtype(xp, device)
    total = xp.sum(sample_weight, dtype=float64)
    # Squared error's gradient sums at targets 0 are 2 Z^T S Z v: the fused pass is the product.
    zero_targets = xp.broadcast_to(xp.zeros((1, 1), dtype=X.dtype, device=device), (X.shape[0], 1))
    no_intercept = xp.zeros(1, dtype=float64, device=device)
    penalty_diagonal = penalty.l2 * np.asarray(move_to(conditioning.scale, xp=np, device="cpu"), dtype=np.float64) ** 2

    def matvec(u):
        u = np.asarray(u, dtype=np.float64).ravel()
        v = xp.asarray(conditioning.to_user(u, fit_intercept), dtype=float64, device=device)
        intercept = v[d:] if fit_intercept else no_intercept
        _, grad_coef, grad_intercept = loss_gradient_sums(
            SquaredError(), X, zero_targets, sample_weight, xp.reshape(v[:d], (1, d)), intercept, xp=xp
        )
        out = xp.concat([grad_coef[0, :], grad_intercept]) if fit_intercept else grad_coef[0, :]
        product = np.asarray(move_to(out / (2.0 * total), xp=np, device="cpu"), dtype=np.float64)
        product = loss.curvature * conditioning.to_conditioned(product, fit_intercept)
        product[:d] += penalty_diagonal * u[:d]
        return product

    size = d + int(fit_intercept)
    diagonal = np.append(penalty_diagonal, 0.0) if fit_intercept else penalty_diagonal
    if sp.issparse(X) and X.shape[0] < size and np.all(diagonal == diagonal[0]):
        return row_space_eigenvalue(loss.curvature, X, sample_weight, fit_intercept, conditioning) + diagonal[0]
    return top_eigenvalue(matvec, size)


def row_space_eigenvalue(curvature, X, sample_weight, fit_intercept, conditioning):
    """``lambda_max(A A^T)``, ``A = sqrt(curvature * S / sum(S)) Z T``: the data term's curvature in n dimensions.

    ``A^T A`` is ``batch_lipschitz``'s operator without the penalty, in the
    ``d + fit_intercept`` conditioned coordinates; ``A A^T`` has the same
    non-zero eigenvalues, in the n dimensions of the rows, so on wide data the
    eigensolver works on vectors of n entries, not of d. With ``Y = X diag(s)``
    (the stored columns only: an empty column adds nothing), ``a = Y (s * m)``
    and ``c = 1 + ||s * m||^2``, the map ``T`` of ``skgd._conditioning`` gives
    ``Z T T^T Z^T = Y Y^T - a 1^T - 1 a^T + c 1 1^T`` (``Y Y^T`` without an intercept).

    Parameters
    ----------
    curvature : float
        ``Loss.curvature``.
    X : sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    fit_intercept : bool
    conditioning : Conditioning

    Returns
    -------
    float
    """
    scale = np.asarray(move_to(conditioning.scale, xp=np, device="cpu"), dtype=np.float64)
    shift = np.asarray(move_to(conditioning.shift, xp=np, device="cpu"), dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    root = np.sqrt(curvature * sample_weight / sample_weight.sum())
    X = sp.csr_matrix(X)
    stored = np.unique(X.indices)
    Y = sp.csr_matrix(X[:, stored] @ sp.diags(scale[stored]), dtype=np.float64)
    Yt = Y.T.tocsr()
    a = Y @ (scale[stored] * shift[stored])
    c = 1.0 + float(np.sum((scale * shift) ** 2))

    def matvec(u):
        r = root * np.asarray(u, dtype=np.float64).ravel()
        p = Y @ (Yt @ r)
        if fit_intercept:
            total = r.sum()
            p += (c * total - a @ r) - a * total
        return root * p

    return top_eigenvalue(matvec, X.shape[0])


def gram_lipschitz(loss, penalty, statistics, fit_intercept, conditioning):
    """Lipschitz constant of the smooth part's gradient from the sufficient statistics.

    The same constant as ``batch_lipschitz``, with the curvature matrix formed
    from the centred statistics (``Conditioning.hessian``).

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    statistics : SufficientStatistics
        Of any array API namespace (the matrix is brought to the host, where
        the eigensolver runs).
    fit_intercept : bool
    conditioning : Conditioning

    Returns
    -------
    float
    """
    hessian = conditioning.hessian(statistics, loss.curvature, penalty.l2, fit_intercept)
    hessian = np.asarray(move_to(hessian, xp=np, device="cpu"), dtype=np.float64)
    if hessian.shape[0] <= DENSE_EIGEN_SIZE:
        return float(np.linalg.eigvalsh(0.5 * (hessian + hessian.T))[-1])
    return top_eigenvalue(lambda v: hessian @ v, hessian.shape[0])


def sample_lipschitz(loss, penalty, X, sample_weight, fit_intercept, conditioning=None):
    """Largest per-sample Lipschitz constant, the bound behind SGD's automatic step.

    A weight ``s_i`` multiplies its sample's whole step, the penalty's share
    included, so in the coordinates of rows ``z_i`` the bound is
    ``max_i s_i * (curvature * (||z_i||^2 + fit_intercept) + l2 * max_j scale_j**2)``:
    a step of ``1 / L`` cannot overshoot any single sample's objective.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
        The weights as the steps take them (not normalised).
    fit_intercept : bool
    conditioning : Conditioning, default=None
        The coordinates the steps are taken in (dense X); None for the user's.

    Returns
    -------
    float
    """
    xp, _ = get_namespace(sample_weight)
    largest_weight = float(xp.max(sample_weight)) if sample_weight.shape[0] else 0.0
    rows = largest_row_scale(X, sample_weight, fit_intercept, conditioning)
    return per_sample_bound(loss, penalty, rows, largest_weight, conditioning)


def per_sample_bound(loss, penalty, row_scale, largest_weight, conditioning=None):
    """``sample_lipschitz`` from its two maxima over rows (which a dask pass gathers per block).

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    row_scale : float
        ``largest_row_scale`` of the data, in the coordinates of ``conditioning``.
    largest_weight : float
        ``max_i s_i``.
    conditioning : Conditioning, default=None

    Returns
    -------
    float
    """
    penalty_scale = 1.0
    if conditioning is not None:
        xp, _ = get_namespace(conditioning.scale)
        penalty_scale = float(xp.max(conditioning.scale * conditioning.scale))
    return loss.curvature * row_scale + penalty.l2 * penalty_scale * largest_weight
