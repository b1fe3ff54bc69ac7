"""J read from X at each ask (any loss): the residuals, loss and gradient in one fused pass over row blocks.

O(n * d) a pass and nothing of the data's size allocated; the sums come
from ``skgd._reductions``, in the data's array namespace and on its device.
"""

import copy

from .._array_api import get_namespace, get_namespace_and_device, rounding
from .._loss import SquaredError
from .._moments import ColumnMoments
from .._reductions import loss_gradient_sums, row_blocks
from .._state import linear_predict
from .._step_size import batch_lipschitz

#: Fewest row blocks J and its slope along a line are summed in (``along_line``).
LINE_BLOCKS = 16


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
        self.unit_weights = bool(self.xp.all(data.sample_weight == 1.0))
        self.rounding = rounding(self.xp, data.X.dtype)  # the loss is formed in X's dtype
        self.target_parts = self.loss.target_part(data.Y, xp=self.xp)  # formed once, read every ask

    def with_loss(self, loss):
        """The same data and penalty with another loss (a smoothing's slope); no pass over X."""
        other = copy.copy(self)
        other.loss, other.target_parts = loss, loss.target_part(self.data.Y, xp=self.xp)
        return other

    def value_and_gradient(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient."""
        loss_sums, grad_coef, grad_intercept = self.sums(coef, intercept)
        return self.value_of(loss_sums, coef), grad_coef / self.weight_sum, grad_intercept / self.weight_sum

    def value_gradient_and_predictors(self, coef, intercept):
        """Each target's J, the gradient and the rows' linear predictors at ``(coef, intercept)``, in one pass.

        Returns
        -------
        values : array of shape (n_targets,)
            Each target's J (``value`` is their mean).
        grad_coef : array of shape (n_targets, n_features)
        grad_intercept : array of shape (n_targets,)
        predictors : array of shape (n_samples, n_targets)
            In X's dtype, namespace and device.
        """
        X = self.data.X
        _, _, device = get_namespace_and_device(coef)
        predictors = self.xp.empty((X.shape[0], coef.shape[0]), dtype=X.dtype, device=device)
        loss_sums, grad_coef, grad_intercept = self.sums(coef, intercept, predictors=predictors)
        return (
            self.target_values(loss_sums, coef),
            grad_coef / self.weight_sum,
            grad_intercept / self.weight_sum,
            predictors,
        )

    def predictors(self, coef, intercept):
        """The rows' linear predictors ``X coef^T + intercept`` (one read of X), in X's dtype."""
        return linear_predict(self.data.X, coef, intercept)

    def along_line(self, predictors, change, coef, direction, steps):
        """Each target's J and slope of J along its line ``coef + t * direction``, at its step ``t`` (no read of X).

        Parameters
        ----------
        predictors : array of shape (n_samples, n_targets)
            The rows' linear predictors ``p`` at the line's start
            (``value_gradient_and_predictors``).
        change : array of shape (n_samples, n_targets)
            Their change ``q`` along the direction (``predictors`` of it).
        coef : array of shape (n_targets, n_features)
            The line's start.
        direction : array of shape (n_targets, n_features)
        steps : list of float
            Each target's ``t``.

        Returns
        -------
        values, slopes : arrays of shape (n_targets,)
            ``sum_i s_i l(p_i + t q_i) / sum_i s_i + R(coef + t d)`` and
            ``sum_i s_i l'(p_i + t q_i) q_i / sum_i s_i + l2 (coef + t d) . d``,
            in float64; non-finite where the loss overflows.
        """
        xp, data, penalty = self.xp, self.data, self.settings.penalty
        _, _, device = get_namespace_and_device(coef)
        wide = coef.dtype  # the iterate's: the widest float of the namespace and device
        t = xp.asarray(steps, dtype=wide, device=device)
        values = xp.zeros(coef.shape[0], dtype=wide, device=device)
        slopes = xp.zeros(coef.shape[0], dtype=wide, device=device)
        # Blocks of the predictors' rows (k values a row, not X's d): each block's float64 temporaries
        # stay a small share of X's rows they stand for.
        for rows in row_blocks(predictors, xp, min_blocks=LINE_BLOCKS):
            q = xp.astype(change[rows, :], wide, copy=False)
            value, derivative = self.loss.value_and_derivative(
                xp.astype(predictors[rows, :], wide, copy=False) + t * q, data.Y[rows, :], xp=xp, part=self._part(rows)
            )
            if not self.unit_weights:  # a weight of one changes no product: unit rows skip the products
                weight = xp.astype(data.sample_weight[rows], wide, copy=False)[:, None]
                value, derivative = weight * value, weight * derivative
            values += xp.sum(value, axis=0)
            slopes += xp.sum(derivative * q, axis=0)
        moved = coef + t[:, None] * direction
        values = values / self.weight_sum + penalty.value(moved, xp=xp)
        return values, slopes / self.weight_sum + penalty.l2 * xp.sum(moved * direction, axis=1)

    def value(self, coef, intercept):
        """J at ``(coef, intercept)``, averaged over targets: a pass without the gradient."""
        loss_sums, _, _ = self.sums(coef, intercept, gradient=False)
        return self.value_of(loss_sums, coef)

    def value_of(self, loss_sums, coef):
        """J, averaged over targets, from each target's weighted loss sum (``sums``) at ``coef``."""
        return float(self.xp.mean(self.target_values(loss_sums, coef)))

    def target_values(self, loss_sums, coef):
        """Each target's J from its weighted loss sum (``sums``) at ``coef``."""
        return loss_sums / self.weight_sum + self.settings.penalty.value(coef, xp=self.xp)

    def sums(self, coef, intercept, gradient=True, loss=None, predictors=None):
        """Weighted loss and gradient sums over the data (one read of X).

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)
        gradient : bool, default=True
            Whether to form the gradient sums.
        loss : Loss, default=None
            The loss summed; None for the objective's own (``loss``).
        predictors : array of shape (n_samples, n_targets), default=None
            Filled with the rows' linear predictors (``loss_gradient_sums``).

        Returns
        -------
        loss_sums, grad_coef, grad_intercept : ndarrays
            As ``skgd._reductions.loss_gradient_sums``.
        """
        data = self.data
        return loss_gradient_sums(
            self.loss if loss is None else loss,
            data.X,
            data.Y,
            data.sample_weight,
            coef,
            intercept,
            xp=self.xp,
            gradient=gradient,
            predictors=predictors,
            parts=self.target_parts if loss is None else None,
        )

    def _part(self, rows):
        return None if self.target_parts is None else self.target_parts[rows, :]

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
