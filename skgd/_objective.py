"""Losses, penalties, proximal step and step-size bounds: small pure functions.

The objective is the note's, generalised (see the project's DESIGN.md)::

    J(w, b) = sum_i s_i * l(x_i . w + b - y_i) / sum_i s_i  +  R(w)

with ``l(r) = r**2`` for squared error (no factor 1/2) and
``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)``.
A solver asks a loss for ``value`` and ``derivative`` and a penalty for
``value``, ``l2``/``l1`` strengths and ``prox``; it never branches on names.
"""

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh


@dataclass(frozen=True)
class Loss:
    """A residual loss ``l(r)``, ``r = prediction - target``, and its derivative.

    Parameters
    ----------
    name : str
        The ``loss`` parameter value.
    code : int
        The loss's code in the compiled loop.
    sgd_factor : float
        How many times scikit-learn's SGDRegressor loss of the same name this
        loss is (2 for squared error and huber, whose SGDRegressor forms are
        halved; 1 for the epsilon-insensitive losses).
    curvature : float
        Upper bound on ``l''(r)`` used for the automatic step (the subgradient
        losses use that of their squared counterpart).
    """

    name: str
    code: int
    sgd_factor: float
    curvature: float

    def value(self, r, epsilon):
        """Elementwise loss of residuals ``r``.

        Parameters
        ----------
        r : ndarray
            Residuals.
        epsilon : float
            Width of the huber and epsilon-insensitive losses.

        Returns
        -------
        ndarray
        """
        a = np.abs(r)
        if self.name == "squared_error":
            return r * r
        if self.name == "huber":
            return np.where(a <= epsilon, r * r, 2.0 * epsilon * a - epsilon**2)
        excess = np.maximum(a - epsilon, 0.0)
        if self.name == "epsilon_insensitive":
            return excess
        return excess * excess

    def derivative(self, r, epsilon):
        """Elementwise derivative ``l'(r)`` (a subgradient where ``l`` has a kink).

        Parameters
        ----------
        r : ndarray
            Residuals.
        epsilon : float
            Width of the huber and epsilon-insensitive losses.

        Returns
        -------
        ndarray
        """
        sign = np.where(r > 0, 1.0, -1.0).astype(r.dtype, copy=False)
        a = np.abs(r)
        if self.name == "squared_error":
            return 2.0 * r
        if self.name == "huber":
            return np.where(a <= epsilon, 2.0 * r, 2.0 * epsilon * sign)
        excess = np.maximum(a - epsilon, 0.0)
        if self.name == "epsilon_insensitive":
            return np.where(a <= epsilon, 0.0, sign).astype(r.dtype, copy=False)
        return 2.0 * excess * sign


#: The one registry of losses; a loss's position is its compiled code.
LOSSES = {
    loss.name: loss
    for loss in (
        Loss("squared_error", 0, 2.0, 2.0),
        Loss("huber", 1, 2.0, 2.0),
        Loss("epsilon_insensitive", 2, 1.0, 2.0),
        Loss("squared_epsilon_insensitive", 3, 1.0, 2.0),
    )
}

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

    def value(self, coef):
        """Penalty of each row of ``coef`` (one per target).

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)

        Returns
        -------
        ndarray of shape (n_targets,)
        """
        coef = np.asarray(coef, dtype=np.float64)
        return self.l1 * np.abs(coef).sum(axis=1) + 0.5 * self.l2 * (coef * coef).sum(axis=1)

    def prox(self, coef, step):
        """Proximal step of the L1 part (soft thresholding), in place.

        Parameters
        ----------
        coef : ndarray
            Coefficients after the gradient step; modified in place.
        step : float
            The step size used.
        """
        if self.l1 > 0.0:
            threshold = step * self.l1
            np.copyto(coef, np.sign(coef) * np.maximum(np.abs(coef) - threshold, 0.0))


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


def batch_lipschitz(loss, penalty, X, sample_weight, fit_intercept):
    """Lipschitz constant of the gradient of J's smooth part over ``(w, b)``.

    ``L = curvature * lambda_max(Z^T S Z / sum(S)) + alpha * (1 - rho)`` with
    ``Z = [X, 1]`` (or ``X`` without intercept), so ``1 / L`` cannot diverge.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    fit_intercept : bool

    Returns
    -------
    float
    """
    d = X.shape[1]
    s = np.asarray(sample_weight, dtype=np.float64) / np.sum(sample_weight)

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).ravel()
        z = X @ v[:d].astype(X.dtype, copy=False) + (v[d] if fit_intercept else 0.0)
        sz = s * z
        out = np.asarray(X.T @ sz.astype(X.dtype, copy=False), dtype=np.float64).ravel()
        return np.concatenate([out, [sz.sum()]]) if fit_intercept else out

    lam = top_eigenvalue(matvec, d + int(fit_intercept))
    return loss.curvature * lam + penalty.l2


def gram_lipschitz(loss, penalty, gram):
    """Lipschitz constant from a normalised augmented Gram matrix.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    gram : ndarray of shape (m, m)
        ``Z^T S Z / sum(S)``.

    Returns
    -------
    float
    """
    return loss.curvature * top_eigenvalue(lambda v: gram @ v, gram.shape[0]) + penalty.l2


def sample_lipschitz(loss, penalty, X, sample_weight, fit_intercept):
    """Largest per-sample Lipschitz constant, the bound behind SGD's automatic step.

    ``max_i curvature * (s_i / mean(s)) * (||x_i||^2 + fit_intercept) + alpha * (1 - rho)``:
    a step of ``1 / L`` cannot overshoot any single sample's loss.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
        Weights normalised to mean one.
    fit_intercept : bool

    Returns
    -------
    float
    """
    return loss.curvature * largest_row_scale(X, sample_weight, fit_intercept) + penalty.l2


def largest_row_scale(X, sample_weight, fit_intercept):
    """``max_i s_i * (||x_i||^2 + fit_intercept)``, the data's part of ``sample_lipschitz``.

    A maximum over rows, so it can be taken block by block.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    fit_intercept : bool

    Returns
    -------
    float
        0 when there are no rows.
    """
    if hasattr(X, "multiply"):
        sq_norms = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    else:
        sq_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    scaled = np.asarray(sample_weight, dtype=np.float64) * (sq_norms + float(fit_intercept))
    return float(np.max(scaled, initial=0.0))


def zero_model_loss(loss, Y, sample_weight, epsilon):
    """Weighted mean loss of the all-zero model, averaged over targets.

    The natural scale of the problem: divergence is judged against it.

    Parameters
    ----------
    loss : Loss
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,)
    epsilon : float

    Returns
    -------
    float
    """
    s = np.asarray(sample_weight, dtype=np.float64)
    return float(np.mean(zero_model_loss_sums(loss, Y, s, epsilon)) / s.sum())


def zero_model_loss_sums(loss, Y, sample_weight, epsilon):
    """Weighted sums of the all-zero model's loss, one per target.

    Sums over rows, so they can be taken block by block.

    Parameters
    ----------
    loss : Loss
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,)
    epsilon : float

    Returns
    -------
    ndarray of shape (n_targets,)
    """
    values = loss.value(-np.asarray(Y, dtype=np.float64), epsilon)
    return np.asarray(sample_weight, dtype=np.float64) @ values
