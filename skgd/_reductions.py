"""Sums over rows: what one pass over the data accumulates.

Every function here reads rows block by block (``row_blocks``) and returns
sums that add across blocks, so what a pass allocates is bounded by a block,
never by the number of rows. A dask fit calls the same functions once per
chunk and adds the results as a tree, so both fit the same model.
"""

from dataclasses import dataclass

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

#: Fewest blocks the sufficient statistics of host data are cut into, so
#: that float32 X's float64 block copy stays a small fraction of X.
MIN_BLOCKS = 64

#: Entries of X per row block of the sufficient statistics on the host: the
#: block's three reads after its rank-k update find it in the last-level
#: cache, and fewer blocks cost less in calls than the 1 MiB ones.
STATISTICS_ELEMENTS = 1 << 20

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


def _merge_weights(weight_a, weight_b):
    """How two weighted groups' means and scatters combine (Chan, Golub and LeVeque).

    Parameters
    ----------
    weight_a, weight_b : float or 0-d array
        The groups' weight sums.

    Returns
    -------
    share_b : float or 0-d array
        ``weight_b / (weight_a + weight_b)``: the second mean's share of the merged mean.
    cross : float or 0-d array
        ``weight_a * weight_b / (weight_a + weight_b)``: the weight of the two means'
        difference in the merged scatter.
    """
    total = weight_a + weight_b
    if not total > 0:
        return 0.0, 0.0
    return weight_b / total, weight_a * weight_b / total


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


@dataclass
class ColumnMoments:
    """Weighted means and centred sums of squares of X's columns.

    Parameters
    ----------
    weight_sum : float or 0-d array
        ``sum_i s_i``.
    mean : array of shape (n_features,)
        ``sum_i s_i x_i / sum_i s_i``.
    squares : array of shape (n_features,)
        ``sum_i s_i (x_ij - mean_j)**2``.
    """

    weight_sum: float
    mean: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, X, sample_weight):
        """Accumulate the moments of some rows in float64, block by block.

        Dense blocks are centred at their own mean before squaring, so a
        column far from zero keeps its spread to full precision; at most one
        centred float64 block (a small share of X) is held at a time.

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)
        sample_weight : array of shape (n_samples,)

        Returns
        -------
        ColumnMoments
        """
        xp, _, device = get_namespace_and_device(X, sample_weight)
        float64 = _max_precision_float_dtype(xp, device)
        d = X.shape[1]
        moments = cls(0.0, xp.zeros(d, dtype=float64, device=device), xp.zeros(d, dtype=float64, device=device))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by Conditioning.from_moments
            for rows in row_blocks(X, xp, min_blocks=MIN_BLOCKS, per_row=d):
                moments = moments + _block_moments(rows_of(X, rows), sample_weight[rows], float64, xp)
        return moments

    def __add__(self, other):
        share, cross = _merge_weights(self.weight_sum, other.weight_sum)
        delta = other.mean - self.mean
        return ColumnMoments(
            self.weight_sum + other.weight_sum,
            self.mean + share * delta,
            self.squares + other.squares + cross * delta * delta,
        )


def _block_moments(X, sample_weight, float64, xp):
    """``ColumnMoments`` of one block of rows (its float64 copies are freed on return)."""
    s = xp.astype(sample_weight, float64, copy=False)
    total = xp.sum(s)
    if sp.issparse(X):
        mean = np.asarray(X.T @ s).ravel() / total if total > 0 else np.zeros(X.shape[1])
        squares = np.asarray(X.multiply(X).T @ s).ravel() - total * mean * mean
        return ColumnMoments(total, mean, np.maximum(squares, 0.0))
    block = xp.astype(X, float64, copy=True)  # the one block-sized copy: centred and squared in place
    mean = (s @ block) / total if total > 0 else xp.zeros(X.shape[1], dtype=float64, device=getattr(s, "device", None))
    block -= mean
    block *= block
    return ColumnMoments(total, mean, s @ block)


