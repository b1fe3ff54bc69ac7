"""J read from X at each ask (any loss): the residuals, loss and gradient in one fused pass over row blocks.

O(n * d) a pass and nothing of the data's size allocated; the sums come
from ``skgd._reductions``, in the data's array namespace and on its device.
"""

import copy

from .._array_api import get_namespace, rounding
from .._loss import SquaredError
from .._reductions import ColumnMoments, loss_gradient_sums
from .._step_size import batch_lipschitz


class StreamingObjective:
    """J = the weighted mean loss over the rows plus the penalty, read from X (any loss).

    Parameters
    ----------
    data : TrainingData
    settings : Settings
        Supplies the loss, the penalty and ``fit_intercept``.
    """

    #: Steps on it can be taken in conditioned coordinates (its column moments are measured).
    can_condition = True

    def __init__(self, data, settings):
        self.data, self.settings, self.loss = data, settings, settings.loss
        self.xp, _ = get_namespace(data.X, data.sample_weight)
        self.weight_sum = float(self.xp.sum(data.sample_weight))
        self.rounding = rounding(self.xp, data.X.dtype)  # the loss is formed in X's dtype

    def with_loss(self, loss):
        """The same data and penalty with another loss (a smoothing's slope); no pass over X."""
        other = copy.copy(self)
        other.loss = loss
        return other

    def value_and_gradient(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient."""
        loss_sums, grad_coef, grad_intercept = self.sums(coef, intercept)
        return self.value_of(loss_sums, coef), grad_coef / self.weight_sum, grad_intercept / self.weight_sum

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets: a pass without the gradient."""
        loss_sums, _, _ = self.sums(coef, intercept, gradient=False)
        return self.value_of(loss_sums, coef)

    def value_of(self, loss_sums, coef):
        """J, averaged over targets, from each target's weighted loss sum (``sums``) at ``coef``."""
        return float(self.xp.mean(loss_sums / self.weight_sum + self.settings.penalty.value(coef, xp=self.xp)))

    def sums(self, coef, intercept, gradient=True, loss=None):
        """Weighted loss and gradient sums over the data (one read of X).

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        gradient : bool, default=True
            Whether to form the gradient sums.
        loss : Loss, default=None
            The loss summed; None for the objective's own (``loss``).

        Returns
        -------
        loss_sums, grad_coef, grad_intercept : ndarrays
            As ``skgd._reductions.loss_gradient_sums``.
        """
        data, loss = self.data, self.loss if loss is None else loss
        return loss_gradient_sums(
            loss, data.X, data.Y, data.sample_weight, coef, intercept, xp=self.xp, gradient=gradient
        )

    def residual_scale(self, coef, intercept):
        """Each target's root mean square residual at ``(coef, intercept)`` (one pass over X, no gradient)."""
        squares, _, _ = self.sums(coef, intercept, gradient=False, loss=SquaredError())
        return self.xp.sqrt(squares / self.weight_sum)

    def moments(self):
        """The training rows' weighted column moments (one pass over X)."""
        return ColumnMoments.of(self.data.X, self.data.sample_weight)

    def lipschitz(self, conditioning):
        """Lipschitz constant of the smooth part's gradient in the conditioned coordinates."""
        settings, data = self.settings, self.data
        return batch_lipschitz(
            self.loss, settings.penalty, data.X, data.sample_weight, settings.fit_intercept, conditioning
        )
