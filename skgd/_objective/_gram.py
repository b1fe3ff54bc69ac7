"""J of squared error from the weighted sufficient statistics: one read of X, then O(d^2) per target an ask.

The statistics (means and centred second moments of X and y, in float64
and in row blocks, no copy of X) come from ``skgd._moments``, or from a
dask survey.
"""

from .._array_api import get_namespace, rounding
from .._moments import SufficientStatistics
from .._step_size import gram_lipschitz


class GramObjective:
    """Squared error's J from the weighted sufficient statistics, O(d^2) an ask.

    Parameters
    ----------
    data : TrainingData or None
        Read only when ``statistics`` is None.
    settings : Settings
        Its loss must be squared error.
    statistics : SufficientStatistics, default=None
        The data's statistics when already computed (by a dask pass); None
        accumulates them from ``data`` here.
    """

    #: Steps on it can be taken in conditioned coordinates (the statistics hold the moments).
    can_condition = True

    def __init__(self, data, settings, statistics=None):
        self.settings, self.loss = settings, settings.loss
        if statistics is None:
            statistics = SufficientStatistics.of(data.X, data.Y, data.sample_weight)
        self.statistics = statistics
        self.xp, _ = get_namespace(statistics.scatter_xx)
        self.rounding = rounding(self.xp, statistics.scatter_xx.dtype)  # J from float64 statistics
        total = statistics.weight_sum
        self.covariance = statistics.scatter_xx / total
        self.cross = statistics.scatter_xy.T / total
        self.variance_y = statistics.scatter_yy / total

    def moments(self):
        """The column moments the statistics hold (no pass over X)."""
        return self.statistics.moments()

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient, from the statistics."""
        settings = self.settings
        return gram_lipschitz(settings.loss, settings.penalty, self.statistics, settings.fit_intercept, conditioning)

    def value_and_gradient(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient, in O(d^2) per target.

        With the means ``mu``, ``nu`` and the centred moments, the residuals'
        mean is ``mu . w + b - nu`` and J's data term is
        ``w^T Cxx w - 2 w . Cxy + Cyy`` (divided by the weight sum) plus that
        mean squared.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        value : float
        grad_coef : ndarray of shape (n_targets, n_features)
        grad_intercept : ndarray of shape (n_targets,)
        """
        value, covariance_coef, mean_residual = self._value(coef, intercept)
        grad_coef = 2.0 * (covariance_coef - self.cross + mean_residual[:, None] * self.statistics.mean_x)
        return value, grad_coef, 2.0 * mean_residual

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets."""
        return self._value(coef, intercept)[0]

    def _value(self, coef, intercept):
        """J, ``coef @ Cxx / W`` and the residuals' mean: what J and its gradient share."""
        xp, stats = self.xp, self.statistics
        mean_residual = coef @ stats.mean_x + intercept - stats.mean_y
        covariance_coef = coef @ self.covariance
        losses = xp.sum(coef * (covariance_coef - 2.0 * self.cross), axis=1) + self.variance_y + mean_residual**2
        return float(xp.mean(losses + self.settings.penalty.value(coef, xp=xp))), covariance_coef, mean_residual
