"""Losses, penalties, proximal step and step-size bounds: small pure functions.

The objective is the note's, generalised (the README's "The objective")::

    J(w, b) = sum_i s_i * l(x_i . w + b - y_i) / sum_i s_i  +  R(w)

with ``l(r) = r**2`` for squared error (no factor 1/2) and
``R(w) = alpha * (rho * ||w||_1 + (1 - rho) / 2 * ||w||_2**2)``.
A solver asks a loss for ``value_and_derivative`` and a penalty for
``value``, ``l2``/``l1`` strengths and ``prox``. Names are read in a few
places: each loss's own ``value_and_derivative``, and the choice of the batch
solver's sufficient-statistics path for squared error.
"""

from dataclasses import dataclass

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
from ._reductions import MIN_BLOCKS, loss_gradient_sums, row_blocks


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
    smooth : bool
        Whether ``l'`` is continuous, so full-batch steps of ``1 / L`` decrease J
        and may be accelerated.
    """

    name: str
    code: int
    sgd_factor: float
    curvature: float
    smooth: bool

    def value_and_derivative(self, r, epsilon, xp=None):
        """Elementwise loss ``l(r)`` and derivative ``l'(r)`` of residuals ``r``.

        Both come from one clipped residual ``c = clip(r, -epsilon, epsilon)``
        (few array operations, as a fused pass wants them): huber is
        ``c * (2r - c)`` with derivative ``2c``, and with ``z = r - c`` (zero
        inside the tube) the epsilon-insensitive losses are ``|z|`` and ``z**2``
        with derivatives ``sign(z)`` and ``2z``. At a kink (``|r| = epsilon``)
        the subgradient taken is that of the inner side, as the compiled loop
        takes it.

        Parameters
        ----------
        r : array
            Residuals, of any array API namespace.
        epsilon : float
            Width of the huber and epsilon-insensitive losses.
        xp : namespace, default=None
            The namespace of ``r`` (found from ``r`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``r``.
        """
        if self.name == "squared_error":
            return r * r, 2.0 * r
        xp, _ = get_namespace(r, xp=xp)
        clipped = _clip(r, epsilon, xp)
        if self.name == "huber":
            return clipped * (2.0 * r - clipped), 2.0 * clipped
        excess = r - clipped
        if self.name == "epsilon_insensitive":
            return xp.abs(excess), xp.sign(excess)
        return excess * excess, 2.0 * excess


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
    if _is_numpy_namespace(xp):
        return np.clip(x, -bound, bound)  # a NumPy ufunc: many times faster than the namespace's clip
    return xp.clip(x, min=-bound, max=bound)


#: The one registry of losses; a loss's position is its compiled code.
LOSSES = {
    loss.name: loss
    for loss in (
        Loss("squared_error", 0, 2.0, 2.0, True),
        Loss("huber", 1, 2.0, 2.0, True),
        Loss("epsilon_insensitive", 2, 1.0, 2.0, False),
        Loss("squared_epsilon_insensitive", 3, 1.0, 2.0, True),
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
    vectors of the eigensolver travel to the host.

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
            LOSSES["squared_error"], 0.0, X, zero_targets, sample_weight, xp.reshape(v[:d], (1, d)), intercept, xp=xp
        )
        out = xp.concat([grad_coef[0, :], grad_intercept]) if fit_intercept else grad_coef[0, :]
        product = np.asarray(move_to(out / (2.0 * total), xp=np, device="cpu"), dtype=np.float64)
        product = loss.curvature * conditioning.to_conditioned(product, fit_intercept)
        product[:d] += penalty_diagonal * u[:d]
        return product

    return top_eigenvalue(matvec, d + int(fit_intercept))


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


def largest_row_scale(X, sample_weight, fit_intercept, conditioning=None):
    """``max_i s_i * (||z_i||^2 + fit_intercept)``, the data's part of ``sample_lipschitz``.

    ``z_i`` is the row ``x_i``, or ``(x_i - shift) * scale`` with a conditioning.

    A maximum over rows, so it can be taken block by block.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_samples, n_features)
    sample_weight : array of shape (n_samples,)
    fit_intercept : bool
    conditioning : Conditioning, default=None
        For dense X: measure the conditioned rows (one centred float64 block,
        a small share of X, at a time).

    Returns
    -------
    float
        0 when there are no rows.
    """
    xp, _, device = get_namespace_and_device(X, sample_weight)
    float64 = _max_precision_float_dtype(xp, device)
    largest = 0.0
    for rows in row_blocks(X, xp, min_blocks=MIN_BLOCKS, per_row=X.shape[1]):
        block = X[rows, :]
        if conditioning is not None:  # one float64 copy of the block, conditioned in place
            block = xp.astype(block, float64, copy=True)
            block -= conditioning.shift
            block *= conditioning.scale
        if sp.issparse(block):  # not hasattr(X, "multiply"): torch tensors have that method too
            sq_norms = np.asarray(block.multiply(block).sum(axis=1), dtype=np.float64).ravel()
        elif _is_numpy_namespace(xp):
            sq_norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
        else:
            sq_norms = xp.sum(xp.astype(block * block, float64), axis=1)
        scaled = xp.astype(sample_weight[rows], float64, copy=False) * (sq_norms + float(fit_intercept))
        largest = max(largest, float(xp.max(scaled)))
    return largest
