"""The log link's unit deviances: Poisson, gamma, Tweedie."""

import math
from dataclasses import dataclass, replace

import numpy as np

from .._array_api import (
    get_namespace,
)
from ._base import Loss


@dataclass(frozen=True)
class LogLinkLoss(Loss):
    """The unit deviance of a Tweedie distribution of power ``k``, with the log link.

    The linear predictor is ``p = log(mu)``: ``predict`` returns
    ``mu = exp(p)``. The loss is the unit deviance itself, with no factor 1/2
    (squared error is the normal deviance, so the convention holds), so
    ``PoissonRegressor(alpha=a / 2)`` is ``loss="poisson", penalty="l2",
    alpha=a``. Its second derivative in ``p`` grows with ``exp(p)``: no global
    curvature bound exists (``global_curvature`` is False), so ``curvature``
    is the deviance's curvature at the targets' weighted mean
    (``for_targets``), which sizes a first step: the batch solver searches
    for its step (``skgd._algorithms._backtracking``) and the sgd loop caps
    the change in ``p`` one sample's step may make
    (``skgd._algorithms._sgd.max_change``). A prediction ``exp(p)`` that overflows makes the loss
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

    smooth, global_curvature, score = True, False, "d2"
    curvature: float = 2.0
    relative_steps: tuple = None

    @property
    def targets(self):
        """The targets the loss accepts: ``"non-negative"`` (``k < 2``) or ``"positive"``."""
        return "non-negative" if self.power < 2.0 else "positive"

    def for_targets(self, means, relative=True, maxima=None):
        """The loss with ``curvature`` measured at the targets' weighted means.

        Above power 2 the deviance's curvature at ``p = log(mean)`` grows
        with the target: ``2 mean**(2 - k) ((k - 1) y / mean - (k - 2))``.
        Given ``maxima`` (sgd, whose step must be safe for every sample), the
        curvature is that of the largest target, not the mean's.

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target (positive).
        relative : bool, default=True
            Whether each target steps by its own curvature (``relative_steps``,
            for the automatic step; a float learning rate is one step for all).
        maxima : ndarray of shape (n_targets,) or None, default=None
            Each target's largest value; None sizes the curvature by the mean alone.

        Returns
        -------
        LogLinkLoss
            The largest curvature over the targets, which the shared step is
            sized by, and each target's step relative to it.
        """
        means = np.asarray(means, dtype=np.float64)
        curvatures = 2.0 * means ** (2.0 - self.power)
        if maxima is not None and self.power > 2.0:
            ratio = np.asarray(maxima, dtype=np.float64) / np.where(means > 0.0, means, 1.0)
            curvatures *= np.maximum((self.power - 1.0) * ratio - (self.power - 2.0), 1.0)
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

    def target_part(self, y, xp=None):
        """The deviance's terms in ``y`` alone: ``y log y``, ``log y`` (gamma), ``y**(2 - k) / ((1 - k)(2 - k))``.

        Parameters
        ----------
        y : array
            Targets in the loss's range, of any array API namespace.
        xp : namespace, default=None
            The namespace of ``y`` (found from ``y`` when None).

        Returns
        -------
        array like ``y``
        """
        xp, _ = get_namespace(y, xp=xp)
        k = self.power
        if k == 1.0:
            positive = y > 0.0
            return xp.where(positive, y * xp.log(xp.where(positive, y, 1.0 + 0.0 * y)), 0.0 * y)  # 0 log 0 = 0
        if k == 2.0:
            return xp.log(y)
        return xp.where(y > 0.0, y, 0.0 * y) ** (2.0 - k) / ((1.0 - k) * (2.0 - k))

    def value_and_derivative(self, p, y, xp=None, part=None):
        """The unit deviance at ``mu = exp(p)`` and its derivative in ``p``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets in the loss's range, broadcastable against ``p``.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).
        part : array, default=None
            ``target_part(y)``, formed before; None forms it here.

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """
        xp, _ = get_namespace(p, xp=xp)
        with np.errstate(over="ignore", invalid="ignore"):  # exp(p) beyond the float range: an infinite loss
            part = self.target_part(y, xp) if part is None else part
            value, derivative = self.deviance(p, y, part, xp)
            # Where both powers of mu overflow (inf - inf, powers above 2 at p << 0) the deviance is +inf and
            # its slope the faster-growing power's. A finite block is the rule: its sums say so at once.
            if _finite(value, derivative, xp):
                return value, derivative
        bad_value, bad_slope = xp.isnan(value), xp.isnan(derivative)
        inf = xp.full_like(derivative, xp.inf)
        return xp.where(bad_value, inf, value), xp.where(bad_slope, xp.where(p < 0.0, -inf, inf), derivative)

    def slope_and_curvature(self, p, y, xp=None, part=None):
        """The deviance's derivative and second derivative in ``p``, in closed form; see ``Loss.slope_and_curvature``.

        ``2 (mu**(2 - k) - y mu**(1 - k))`` and ``2 ((2 - k) mu**(2 - k) - (1 - k) y mu**(1 - k))``
        at ``mu = exp(p)`` (``mean_powers``; poisson's ``2 mu``, gamma's ``2 y / mu``); where
        they overflow, the central difference of ``value_and_derivative``'s
        guarded slope.

        Parameters
        ----------
        p, y : arrays
        xp : namespace, default=None
        part : array, default=None
            Not read: neither derivative has terms in ``y`` alone.

        Returns
        -------
        slope, curvature : arrays
        """
        xp, _ = get_namespace(p, xp=xp)
        k = self.power
        with np.errstate(over="ignore", invalid="ignore"):
            powers, y_powers = self.mean_powers(p, y, xp)
            slope, curvature = 2.0 * (powers - y_powers), 2.0 * ((2.0 - k) * powers - (1.0 - k) * y_powers)
            if _finite(slope, curvature, xp):
                return slope, curvature
        return super().slope_and_curvature(p, y, xp=xp, part=part)

    def deviance(self, p, y, part, xp):
        """The unit deviance of power ``k`` and its derivative in ``p`` (``value_and_derivative`` without the guard).

        ``2 (max(y, 0)**(2 - k) / ((1 - k)(2 - k)) - y mu**(1 - k) / (1 - k) + mu**(2 - k) / (2 - k))``
        with ``mu = exp(p)``, as scikit-learn's ``mean_tweedie_deviance``;
        power 1 is the Poisson deviance and power 2 the gamma one (their own
        forms, the limits of this one).

        Parameters
        ----------
        p, y : arrays
        part : array
            ``target_part(y)``.
        xp : namespace

        Returns
        -------
        value, derivative : arrays
        """
        k = self.power
        powers, y_powers = self.mean_powers(p, y, xp)
        if k == 1.0:  # 2 (y log(y / mu) - y + mu)
            value = 2.0 * (part - y * p - y + powers)
        elif k == 2.0:  # 2 (log(mu / y) + y / mu - 1)
            value = 2.0 * (p - part + y_powers - 1.0)
        else:
            value = 2.0 * (part - y_powers / (1.0 - k) + powers / (2.0 - k))
        return value, 2.0 * (powers - y_powers)

    def mean_powers(self, p, y, xp):
        """``mu**(2 - k)`` and ``y mu**(1 - k)`` at ``mu = exp(p)``: the derivative is ``2`` times their difference.

        Poisson's are ``mu`` and ``y``, gamma's ``1`` and ``y / mu``, each
        with one exponential.

        Parameters
        ----------
        p, y : arrays
        xp : namespace

        Returns
        -------
        powers, y_powers : arrays (gamma's ``powers`` the float 1)
        """
        k = self.power
        if k == 1.0:
            return xp.exp(p), y
        if k == 2.0:
            return 1.0, y * xp.exp(-p)
        return xp.exp((2.0 - k) * p), y * xp.exp((1.0 - k) * p)


def _finite(a, b, xp):
    """Whether every entry of ``a`` and ``b`` is finite: two sums, not a test per entry (floating errors ignored)."""
    return math.isfinite(float(xp.sum(a)) + float(xp.sum(b)))


class Poisson(LogLinkLoss):
    """The Poisson deviance ``2 (y log(y / mu) - y + mu)``, ``mu = exp(p)``; targets ``y >= 0``."""

    name, power = "poisson", 1.0


class Gamma(LogLinkLoss):
    """The gamma deviance ``2 (log(mu / y) + y / mu - 1)``, ``mu = exp(p)``; targets ``y > 0``."""

    name, power = "gamma", 2.0


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

    name = "tweedie"
    power: float = 1.5

    @property
    def parameter(self):
        """``power``, the float the compiled loop receives."""
        return self.power
