"""The residual losses of ``l(p - y)``: squared error, huber, the epsilon losses, absolute error."""

from dataclasses import dataclass

from .._array_api import (
    clip,
    get_namespace,
)
from ._base import ResidualLoss
from ._quantile import SmoothedQuantile


@dataclass(frozen=True)
class SquaredError(ResidualLoss):
    """``l(r) = r**2``: the note's cost (no factor 1/2)."""

    name, curvature, smooth = "squared_error", 2.0, True
    quadratic = squares = True

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


@dataclass(frozen=True)
class TwiceTheMedian(ResidualLoss):
    """Twice the median's pinball loss of the residual's excess over a ``tube``: smoothed as it is (``smoothed``).

    Parameters
    ----------
    curvature : float, default=2.0
        The curvature the sgd step is sized by, as ``Quantile``'s.
    relative_steps : tuple or None, default=None
        As ``Quantile``'s.
    """

    curvature: float = 2.0
    relative_steps: tuple = None

    @property
    def tube(self):
        """The half-width of the residuals the loss is zero on (0: none)."""
        return 0.0

    def smoothed(self, width):
        """Twice the median's smoothed pinball loss of the excess over ``tube``; see ``Loss.smoothed``.

        Parameters
        ----------
        width : float or array of shape (n_targets,)

        Returns
        -------
        SmoothedQuantile
        """
        return SmoothedQuantile(quantile=0.5, width=width, factor=2.0, tube=self.tube)


class Huber(EpsilonLoss):
    """``r**2`` inside ``epsilon``, ``2 epsilon |r| - epsilon**2`` outside (the continuation of r²)."""

    name, curvature, smooth = "huber", 2.0, True

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
        clipped = clip(r, self.epsilon, xp)
        return clipped * (2.0 * r - clipped), 2.0 * clipped


@dataclass(frozen=True)
class EpsilonInsensitive(TwiceTheMedian, EpsilonLoss):  # epsilon stays its first field
    """``max(0, |r| - epsilon)``, twice the median's pinball loss of the excess over ``epsilon``."""

    name, smooth = "epsilon_insensitive", False

    @property
    def tube(self):
        """``epsilon``."""
        return self.epsilon

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
        excess = r - clip(r, self.epsilon, xp)
        return xp.abs(excess), xp.sign(excess)


class SquaredEpsilonInsensitive(EpsilonLoss):
    """``max(0, |r| - epsilon)**2``."""

    name, curvature, smooth = "squared_epsilon_insensitive", 2.0, True
    squares = True

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
        excess = r - clip(r, self.epsilon, xp)
        return excess * excess, 2.0 * excess


@dataclass(frozen=True)
class AbsoluteError(TwiceTheMedian):
    """``l(r) = |r|``, twice the pinball loss at ``q = 0.5``."""

    name, smooth = "absolute_error", False

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
