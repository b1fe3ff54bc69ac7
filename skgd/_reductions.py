"""Sums over rows: what one pass over the data accumulates.

Every function here reads rows block by block (``row_blocks``) and returns
sums that add across blocks, so what a pass allocates is bounded by a block,
never by the number of rows. A dask fit calls the same functions once per
chunk and adds the results as a tree, so both fit the same model.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._array_api import (
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    widest_float,
)

#: Entries of X per row block of a pass over host data: a block is read from
#: memory once and stays in a 1 MiB cache for the product that reads it again.
CACHE_ELEMENTS = 1 << 17

#: Entries of float64 X per row block of the sufficient statistics: dense
#: blocks are views, so they can be large (float32 X, converted to float64
#: block by block, uses ``CACHE_ELEMENTS``; sparse blocks are densified).
BLOCK_ELEMENTS = 1 << 19

#: Entries per row block on an accelerator, where kernel launches, not the
#: cache, set the cost of a block.
DEVICE_ELEMENTS = 1 << 24

#: Fewest blocks the sufficient statistics of host data are cut into, so
#: that float32 X's float64 block copy stays a small fraction of X.
MIN_BLOCKS = 64

#: Rows per block of a pass over the targets alone, which forms a few vectors
#: of this length per target.
TARGET_BLOCK_ROWS = 4096

#: Fewest rows in a block (fewer costs more in calls than it saves in memory).
MIN_BLOCK_ROWS = 256


def row_blocks(X, xp, elements=CACHE_ELEMENTS, min_blocks=1, per_row=None):
    """Slices of consecutive rows that cover ``X``, each of bounded size.

    A block holds about ``elements`` stored entries (X's columns, or a CSR
    matrix's mean non-zeros per row) and at most ``1 / min_blocks`` of the
    rows on the host, ``DEVICE_ELEMENTS`` entries on an accelerator, and at
    least ``MIN_BLOCK_ROWS`` rows. What a pass allocates per block is thus
    bounded whatever the number of rows.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_samples, n_columns)
    xp : array namespace
        ``X``'s.
    elements : int, default=CACHE_ELEMENTS
        Entries per block on the host.
    min_blocks : int, default=1
        Fewest blocks on the host.
    per_row : int, default=None
        Entries a row takes in the pass; None counts X's stored entries (a
        pass that densifies sparse blocks gives X's columns).

    Returns
    -------
    list of slice
        Empty when ``X`` has no rows.
    """
    n = X.shape[0]
    if per_row is None:
        per_row = X.nnz // max(n, 1) if sp.issparse(X) else X.shape[1]
    per_row = max(1, per_row)
    if _is_numpy_namespace(xp):
        rows = min(elements // per_row, -(-n // min_blocks))
    else:
        rows = DEVICE_ELEMENTS // per_row
    rows = max(MIN_BLOCK_ROWS, rows)
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]


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
        """Accumulate the statistics of some rows in float64, block by block.

        The products run in the data's array namespace and on its device (in
        float32 where the device has no float64). At most one block of X is
        held in float64 at a time (none for dense float64 X, whose blocks are
        views).

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
        d, k = X.shape[1], Y.shape[1]
        sums = [xp.zeros(shape, dtype=float64, device=device) for shape in ((d, d), (d, k), (d,), (k,), (k,), ())]
        elements = BLOCK_ELEMENTS if X.dtype == float64 else CACHE_ELEMENTS
        for rows in row_blocks(X, xp, elements, min_blocks=MIN_BLOCKS, per_row=d):
            for i, part in enumerate(_block_sums(X[rows, :], Y[rows, :], sample_weight[rows], float64, xp)):
                sums[i] += part
        return cls(*sums)

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


def _block_sums(X, Y, sample_weight, float64, xp):
    """The six sums of ``SufficientStatistics`` over one block of rows.

    A function of its own, so the block's float64 copies are freed before the
    next block is read.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_rows, n_features)
    Y : array of shape (n_rows, n_targets)
    sample_weight : array of shape (n_rows,)
    float64 : dtype
        The precision the sums are taken in.
    xp : array namespace

    Returns
    -------
    tuple of arrays
        In the order of ``SufficientStatistics``' fields.
    """
    block = X.toarray() if hasattr(X, "toarray") else X
    block = xp.astype(block, float64, copy=False)
    s = xp.astype(sample_weight, float64, copy=False)
    # X^T S X as a symmetric rank-k update (scaled rows only when weighted).
    root = block if bool(xp.all(s == 1.0)) else block * xp.sqrt(s)[:, None]
    # X^T S y and the column sums in one product, while the block is in cache.
    y = xp.astype(Y, float64, copy=False)
    both = block.T @ xp.concat([s[:, None] * y, s[:, None]], axis=1)
    k = y.shape[1]
    return root.T @ root, both[:, :k], both[:, k], s @ y, s @ (y * y), xp.sum(s)


def loss_gradient_sums(loss, epsilon, X, Y, sample_weight, coef, intercept, xp=None):
    """Weighted sums of the loss and of its gradient over some rows, in one read of X.

    One fused pass: for each row block the residuals, their loss and its
    derivative are formed and the block's gradient taken while the block is
    still in cache, so nothing of the size of the data is allocated (a CSR
    block is a bounded copy of its rows).
    Residuals are formed in X's dtype, in X's array namespace and on its
    device; the sums are accumulated in float64 (the device's highest float
    precision).

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
    device = None if _is_numpy_namespace(xp) else Y.device
    k, d = coef.shape
    coef_t = xp.astype(coef, X.dtype, copy=False).T
    intercept = xp.astype(intercept, X.dtype, copy=False)
    loss_sums = xp.zeros(k, dtype=float64, device=device)
    grad_coef = xp.zeros((d, k), dtype=float64, device=device)
    grad_intercept = xp.zeros(k, dtype=float64, device=device)
    for rows in row_blocks(X, xp):
        block, s = X[rows, :], sample_weight[rows]
        residual = block @ coef_t
        residual += intercept
        residual -= Y[rows, :]
        values, weighted = loss.value_and_derivative(residual, epsilon, xp=xp)
        loss_sums += xp.astype(s, float64, copy=False) @ xp.astype(values, float64, copy=False)
        weighted *= s[:, None]
        grad_coef += xp.astype(block.T @ weighted, float64, copy=False)
        grad_intercept += xp.sum(weighted, axis=0, dtype=float64)
    return loss_sums, grad_coef.T, grad_intercept
