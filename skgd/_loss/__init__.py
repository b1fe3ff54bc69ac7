"""Losses: one class each, in the one registry ``LOSSES`` the ``loss`` parameter reads.

The objective is the note's, generalised (the README's "The objective")::

    J(w, b) = sum_i s_i * l(x_i . w + b - y_i) / sum_i s_i  +  R(w)

with ``l(r) = r**2`` for squared error (no factor 1/2). A solver asks a loss
for ``value_and_derivative`` (in the linear predictor); the penalty ``R`` is
``skgd._penalty``, the step-size bounds ``skgd._step_size``.
"""

from ._base import Loss, ResidualLoss
from ._log_link import Gamma, LogLinkLoss, Poisson, Tweedie
from ._quantile import Quantile, SmoothedQuantile
from ._residual import AbsoluteError, EpsilonInsensitive, EpsilonLoss, Huber, SquaredEpsilonInsensitive, SquaredError

__all__ = [
    "LOSSES",
    "AbsoluteError",
    "EpsilonInsensitive",
    "EpsilonLoss",
    "Gamma",
    "Huber",
    "LogLinkLoss",
    "Loss",
    "Poisson",
    "Quantile",
    "ResidualLoss",
    "SmoothedQuantile",
    "SquaredEpsilonInsensitive",
    "SquaredError",
    "Tweedie",
    "make_loss",
]


#: The one registry of losses: the ``loss`` parameter's values, each its class.
LOSSES = {
    cls.name: cls
    for cls in (
        SquaredError,
        Huber,
        EpsilonInsensitive,
        SquaredEpsilonInsensitive,
        AbsoluteError,
        Quantile,
        Poisson,
        Gamma,
        Tweedie,
    )
}


def make_loss(name, **params):
    """The loss ``name`` of ``LOSSES`` with its parameters bound in.

    Parameters
    ----------
    name : str
        A key of ``LOSSES``.
    **params
        The estimator's parameters; each loss reads those it takes.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        If ``name`` is not a registered loss.
    """
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; the registered losses are {sorted(LOSSES)}.")
    return LOSSES[name].from_params(params)
