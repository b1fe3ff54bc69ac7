"""The penalty ``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)`` and its proximal step."""

from dataclasses import dataclass

from ._array_api import (
    clip,
    get_namespace,
    widest_float,
)

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
        if self.alpha == 0.0:  # no penalty: its zeros without summing w (a sum of a non-finite w is caught by J's)
            return xp.zeros_like(coef[:, 0])
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
            coef[...] = coef - clip(coef, threshold, xp)  # soft thresholding