@dataclass
class SufficientStatistics:
    """The weighted moments from which squared error and its gradient follow.

    With ``S = diag(sample_weight)``, ``W = sum(S)``, the weighted means
    ``mu`` of X and ``nu`` of Y and the centred ``Xc = X - mu``,
    ``Yc = Y - nu``, ``J`` and its gradient at any iterate cost O(d^2) per
    target from these, whatever the number of rows. Kept centred (merged
    block by block as Chan, Golub and LeVeque do), so columns far from zero
    lose nothing to cancellation.

    Parameters
    ----------
    weight_sum : float or 0-d array
        ``W``.
    mean_x : array of shape (n_features,)
        ``mu``.
    mean_y : array of shape (n_targets,)
        ``nu``.
    scatter_xx : array of shape (n_features, n_features)
        ``Xc^T S Xc``.
    scatter_xy : array of shape (n_features, n_targets)
        ``Xc^T S Yc``.
    scatter_yy : array of shape (n_targets,)
        ``sum_i s_i * Yc_ik**2`` for each target ``k``.

    All in the data's array namespace and on its device.
    """

    weight_sum: float
    mean_x: np.ndarray
    mean_y: np.ndarray
    scatter_xx: np.ndarray
    scatter_xy: np.ndarray
    scatter_yy: np.ndarray

    @classmethod
    def of(cls, X, Y, sample_weight):
        """Accumulate the statistics of some rows in float64, block by block.

        The products run in the data's array namespace and on its device (in
        float32 where the device has no float64). At most one centred float64
        copy of a block is held at a time.

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
        statistics = cls(
            *(xp.zeros(shape, dtype=float64, device=device) for shape in ((), (d,), (k,), (d, d), (d, k), (k,)))
        )
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by Conditioning.from_moments
            # Cache-sized blocks: a raw block's later reads find it in cache.
            for rows in row_blocks(X, xp, elements=STATISTICS_ELEMENTS, min_blocks=MIN_BLOCKS, per_row=d):
                statistics = statistics + _block_statistics(
                    rows_of(X, rows), Y[rows, :], sample_weight[rows], float64, xp
                )
        return statistics

    def __add__(self, other):
        share, cross = _merge_weights(self.weight_sum, other.weight_sum)
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        return SufficientStatistics(
            self.weight_sum + other.weight_sum,
            self.mean_x + share * dx,
            self.mean_y + share * dy,
            self.scatter_xx + other.scatter_xx + cross * (dx[:, None] * dx[None, :]),
            self.scatter_xy + other.scatter_xy + cross * (dx[:, None] * dy[None, :]),
            self.scatter_yy + other.scatter_yy + cross * dy * dy,
        )

    def moments(self):
        """The column moments these statistics hold.

        Returns
        -------
        ColumnMoments
        """
        xp, _ = get_namespace(self.scatter_xx)
        return ColumnMoments(
            self.weight_sum, self.mean_x, xp.reshape(self.scatter_xx, (-1,))[:: self.scatter_xx.shape[0] + 1]
        )


def _block_statistics(X, Y, sample_weight, float64, xp):
    """``SufficientStatistics`` of one block of rows, centred at the block's means.

    A function of its own, so the block's float64 copies are freed before the
    next block is read. A float64 dense block of unit weights is read in place
    (``_raw_block_statistics``) unless a column's mean would cancel its
    spread; any other block is copied to float64 and centred first.

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
    SufficientStatistics
    """
    s = xp.astype(sample_weight, float64, copy=False)
    total = xp.sum(s)
    if not total > 0:
        d, k = X.shape[1], Y.shape[1]
        zeros = (
            xp.zeros(shape, dtype=float64, device=getattr(s, "device", None))
            for shape in ((d,), (k,), (d, d), (d, k), (k,))
        )
        return SufficientStatistics(total, *zeros)
    y = xp.astype(Y, float64, copy=True)
    mean_y = (s @ y) / total
    y -= mean_y
    weighted_y = s[:, None] * y
    scatter_yy = xp.sum(weighted_y * y, axis=0)
    unit = bool(xp.all(s == 1.0))
    if unit and not sp.issparse(X) and X.dtype == float64 and float64 == getattr(xp, "float64", None):
        raw = _raw_block_statistics(X, weighted_y, total, xp)
        if raw is not None:
            return SufficientStatistics(total, raw[0], mean_y, raw[1], raw[2], scatter_yy)
    block = X.toarray() if hasattr(X, "toarray") else X
    block = xp.astype(block, float64, copy=True)
    mean_x = (s @ block) / total
    block -= mean_x
    # Xc^T S Xc as a symmetric rank-k update (scaled rows only when weighted).
    root = block if unit else block * xp.sqrt(s)[:, None]
    return SufficientStatistics(total, mean_x, mean_y, block_gram(root, xp), block.T @ weighted_y, scatter_yy)


#: Largest share of a column's raw second moment its squared mean may take
#: for the raw block product: the centred scatter then loses at most a factor
#: ``1 / (1 - MEAN_SHARE)`` (two bits) of relative precision to cancellation.
MEAN_SHARE = 0.75


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


def _raw_block_statistics(X, centred_y, total, xp):
    """The centred scatters of a float64 block of unit weights from raw products.

    ``Xc^T Xc = X^T X - W mu mu^T`` from one symmetric rank-k update of the
    block as it lies (no copy) and ``X^T [1, Yc]`` from products with vectors,
    so the block is read as often as ``X.T @ X`` reads it, plus once.

    Returns
    -------
    tuple of (mean_x, scatter_xx, scatter_xy), or None
        None when a column's mean takes more than ``MEAN_SHARE`` of its raw
        second moment (the caller then centres a copy first).
    """
    # Vector-by-block products: faster than one product of the rows [1, Yc]^T,
    # whose two-row shape BLAS runs slowly.
    mean_x = (xp.ones_like(centred_y[:, 0]) @ X) / total  # on centred_y's device (NumPy < 2: no .device)
    cross = xp.stack([centred_y[:, k] @ X for k in range(centred_y.shape[1])], axis=1)
    # The raw second moments (X^T X's diagonal) decide before the product is
    # formed (a block far from zero is centred instead, at no wasted product);
    # on the host without a temporary block of squares.
    squares = np.einsum("ij,ij->j", X, X) if _is_numpy_namespace(xp) else xp.sum(X * X, axis=0)
    if not bool(xp.all(total * mean_x * mean_x <= MEAN_SHARE * squares)):
        return None
    gram = block_gram(X, xp)
    scatter_xx = gram - total * (mean_x[:, None] * mean_x[None, :])
    # Yc sums to zero up to rounding, so X^T Yc is already centred in X.
    scatter_xy = cross - mean_x[:, None] * xp.sum(centred_y, axis=0)[None, :]
    return mean_x, scatter_xx, scatter_xy


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
