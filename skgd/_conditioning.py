"""Better coordinates for the same objective: centring and a diagonal preconditioner.

With ``learning_rate="auto"`` the solvers step in the coordinates

    v = w / s,   c = b + m . w          (so  x . w + b = ((x - m) * s) . v + c)

where ``m`` centres the columns (only with an intercept, and not for the sgd
loop's sparse rows, which keep their zeros) and ``s`` is Jacobi's
diagonal preconditioner of the smooth part of J: ``s_j = 1 / sqrt(spread_j +
l2 / curvature)``, ``spread_j`` the column's weighted variance (its mean square
without an intercept). In these coordinates raw columns in their own units
(offsets, scales from 1e-3 to 1e4) look standardised to the solver, while J,
the penalty on the user's ``w`` and the reported ``coef_``/``intercept_`` are
unchanged: the L1 part becomes per-coordinate weights ``s_j`` on ``|v_j|`` and
the L2 part ``s_j**2`` on ``v_j**2``, whose proximal steps stay exact.

The state stays in the user's coordinates: a step in ``(v, c)`` is the step
``-eta * P g`` in ``(w, b)`` with ``P = T T^T`` (``T`` the linear map from
``(v, c)`` to ``(w, b)``), which ``Conditioning.direction`` applies.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._array_api import _max_precision_float_dtype, get_namespace, get_namespace_and_device, move_to

#: A column whose weighted spread is under this share of its squared mean is
#: constant up to rounding.
CONSTANT_COLUMN = 1e-20


@dataclass(frozen=True)
class Conditioning:
    """The centring ``m`` and scaling ``s`` of the solver's coordinates.

    Parameters
    ----------
    shift : array of shape (n_features,)
        ``m``: the weighted column means with an intercept, zeros without.
    scale : array of shape (n_features,)
        ``s``: positive per-column scales.
    """

    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def identity(cls, n_features, xp, device):
        """The user's own coordinates (``m = 0``, ``s = 1``).

        Parameters
        ----------
        n_features : int
        xp : array namespace
        device : device of ``xp``

        Returns
        -------
        Conditioning
        """
        float64 = _max_precision_float_dtype(xp, device)
        return cls(
            shift=xp.zeros(n_features, dtype=float64, device=device),
            scale=xp.ones(n_features, dtype=float64, device=device),
        )

    @cached_property
    def centred(self):
        """Whether these coordinates centre any column (``m != 0``).

        Returns
        -------
        bool
        """
        xp, _ = get_namespace(self.shift)
        return bool(xp.any(self.shift != 0.0))

    @classmethod
    def from_moments(cls, moments, fit_intercept, curvature, l2, *, centre=True):
        """Jacobi's preconditioner of J's smooth part, from the data's column moments.

        Parameters
        ----------
        moments : ColumnMoments
            Of the training rows, with their weights.
        fit_intercept : bool
            Whether to centre (an intercept absorbs the shift exactly).
        curvature : float
            The loss's curvature bound.
        l2 : float
            Strength of the penalty's L2 part.
        centre : bool, default=True
            False keeps the columns uncentred even with an intercept (the sgd
            loop's sparse rows keep their zeros): ``m = 0`` and ``spread_j``
            is the column's mean square, and the intercept is stepped as the
            user's.

        Returns
        -------
        Conditioning

        Raises
        ------
        ValueError
            If the moments overflow (X's squares exceed the float range).
        """
        xp, _ = get_namespace(moments.mean)
        mean = moments.mean
        spread = moments.squares / moments.weight_sum
        centre = centre and fit_intercept
        if not centre:
            spread = spread + mean * mean
        if not (bool(xp.all(xp.isfinite(spread))) and bool(xp.all(xp.isfinite(mean)))):
            raise ValueError(
                "X holds values whose squares overflow float64 (up to "
                f"{float(xp.max(xp.abs(mean))):.3g} on average in a column); the step size cannot be "
                "measured. Rescale X (for example with StandardScaler or MaxAbsScaler)."
            )
        constant = spread <= CONSTANT_COLUMN * mean * mean
        spread = xp.where(constant, 0.0, spread) + l2 / curvature
        # A constant column without an L2 part has no curvature at all: its own magnitude sets the unit.
        unit = xp.where(mean != 0.0, mean * mean, 1.0)
        scale = 1.0 / xp.sqrt(xp.where(spread > 0.0, spread, unit))
        shift = mean if centre else xp.zeros_like(mean)
        return cls(shift=shift, scale=scale)

    def to_namespace(self, xp, device):
        """This conditioning with its arrays in the namespace ``xp``, on ``device``.

        Parameters
        ----------
        xp : array namespace
        device : device of ``xp``

        Returns
        -------
        Conditioning
        """
        shift, scale = move_to(self.shift, self.scale, xp=xp, device=device)
        return Conditioning(shift=shift, scale=scale)

    def convert(self, state, *, to_conditioned):
        """Move a state's iterates, velocities and averages between the coordinates, in place.

        The map from ``(w, b)`` to ``(v, c)`` is linear (``v = w / s``,
        ``c = b + m . w``), so velocities and running averages move as the
        iterate does; each array keeps its dtype. The cumulative L1 penalty's
        record stays in the conditioned coordinates, where the loop applies it.

        Parameters
        ----------
        state : TrainingState
        to_conditioned : bool
            True for ``(w, b) -> (v, c)``, False for the way back.
        """
        xp, _ = get_namespace(state.coef)
        for owner, coef_name, intercept_name in state.coordinate_pairs():
            coef, intercept = getattr(owner, coef_name), getattr(owner, intercept_name)
            if coef is None:
                continue
            wide = xp.astype(coef, self.scale.dtype)  # the maps run in float64 whatever the iterate's dtype
            if to_conditioned:
                moved = wide / self.scale
                moved_intercept = intercept + wide @ self.shift
            else:
                moved = wide * self.scale
                moved_intercept = intercept - moved @ self.shift
            setattr(owner, coef_name, xp.asarray(xp.astype(moved, coef.dtype), copy=True))
            setattr(owner, intercept_name, xp.astype(moved_intercept, intercept.dtype))

    def direction(self, grad_coef, grad_intercept, fit_intercept):
        """The step direction ``P g`` in the user's coordinates for a gradient ``g``.

        Parameters
        ----------
        grad_coef : array of shape (n_targets, n_features)
            Gradient of J's smooth part in ``w``.
        grad_intercept : array of shape (n_targets,)
            Its gradient in ``b`` (ignored without an intercept).
        fit_intercept : bool

        Returns
        -------
        direction_coef : array of shape (n_targets, n_features)
        direction_intercept : array of shape (n_targets,)
        """
        xp, _ = get_namespace(grad_coef)
        if not fit_intercept:
            return grad_coef * self._scale2, xp.zeros_like(grad_intercept)
        if not self.centred:  # m = 0: the terms in m vanish exactly
            return grad_coef * self._scale2, grad_intercept
        direction_coef = grad_coef - grad_intercept[:, None] * self.shift
        direction_coef *= self._scale2
        return direction_coef, grad_intercept - direction_coef @ self.shift

    @cached_property
    def _scale2(self):
        """``s**2``."""
        return self.scale * self.scale

    @cached_property
    def _inverse2(self):
        """``1 / s**2``."""
        return 1.0 / (self.scale * self.scale)

    def prox(self, coef, intercept, step, l1, fit_intercept):
        """Proximal step of the L1 part in the solver's coordinates, in place.

        Soft-thresholds ``v_j`` by ``step * l1 * s_j``, that is ``w_j`` by
        ``step * l1 * s_j**2``; ``c`` stays, so the intercept moves by
        ``-m . (change of w)``.

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
            Modified in place.
        intercept : array of shape (n_targets,)
            Modified in place.
        step : float
        l1 : float
            Strength of the L1 part.
        fit_intercept : bool
        """
        if l1 <= 0.0:
            return
        xp, _ = get_namespace(coef)
        threshold = step * l1 * self.scale * self.scale
        shrunk = xp.where(coef > threshold, coef - threshold, xp.where(coef < -threshold, coef + threshold, 0.0))
        if fit_intercept:
            intercept -= (shrunk - coef) @ self.shift
        coef[...] = xp.astype(shrunk, coef.dtype, copy=False)

    def inner(self, a_coef, a_intercept, b_coef, b_intercept, fit_intercept, per_target=False):
        """Inner product of two ``(w, b)`` displacements measured in ``(v, c)``.

        Parameters
        ----------
        a_coef, b_coef : arrays of shape (n_targets, n_features)
        a_intercept, b_intercept : arrays of shape (n_targets,)
        fit_intercept : bool
        per_target : bool, default=False
            Whether to give each target's own product rather than their sum.

        Returns
        -------
        float, or array of shape (n_targets,) with ``per_target``
        """
        xp, _ = get_namespace(a_coef)
        wide = self.scale.dtype  # measured in float64 whatever the arrays' dtype
        a_coef, b_coef = xp.astype(a_coef, wide, copy=False), xp.astype(b_coef, wide, copy=False)
        product = a_coef * b_coef
        product *= self._inverse2
        total = xp.sum(product, axis=1) if per_target else xp.sum(product)
        if fit_intercept:
            a_c, b_c = xp.astype(a_intercept, wide), xp.astype(b_intercept, wide)
            if self.centred:  # m = 0: the terms in m vanish exactly
                a_c, b_c = a_c + a_coef @ self.shift, b_c + b_coef @ self.shift
            total += a_c * b_c if per_target else xp.sum(a_c * b_c)
        return total if per_target else float(total)

    def hessian(self, statistics, curvature, l2, fit_intercept):
        """The smooth part's curvature bound in the solver's coordinates, from the statistics.

        ``curvature * E[z z^T] + diag(l2 * s**2)`` with ``z = [(x - m) * s, 1]``
        (without the 1 when there is no intercept), formed from the centred
        statistics: ``E[z z^T]`` has ``D (C / W + delta delta^T) D``, ``D delta``
        and 1 as blocks, ``delta = mean - m``.

        Parameters
        ----------
        statistics : SufficientStatistics
        curvature : float
        l2 : float
        fit_intercept : bool

        Returns
        -------
        array of shape (n_features + fit_intercept, n_features + fit_intercept)
        """
        xp, _, device = get_namespace_and_device(statistics.scatter_xx)
        delta = (statistics.mean_x - self.shift) * self.scale
        block = self.scale[:, None] * (statistics.scatter_xx / statistics.weight_sum) * self.scale[None, :]
        block = curvature * (block + delta[:, None] * delta[None, :])
        block = block + _diagonal(l2 * self.scale * self.scale)
        if not fit_intercept:
            return block
        column = curvature * delta
        corner = xp.full((1, 1), curvature, dtype=block.dtype, device=device)
        top = xp.concat([block, column[:, None]], axis=1)
        return xp.concat([top, xp.concat([column[None, :], corner], axis=1)], axis=0)

    def to_user(self, v, fit_intercept):
        """The user's ``(w, b)`` of a conditioned ``(v, c)`` vector (the map ``T``).

        Parameters
        ----------
        v : ndarray of shape (n_features + fit_intercept,)
            Float64, on the host.
        fit_intercept : bool

        Returns
        -------
        ndarray of shape (n_features + fit_intercept,)
        """
        scale, shift = _host(self.scale), _host(self.shift)
        d = scale.shape[0]
        w = v[:d] * scale
        return np.concatenate([w, v[d:] - w @ shift]) if fit_intercept else w

    def to_conditioned(self, g, fit_intercept):
        """``T^T g``: a ``(w, b)`` gradient as a ``(v, c)`` gradient.

        Parameters
        ----------
        g : ndarray of shape (n_features + fit_intercept,)
            Float64, on the host.
        fit_intercept : bool

        Returns
        -------
        ndarray of shape (n_features + fit_intercept,)
        """
        scale, shift = _host(self.scale), _host(self.shift)
        d = scale.shape[0]
        if not fit_intercept:
            return g * scale
        return np.concatenate([(g[:d] - g[d] * shift) * scale, g[d:]])


def _diagonal(values):
    """A square matrix with ``values`` on its diagonal (any array namespace)."""
    xp, _, device = get_namespace_and_device(values)
    return xp.eye(values.shape[0], dtype=values.dtype, device=device) * values[None, :]


def _host(array):
    """``array`` as a float64 NumPy array."""
    return np.asarray(move_to(array, xp=np, device="cpu"), dtype=np.float64)
