"""Step-size bounds: the Lipschitz constants of J's smooth part, full batch and per sample."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from ._array_api import (
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    move_to,
)
from ._loss import SquaredError
from ._moments import SufficientStatistics
from ._reductions import largest_row_scale, loss_gradient_sums

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
    with ``Z = [X, 1]`` (or ``X`` without intercept), ``T`` the map from the
    conditioned coordinates to the user's (``skgd._conditioning``) and ``l2``
    as the largest target step takes it (``penalty_curvature``), so ``1 / L``
    cannot diverge there.

    The products with X run in X's namespace and on its device; only the
    vectors of the eigensolver travel to the host. Where the operator has at
    most ``DENSE_EIGEN_SIZE`` dimensions and X is dense float64 (read in
    place; float32 or sparse blocks would be copied to dense float64), it is formed from
    one pass of the sufficient statistics (``gram_lipschitz``), not from the
    twenty-odd passes of the eigensolver's products. Sparse X with fewer rows
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
    scale = np.asarray(move_to(conditioning.scale, xp=np, device="cpu"), dtype=np.float64)
    penalty_diagonal = penalty_curvature(loss, penalty) * scale**2

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
    if size <= DENSE_EIGEN_SIZE and X.dtype == float64 and not sp.issparse(X):
        statistics = SufficientStatistics.of(X, zero_targets, sample_weight)
        return gram_lipschitz(loss, penalty, statistics, fit_intercept, conditioning)
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
    hessian = conditioning.hessian(statistics, loss.curvature, penalty_curvature(loss, penalty), fit_intercept)
    hessian = np.asarray(move_to(hessian, xp=np, device="cpu"), dtype=np.float64)
    if hessian.shape[0] <= DENSE_EIGEN_SIZE:
        return float(np.linalg.eigvalsh(0.5 * (hessian + hessian.T))[-1])
    return top_eigenvalue(lambda v: hessian @ v, hessian.shape[0])


def sample_lipschitz(loss, penalty, X, sample_weight, fit_intercept, conditioning=None):
    """Largest per-sample Lipschitz constant, the bound behind SGD's automatic step.

    A weight ``s_i`` multiplies its sample's whole step, the penalty's share
    included, so in the coordinates of rows ``z_i`` the bound is
    ``max_i s_i * (curvature * (||z_i||^2 + fit_intercept) + l2 * max_j scale_j**2)``
    (``l2`` as the largest target step takes it: ``penalty_curvature``): a
    step of ``1 / L`` cannot overshoot any single sample's objective.

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
    return loss.curvature * row_scale + penalty_curvature(loss, penalty) * penalty_scale * largest_weight


def penalty_curvature(loss, penalty):
    """The L2 penalty's curvature as the largest target step takes it: ``l2`` times the largest ``relative_steps``.

    A target of relative step ``r_k`` (data curvature ``curvature / r_k``)
    steps ``r_k`` times the shared step on its penalty as on its data, so a
    shared step of ``1 / L`` is safe for every target when ``L`` holds the
    penalty at ``max_k r_k * l2``.

    Parameters
    ----------
    loss : Loss
    penalty : Penalty

    Returns
    -------
    float
    """
    relative = loss.relative_steps
    if relative is None or penalty.l2 == 0.0:
        return penalty.l2
    largest = max(relative) if isinstance(relative, tuple) else float(get_namespace(relative)[0].max(relative))
    return penalty.l2 * max(largest, 1.0)
