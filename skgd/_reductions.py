"""Sums over rows: what one pass over the data accumulates.

Every function here reads rows block by block (``row_blocks``) and returns
sums that add across blocks, so what a pass allocates is bounded by a block,
never by the number of rows. A dask fit calls the same functions once per
chunk and adds the results as a tree, so both fit the same model.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from ._array_api import (
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    move_to,
    widest_float,
)

#: Entries of X per row block of a pass over host data: a block is read from
#: memory once and stays in a 1 MiB cache for the product that reads it again.
CACHE_ELEMENTS = 1 << 17

#: Entries per row block on an accelerator, where kernel launches, not the
#: cache, set the cost of a block.
DEVICE_ELEMENTS = 1 << 24

#: Fewest blocks column moments and the sufficient statistics of host data
#: are cut into (``skgd._moments``), so that float32 X's float64 block copy
#: stays a small fraction of X.
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


def rows_of(X, rows):
    """The block ``X[rows, :]`` of consecutive rows, without copying.

    A dense block is a view; a CSR block shares X's data and indices (scipy's
    slicing would copy them, which costs a pass more than the pass itself, and
    so would its constructor, which copies an array that is a small view of a
    larger one: the arrays are set on the block after it is made).

    Parameters
    ----------
    X : array or CSR matrix
    rows : slice
        Consecutive rows, step 1.

    Returns
    -------
    array or CSR matrix
    """
    if not sp.issparse(X):
        return X[rows, :]
    start, stop, _ = rows.indices(X.shape[0])
    first, last = X.indptr[start], X.indptr[stop]
    block = sp.csr_matrix((stop - start, X.shape[1]), dtype=X.dtype)
    block.data, block.indices, block.indptr = (
        X.data[first:last],
        X.indices[first:last],
        X.indptr[start : stop + 1] - first,
    )
    return block


def block_gram(X, xp, into=None):
    """``X^T X`` of a float64 block: BLAS's symmetric rank-k update on the host, which forms one triangle.

    NumPy's ``X.T @ X`` of a row block runs at about half that update's speed.
    A block of another namespace or dtype (a device's float32) takes its own product.
    With ``into`` (a host float64 accumulator of shape (d, d), F-ordered) the
    update adds the block's upper triangle to it in place and returns it: a
    sum over many blocks is made whole once, by ``symmetrised``, not per block.
    """
    if not _is_numpy_namespace(xp) or X.dtype != np.float64:
        return X.T @ X if into is None else into + X.T @ X
    if into is not None:
        return blas.dsyrk(1.0, X.T, beta=1.0, c=into, overwrite_c=True)
    upper = blas.dsyrk(1.0, X.T)  # X.T is (d, n) and F-ordered: the update A A^T of it, no copy
    return symmetrised(upper)


def symmetrised(upper):
    """The symmetric matrix whose upper triangle is ``upper``'s."""
    return np.triu(upper) + np.triu(upper, 1).T


def loss_gradient_sums(loss, X, Y, sample_weight, coef, intercept, xp=None, gradient=True, predictors=None, parts=None):
    """Weighted sums of the loss and of its gradient over some rows, in one read of X.

    One fused pass: for each row block the linear predictors, their loss and its
    derivative are formed and the block's gradient taken while the block is
    still in cache, so nothing of the size of the data is allocated (a CSR
    block is a view sharing X's arrays, ``rows_of``).
    Predictors are formed in X's dtype, in X's array namespace and on its
    device; the sums are accumulated in float64 (the device's highest float
    precision).

    Parameters
    ----------
    loss : Loss
    X : array or sparse matrix of shape (n_samples, n_features)
    Y : array of shape (n_samples, n_targets)
    sample_weight : array of shape (n_samples,)
    coef : array of shape (n_targets, n_features)
    intercept : array of shape (n_targets,)
    xp : namespace, default=None
        The namespace of the arrays (found from them when None).
    gradient : bool, default=True
        Whether to form the gradient sums (False: the loss alone, a cheaper pass).
    predictors : array of shape (n_samples, n_targets), default=None
        Where the pass writes each row's linear predictors, as it forms them
        (a line search then moves along them without reading X); None keeps none.
    parts : array of shape (n_samples, n_targets), default=None
        ``loss.target_part(Y)``, formed once for many passes; None forms each block's in the pass.

    Returns
    -------
    loss_sums : array of shape (n_targets,)
        ``sum_i s_i * l(p_ik, y_ik)``.
    grad_coef : array of shape (n_targets, n_features) or None
        ``sum_i s_i * dl/dp(p_ik, y_ik) * x_i``.
    grad_intercept : array of shape (n_targets,) or None
        ``sum_i s_i * dl/dp(p_ik, y_ik)``.
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
    # The all-zero coefficients a fit starts from predict the intercept alone:
    # then a pass without the gradient does not read X.
    reads_x = gradient or bool(xp.any(coef != 0.0))
    for rows in row_blocks(X, xp):
        s = sample_weight[rows]
        if reads_x:
            block = rows_of(X, rows)
            predictor = block @ coef_t
            predictor += intercept
        else:
            predictor = xp.zeros((s.shape[0], k), dtype=X.dtype, device=device) + intercept
        if predictors is not None:
            predictors[rows, :] = predictor
        values, weighted = loss.value_and_derivative(
            predictor, Y[rows, :], xp=xp, part=None if parts is None else parts[rows, :]
        )
        # Summed elementwise, not by a BLAS dot product: its order of addition
        # depends on the kernel the BLAS picks for the CPU, this one does not
        # (three rows add left to right, as the note adds its costs).
        weighted_values = xp.astype(s, float64, copy=False)[:, None] * xp.astype(values, float64, copy=False)
        loss_sums += xp.sum(weighted_values, axis=0)
        if gradient:
            weighted *= s[:, None]
            grad_coef += xp.astype(block.T @ weighted, float64, copy=False)
            grad_intercept += xp.sum(weighted, axis=0, dtype=float64)
    if not gradient:
        return loss_sums, None, None
    return loss_sums, grad_coef.T, grad_intercept


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
        a small share of X, at a time). For sparse X its shift must be zero
        (the sgd loop's sparse rows are scaled, not centred).

    Returns
    -------
    float
        0 when there are no rows.
    """
    xp, _, device = get_namespace_and_device(X, sample_weight)
    float64 = _max_precision_float_dtype(xp, device)
    largest = 0.0
    for rows in row_blocks(X, xp, min_blocks=MIN_BLOCKS, per_row=X.shape[1]):
        block = rows_of(X, rows)
        if conditioning is not None and not sp.issparse(block):  # one float64 copy of the block, conditioned in place
            block = xp.astype(block, float64, copy=True)
            block -= conditioning.shift
            block *= conditioning.scale
        if sp.issparse(block):  # not hasattr(X, "multiply"): torch tensors have that method too
            # Sparse rows are conditioned uncentred: each square weighs by its column's scale squared.
            squares = np.ones(X.shape[1]) if conditioning is None else np.asarray(conditioning.scale) ** 2
            sq_norms = np.asarray(block.multiply(block) @ squares, dtype=np.float64).ravel()
        elif _is_numpy_namespace(xp):
            sq_norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
        else:
            sq_norms = xp.sum(xp.astype(block * block, float64), axis=1)
        scaled = xp.astype(sample_weight[rows], float64, copy=False) * (sq_norms + float(fit_intercept))
        largest = max(largest, float(xp.max(scaled)))
    return largest


def target_summary(Y, sample_weight):
    """The smallest target, each target's weighted mean and largest value: what a log-link loss checks and starts from.

    Parameters
    ----------
    Y : array of shape (n_samples, n_targets)
        Of any array API namespace (dask arrays: ``skgd._dask.target_summary``).
    sample_weight : array of shape (n_samples,)
        In Y's namespace.

    Returns
    -------
    minimum : float
    means : ndarray of shape (n_targets,)
        Float64, on the host.
    maxima : ndarray of shape (n_targets,)
        Float64, on the host.
    """
    xp, _ = get_namespace(Y, sample_weight)
    float64 = widest_float(xp, Y)
    wide = xp.astype(Y, float64)
    s = xp.astype(sample_weight, float64)
    means = xp.sum(s[:, None] * wide, axis=0) / xp.sum(s)
    means, maxima = (np.asarray(a, dtype=np.float64) for a in move_to(means, xp.max(wide, axis=0), xp=np, device="cpu"))
    return float(xp.min(wide)), means, maxima
