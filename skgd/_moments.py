"""Column moments and squared error's sufficient statistics: weighted means and centred scatters, block by block.

Both add across blocks (Chan, Golub and LeVeque's update), so a dask fit
merges its chunks' as a tree and fits the model the whole array gives.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._array_api import _is_numpy_namespace, _max_precision_float_dtype, get_namespace, get_namespace_and_device
from ._reductions import MIN_BLOCKS, block_gram, row_blocks, rows_of, symmetrised

#: Entries of X per row block of the sufficient statistics on the host: the
#: block's reads after the first (its column sums) find it in the last-level
#: cache, and fewer blocks cost less in calls than the 1 MiB ones.
STATISTICS_ELEMENTS = 1 << 20

#: Largest share of a column's raw second moment its squared mean may take
#: for sums of raw products: the centred scatter then loses at most a factor
#: ``1 / (1 - MEAN_SHARE)`` (two bits) of relative precision to cancellation.
MEAN_SHARE = 0.75

#: The same bound for column moments alone, which choose coordinates (a
#: column's shift and scale), not J's value: a spread to 1e-10 of itself
#: (20 bits lost) chooses as well as an exact one. A constant column, whose
#: spread is nothing but rounding, is centred, as its spread must be zero.
MOMENTS_SHARE = 1.0 - 2.0**-20


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

        Float64 host blocks of unit weights are summed as they lie
        (``_raw_moments``) until one has a column too far from zero
        (``MOMENTS_SHARE``); from there on, as for any other data, each
        block is centred at its own mean before squaring, so a column far
        from zero keeps its spread to full precision, and at most one
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
        in_place = _read_in_place(X, sample_weight, xp)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by Conditioning.from_moments
            for rows in row_blocks(X, xp, min_blocks=MIN_BLOCKS, per_row=d):
                block = rows_of(X, rows)
                part = _raw_moments(block) if in_place else None
                in_place = part is not None  # once a block is refused, the rest are centred without a try
                moments = moments + (part if in_place else _block_moments(block, sample_weight[rows], float64, xp))
        return moments

    def __add__(self, other):
        share, cross = _merge_weights(self.weight_sum, other.weight_sum)
        delta = other.mean - self.mean
        return ColumnMoments(
            self.weight_sum + other.weight_sum,
            self.mean + share * delta,
            self.squares + other.squares + cross * delta * delta,
        )


def _read_in_place(X, sample_weight, xp):
    """Whether blocks of ``X`` may be summed as they lie: dense float64 host rows of unit weights."""
    dense = _is_numpy_namespace(xp) and not sp.issparse(X) and X.dtype == np.float64
    return dense and bool(np.all(sample_weight == 1.0))


def _raw_moments(X):
    """``ColumnMoments`` of a float64 block of unit weights from its raw sums (None past ``MOMENTS_SHARE``)."""
    n = X.shape[0]
    mean, raw = (np.ones(n) @ X) / n, np.einsum("ij,ij->j", X, X)
    if not np.all((n * mean * mean <= MOMENTS_SHARE * raw) & (raw < np.inf)):
        return None
    return ColumnMoments(np.float64(n), mean, raw - n * mean * mean)


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
    block by block as Chan, Golub and LeVeque do, or from raw sums while no
    column's mean cancels more than two bits of its spread), so columns far
    from zero lose nothing to cancellation.

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
        float32 where the device has no float64). Float64 host blocks of unit
        weights are read in place (``_RawSums``) unless a block's column mean
        would cancel its spread: then, as for any other data, each block is
        copied to float64 and centred, one block at a time.

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
        # Cache-sized blocks: a block's reads after its column sums find it in cache.
        blocks = row_blocks(X, xp, elements=STATISTICS_ELEMENTS, min_blocks=MIN_BLOCKS, per_row=d)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by Conditioning.from_moments
            if blocks and _read_in_place(X, sample_weight, xp):
                raw = _RawSums(d, k)
                if all(raw.add(rows_of(X, rows), Y[rows, :]) for rows in blocks):
                    return raw.statistics()
            # Any other pass, or one with a block far from zero, centres a copy of every block.
            for rows in blocks:
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
    block = X.toarray() if hasattr(X, "toarray") else X
    block = xp.astype(block, float64, copy=True)
    mean_x = (s @ block) / total
    block -= mean_x
    # Xc^T S Xc as a symmetric rank-k update (scaled rows only when weighted).
    root = block if unit else block * xp.sqrt(s)[:, None]
    return SufficientStatistics(total, mean_x, mean_y, block_gram(root, xp), block.T @ weighted_y, scatter_yy)


class _RawSums:
    """The sums of float64 host blocks of unit weights read in place, for ``SufficientStatistics.of``.

    Each block adds to one buffer's triangle of ``sum_b X_b^T X_b`` (BLAS's
    rank-k update, no copy of the block and no merge per block), to the
    column sums, and to ``X_b^T (Y_b - nu_b)`` with its targets centred at
    their own means ``nu_b`` (merged as Chan, Golub and LeVeque do).
    ``Xc^T Xc = X^T X - W mu mu^T`` is formed once, at the end: it loses at
    most two bits of each block's spread while each column's squared mean in
    the block takes at most ``MEAN_SHARE`` of its raw second moment, which
    the update's own diagonal gives. ``add`` says when a block breaks that bound.
    """

    def __init__(self, n_features, n_targets):
        self.shift = None
        self.sum_x = np.zeros(n_features)
        self.gram = np.zeros((n_features, n_features), order="F")  # its upper triangle
        # sum_b X_b^T (Y_b - nu_b), sum_b (1^T X_b)^T (nu_b - nu_0) and sum_i (y_i - nu_0).
        self.cross, self.shifted = np.zeros((n_features, n_targets)), np.zeros((n_features, n_targets))
        self.centred_sum = np.zeros(n_targets)
        # The targets' own moments, merged; their weight is the rows added.
        self.targets = ColumnMoments(0, np.zeros(n_targets), np.zeros(n_targets))

    def add(self, X, Y):
        """Add one block of rows; False when a column of it is too far from zero (the sums are then spoilt)."""
        n = X.shape[0]
        block_sum = np.ones(n) @ X
        before = np.diagonal(self.gram).copy()
        self.gram = block_gram(X, np, into=self.gram)
        squares = np.diagonal(self.gram) - before  # the block's raw second moments
        if not np.all((block_sum * block_sum <= MEAN_SHARE * n * squares) & (squares < np.inf)):
            return False
        y = Y.astype(np.float64, copy=True)
        nu = np.ones(n) @ y / n
        y -= nu
        self.shift = nu if self.shift is None else self.shift
        # Vector-by-block products: faster than one product with the k-row Yc^T.
        self.cross += np.stack([y[:, k] @ X for k in range(y.shape[1])], axis=1)
        self.shifted += block_sum[:, None] * (nu - self.shift)[None, :]
        self.centred_sum += np.sum(y, axis=0) + n * (nu - self.shift)
        self.targets = self.targets + ColumnMoments(n, nu, np.sum(y * y, axis=0))
        self.sum_x = self.sum_x + block_sum
        return True

    def statistics(self):
        """The ``SufficientStatistics`` of the blocks added (at least one)."""
        y, count = self.targets, self.targets.weight_sum
        mean_x = self.sum_x / count
        scatter_xx = symmetrised(self.gram) - count * (mean_x[:, None] * mean_x[None, :])
        # Centred in Y at nu_0, which Xc's zero sum makes as good as any point:
        # sum_i (x_i - mu)(y_i - nu_0) = sum_i x_i (y_i - nu_0) - mu sum_i (y_i - nu_0), each summed over the blocks.
        scatter_xy = self.cross + self.shifted - mean_x[:, None] * self.centred_sum[None, :]
        return SufficientStatistics(np.float64(count), mean_x, y.mean, scatter_xx, scatter_xy, y.squares)
