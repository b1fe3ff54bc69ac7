"""The pinball (quantile) loss and its Moreau smoothing."""

from dataclasses import dataclass

import numpy as np

from .._array_api import (
    clip,
    clip_between,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from ._base import ResidualLoss


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
        at the residuals' scale (``skgd._algorithms._sgd.sized_by_smoothing``),
        squared error's without it.
    relative_steps : tuple or None, default=None
        Each target's sgd step over the shared one: its width over the
        smallest (set with ``curvature``).
    """

    name, smooth, score = "quantile", False, "d2"
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
    steps descend the smoothed one (``skgd._algorithms._fista``); with one width per
    target, each target steps by its own width (``relative_steps``). Not in
    ``LOSSES``: a solver builds it from ``Quantile.smoothed``.

    Parameters
    ----------
    quantile : float
    width : float or array of shape (n_targets,)
        ``mu``, per target (in the namespace of the predictions).
    factor : float, default=1.0
        A multiple of the loss (2 for the absolute error, twice the median's).
    tube : float, default=0.0
        The half-width of a zero-loss tube the loss takes of the residual's
        excess over it (epsilon-insensitive: twice the median's of the excess).
    """

    smooth = True
    quantile: float = 0.5
    width: object = 1.0
    factor: float = 1.0
    tube: float = 0.0

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
        if self.tube > 0.0:
            r = r - clip(r, self.tube, xp)
        q, scaled = self.quantile, xp.astype(r / self.width, r.dtype, copy=False)  # the slope in r's dtype
        return self.factor * _pinball(r, q, xp), self.factor * clip_between(scaled, -q, 1.0 - q, xp)


def _pinball(r, q, xp):
    """The pinball loss ``max((1 - q) r, -q r)`` of residuals ``r`` (0 at 0)."""
    return xp.where(r > 0.0, (1.0 - q) * r, xp.where(r < 0.0, -q * r, xp.zeros_like(r)))
