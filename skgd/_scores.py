"""The scores of a fitted model: R^2, or the D^2 of a loss's deviance (``score``, early stopping's validation)."""

from ._array_api import get_namespace, widest_float
from ._state import linear_predict


def validation_score(validation, coef, intercept, loss=None):
    """R^2 (or the loss's D^2) of the linear model on the validation data (uniform over targets).

    Weighted as ``r2_score`` weighs it, and finite as its ``force_finite``
    makes it also for a single validation row: a target without spread scores
    1 when predicted exactly and 0 otherwise. A loss whose ``score`` is
    ``"d2"`` (the log link's) is scored by ``deviance_explained`` instead.

    Parameters
    ----------
    validation : tuple
        ``(X_val, Y_val, sample_weight_val)``.
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    loss : Loss, default=None
        None (or a loss scored by R^2) for R^2.

    Returns
    -------
    float
    """
    X_val, Y_val, s_val = validation
    if loss is not None and loss.score == "d2":
        return deviance_explained(loss, Y_val, linear_predict(X_val, coef, intercept), s_val)
    xp, _ = get_namespace(Y_val)
    float64 = widest_float(xp, Y_val)
    Y = xp.astype(Y_val, float64)
    s = xp.astype(s_val, float64)[:, None]
    residual = Y - xp.astype(linear_predict(X_val, coef, intercept), float64)
    unexplained = xp.sum(s * residual * residual, axis=0)
    centred = Y - xp.sum(s * Y, axis=0) / xp.sum(s)
    total = xp.sum(s * centred * centred, axis=0)
    spread, ones = total > 0.0, xp.ones_like(total)
    exact = xp.where(unexplained == 0.0, ones, 0.0 * ones)
    scores = xp.where(spread, 1.0 - unexplained / xp.where(spread, total, ones), exact)
    return float(xp.mean(scores))


def deviance_explained(loss, Y, predictor, sample_weight):
    """D^2: the share of the loss's deviance the model explains, uniform over targets.

    ``1 - sum_i s_i l(p_i, y_i) / sum_i s_i l(p0, y_i)`` with ``p0`` the
    constant model's optimum (``Loss.null_predictor``: the log of the
    weighted mean for a log-link deviance, as scikit-learn's
    ``d2_tweedie_score``; a weighted quantile for the pinball loss, as
    ``d2_pinball_score``). A target without spread scores 1 when predicted
    exactly and 0 otherwise.

    Parameters
    ----------
    loss : Loss
        A loss scored by D^2 (``Loss.score``), of the linear predictor.
    Y : array of shape (n_samples, n_targets)
    predictor : array of shape (n_samples, n_targets)
        The model's linear predictors.
    sample_weight : array of shape (n_samples,)

    Returns
    -------
    float
    """
    xp, _ = get_namespace(Y)
    float64 = widest_float(xp, Y)
    Y, predictor = xp.astype(Y, float64), xp.astype(predictor, float64)
    s = xp.astype(sample_weight, float64)[:, None]
    model = xp.sum(s * loss.value_and_derivative(predictor, Y, xp=xp)[0], axis=0)
    null = xp.sum(s * loss.value_and_derivative(loss.null_predictor(Y, s, xp) + 0.0 * Y, Y, xp=xp)[0], axis=0)
    spread, ones = null > 0.0, xp.ones_like(null)
    exact = xp.where(model == 0.0, ones, 0.0 * ones)
    scores = xp.where(spread, 1.0 - model / xp.where(spread, null, ones), exact)
    return float(xp.mean(scores))
