"""Sums over rows: what one pass over the data accumulates.

Every function here reads one block of rows and returns sums that add across
blocks. An in-memory fit reads the whole array as one block (or, for the
sufficient statistics, in row blocks of a bounded size); a dask fit reads one
block per chunk and adds the results as a tree. Both run this one
implementation, so they fit the same model.
"""

from dataclasses import dataclass

import numpy as np

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
    gram : ndarray of shape (n_features, n_features)
        ``X^T S X``.
    cross : ndarray of shape (n_features, n_targets)
        ``X^T S Y``.
    column_sums : ndarray of shape (n_features,)
        ``1^T S X``.
    target_sums : ndarray of shape (n_targets,)
        ``1^T S Y``.
    target_squares : ndarray of shape (n_targets,)
        ``sum_i s_i * y_ik**2`` for each target ``k``.
    weight_sum : float
        ``sum_i s_i``.
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

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_targets)
        sample_weight : ndarray of shape (n_samples,)

        Returns
        -------
        SufficientStatistics
        """
        s = np.asarray(sample_weight, dtype=np.float64)
        n, d = X.shape
        gram = np.zeros((d, d))
        cross = np.zeros((d, Y.shape[1]))
        column_sums = np.zeros(d)
        rows = max(1, BLOCK_ELEMENTS // max(d, 1))
        for start in range(0, n, rows):
            block = X[start : start + rows]
            block = block.toarray() if hasattr(block, "toarray") else block
            block = block.astype(np.float64, copy=False)
            sb = s[start : start + rows]
            root = block * np.sqrt(sb)[:, None]
            gram += root.T @ root
            yb = Y[start : start + rows].astype(np.float64, copy=False)
            cross += block.T @ (sb[:, None] * yb)
            column_sums += sb @ block
        Y64 = Y.astype(np.float64, copy=False)
        return cls(gram, cross, column_sums, s @ Y64, s @ (Y64 * Y64), s.sum())

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
        ndarray of shape (n_features + fit_intercept, n_features + fit_intercept)
        """
        gram = self.gram / self.weight_sum
        if not fit_intercept:
            return gram
        d = gram.shape[0]
        augmented = np.empty((d + 1, d + 1))
        augmented[:d, :d] = gram
        augmented[:d, d] = augmented[d, :d] = self.column_sums / self.weight_sum
        augmented[d, d] = 1.0
        return augmented


def loss_gradient_sums(loss, epsilon, X, Y, sample_weight, coef, intercept):
    """Weighted sums of the loss and of its gradient over some rows.

    Residuals are formed in X's dtype; the gradient sums are returned in float64.

    Parameters
    ----------
    loss : Loss
    epsilon : float
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)

    Returns
    -------
    loss_sums : ndarray of shape (n_targets,)
        ``sum_i s_i * l(r_ik)``.
    grad_coef : ndarray of shape (n_targets, n_features)
        ``sum_i s_i * l'(r_ik) * x_i``.
    grad_intercept : ndarray of shape (n_targets,)
        ``sum_i s_i * l'(r_ik)``.
    """
    s = sample_weight
    residual = np.asarray(X @ coef.T.astype(X.dtype, copy=False))
    residual += intercept.astype(X.dtype, copy=False)
    residual -= Y
    loss_sums = s @ loss.value(residual, epsilon)
    weighted = loss.derivative(residual, epsilon)
    weighted *= s[:, None]
    grad_coef = np.asarray(X.T @ weighted, dtype=np.float64).T
    grad_intercept = weighted.sum(axis=0, dtype=np.float64)
    return loss_sums, grad_coef, grad_intercept
