"""The objective J (data x loss x penalty) and what algorithms ask of it: value, gradient, moments, curvature.

Three forms of the same maths, each asked by the algorithms
(``skgd._algorithms``) and never asking them anything back:

- ``StreamingObjective`` reads X at each ask (any loss), O(n * d);
- ``GramObjective`` (squared error only) reads X once for the weighted
  sufficient statistics; every ask then costs O(d^2) per target;
- ``skgd._dask.DaskStreamingObjective`` reads a dask array's blocks where
  they live (or a dask survey's statistics feed ``GramObjective``).

``choose_objective`` picks between the first two for in-memory data.
"""

from ._gram import GramObjective
from ._streaming import StreamingObjective

#: Below this many entries of X an epoch costs microseconds either way, and
#: the streaming loss is exact to the last bit (the Gram form of the loss loses
#: relative accuracy as the loss approaches zero), so small data streams.
GRAM_MIN_SIZE = 10_000

#: Largest number of features for which the d x d statistics are kept.
GRAM_MAX_FEATURES = 4096


def choose_objective(loss, X, max_iter, one_epoch):
    """Pick the form of J full-batch steps ask, for the data at hand.

    The Gram form is taken when the loss is quadratic (squared error), the call runs more
    than one epoch, X has more rows than columns, at least ``GRAM_MIN_SIZE``
    entries and at most ``GRAM_MAX_FEATURES`` columns, and its one O(n d^2)
    pass costs no more than the O(n d) epochs it replaces (``d <= 2 * max_iter``).
    Everything else streams.

    Parameters
    ----------
    loss : Loss
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    max_iter : int
    one_epoch : bool
        True for ``partial_fit``.

    Returns
    -------
    class
        ``GramObjective`` or ``StreamingObjective``.
    """
    n, d = X.shape
    gram = (
        loss.quadratic
        and not one_epoch
        and n > d
        and n * d >= GRAM_MIN_SIZE
        and d <= min(GRAM_MAX_FEATURES, 2 * max_iter)
    )
    return GramObjective if gram else StreamingObjective


__all__ = ["GRAM_MAX_FEATURES", "GRAM_MIN_SIZE", "GramObjective", "StreamingObjective", "choose_objective"]
