"""Sums over rows: what one pass over the data accumulates.

Every function here reads one block of rows and returns sums that add across
blocks. An in-memory fit reads the whole array as one block (or, for the
sufficient statistics, in row blocks of a bounded size); a dask fit reads one
block per chunk and adds the results as a tree. Both run this one
implementation, so they fit the same model.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import _max_precision_float_dtype, get_namespace, get_namespace_and_device, widest_float

#: Entries of X per row block when the sufficient statistics are accumulated,
#: which bounds the float64 working copy.
BLOCK_ELEMENTS = 1 << 19


@dataclass
class SufficientStatistics:
    """The weighted sums from which squared error and its gradient follow.

    With ``S = diag(sample_weight)``, ``J`` and its gradient at any iterate cost
    O(d^2) per target from these, whatever the number of rows.

    Parameters
    ----------
    gram : array of shape (n_features, n_features)
        ``X^T S X``.
    cross : array of shape (n_features, n_targets)
        ``X^T S Y``.
    column_sums : array of shape (n_features,)
        ``1^T S X``.
    target_sums : array of shape (n_targets,)
        ``1^T S Y``.
    target_squares : array of shape (n_targets,)
        ``sum_i s_i * y_ik**2`` for each target ``k``.
    weight_sum : float or 0-d array
        ``sum_i s_i``.

    All in the data's array namespace and on its device.
    """

    gram: np.ndarray
    cross: np.ndarray
    column_sums: np.ndarray
    target_sums: np.ndarray
    target_squares: np.ndarray
    weight_sum: float

    @classmethod
    def of(cls, X, Y, sample_weight):
        """Accumulate the statistics of some rows in float64, in row blocks.

        The products run in the data's array namespace and on its device (in
        float32 where the device has no float64).

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)
        Y : array of shape (n_samples, n_targets)
        sample_weight : array of shape (n_samples,)

        Returns
        -------
        SufficientStatistics
        """
        xp, _, device = get_namespace_and_device(X, Y, sample_weight)
        float64 = _max_precision_float_dtype(xp, device)
        s = xp.astype(sample_weight, float64, copy=False)
        n, d = X.shape
        gram = xp.zeros((d, d), dtype=float64, device=device)
        cross = xp.zeros((d, Y.shape[1]), dtype=float64, device=device)
        column_sums = xp.zeros(d, dtype=float64, device=device)
        k = Y.shape[1]
        unit_weights = bool(xp.all(s == 1.0))
        rows = max(1, BLOCK_ELEMENTS // max(d, 1))
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            block = X[start:stop, :]
            block = block.toarray() if hasattr(block, "toarray") else block
            block = xp.astype(block, float64, copy=False)
            sb = s[start:stop]
            # X^T S X as a symmetric rank-k update (scaled rows only when weighted).
            root = block if unit_weights else block * xp.sqrt(sb)[:, None]
            gram += root.T @ root
            # X^T S y and the column sums in one product, while the block is in cache.
            yb = xp.astype(Y[start:stop, :], float64, copy=False)
            both = block.T @ xp.concat([sb[:, None] * yb, sb[:, None]], axis=1)
            cross += both[:, :k]
            column_sums += both[:, k]
        Y64 = xp.astype(Y, float64, copy=False)
        return cls(gram, cross, column_sums, s @ Y64, s @ (Y64 * Y64), xp.sum(s))

    def __add__(self, other):
        return SufficientStatistics(
            self.gram + other.gram,
            self.cross + other.cross,
            self.column_sums + other.column_sums,
            self.target_sums + other.target_sums,
            self.target_squares + other.target_squares,
            self.weight_sum + other.weight_sum,
        )

    def augmented_gram(self, fit_intercept):
        """``Z^T S Z / sum(S)`` with ``Z = [X, 1]`` (``X`` without intercept).

        Its largest eigenvalue bounds the curvature of the data term.

        Parameters
        ----------
        fit_intercept : bool

        Returns
        -------
        array of shape (n_features + fit_intercept, n_features + fit_intercept)
        """
        gram = self.gram / self.weight_sum
        if not fit_intercept:
            return gram
        xp, _, device = get_namespace_and_device(gram)
        column = self.column_sums / self.weight_sum
        corner = xp.ones(1, dtype=gram.dtype, device=device)
        top = xp.concat([gram, column[:, None]], axis=1)
        return xp.concat([top, xp.concat([column, corner], axis=0)[None, :]], axis=0)


def loss_gradient_sums(loss, epsilon, X, Y, sample_weight, coef, intercept, xp=None):
    """Weighted sums of the loss and of its gradient over some rows.

    Residuals are formed in X's dtype, in X's array namespace and on its
    device; the gradient sums are returned in float64 (the device's highest
    float precision).

    Parameters
    ----------
    loss : Loss
    epsilon : float
    X : array or sparse matrix of shape (n_samples, n_features)
    Y : array of shape (n_samples, n_targets)
    sample_weight : array of shape (n_samples,)
    coef : array of shape (n_targets, n_features)
    intercept : array of shape (n_targets,)
    xp : namespace, default=None
        The namespace of the arrays (found from them when None).

    Returns
    -------
    loss_sums : array of shape (n_targets,)
        ``sum_i s_i * l(r_ik)``.
    grad_coef : array of shape (n_targets, n_features)
        ``sum_i s_i * l'(r_ik) * x_i``.
    grad_intercept : array of shape (n_targets,)
        ``sum_i s_i * l'(r_ik)``.
    """
    xp, _ = get_namespace(X, Y, sample_weight, xp=xp)
    float64 = widest_float(xp, Y)
    s = sample_weight
    residual = X @ xp.astype(coef, X.dtype, copy=False).T
    residual += xp.astype(intercept, X.dtype, copy=False)
    residual -= Y
    loss_sums = s @ loss.value(residual, epsilon, xp=xp)
    weighted = loss.derivative(residual, epsilon, xp=xp)
    weighted *= s[:, None]
    grad_coef = xp.astype(X.T @ weighted, float64, copy=False).T
    grad_intercept = xp.sum(weighted, axis=0, dtype=float64)
    return loss_sums, grad_coef, grad_intercept
