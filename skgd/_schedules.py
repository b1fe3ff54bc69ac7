"""Learning-rate schedules: one registry, ``SCHEDULES``.

- ``constant``: every update uses ``eta``.
- ``invscaling``: update number ``t`` (counted from 0, carried across
  ``partial_fit``) uses ``eta / (1 + t) ** power_t``.
- ``adaptive``: ``eta`` is kept until ``n_iter_no_change`` epochs fail to
  improve by ``tol``; then it is divided by 5. Training stops once it falls
  under ``1e-6`` of where it started.

A schedule gives the step of each update of a pass at once
(``Schedule.steps``); every solver reads its steps from there (the compiled
loop receives the array), so a new schedule is one function and one
registry line. ``learning_rate="auto"`` starts any of them at ``automatic_step``.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def constant_steps(eta, t0, n_updates, power_t):
    """Steps of ``n_updates`` updates that all use ``eta``.

    Parameters
    ----------
    eta : float
        The current base step.
    t0 : int
        Updates made before the first of these.
    n_updates : int
    power_t : float
        Not read.

    Returns
    -------
    ndarray of float64 of shape (n_updates,)
    """
    return np.full(n_updates, float(eta))


def invscaling_steps(eta, t0, n_updates, power_t):
    """Steps ``eta / (1 + t) ** power_t`` of updates ``t = t0, ..., t0 + n_updates - 1``.

    Parameters
    ----------
    eta : float
        The base step.
    t0 : int
        Updates made before the first of these.
    n_updates : int
    power_t : float

    Returns
    -------
    ndarray of float64 of shape (n_updates,)
    """
    t = np.arange(t0, t0 + n_updates, dtype=np.float64)
    return float(eta) / (1.0 + t) ** float(power_t)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: the step of each update, and how it adapts.

    Parameters
    ----------
    steps : callable
        ``steps(eta, t0, n_updates, power_t) -> ndarray`` of float64: the
        step of each of ``n_updates`` updates, the first of which has
        ``t0`` updates before it.
    decays : bool
        Whether the step changes from update to update within an epoch (so
        a pass cannot treat it as one constant step, and batch epochs are
        not accelerated).
    adaptive : bool
        Whether the base step is divided by ``ADAPTIVE_DIVISOR`` when
        progress stalls between epochs.
    sgdregressor : str or None
        The ``learning_rate`` of scikit-learn's SGDRegressor that takes the
        same per-update steps (``eta0`` the base step), or None.
    """

    steps: Callable
    decays: bool
    adaptive: bool
    sgdregressor: str = None

    def step(self, eta, t, power_t):
        """The step of the one update number ``t`` (0-based), as ``steps`` gives it.

        Parameters
        ----------
        eta : float
        t : int
        power_t : float

        Returns
        -------
        float
        """
        return float(self.steps(eta, t, 1, power_t)[0])


#: The one registry of schedules: the ``schedule`` parameter's values.
SCHEDULES = {
    "constant": Schedule(constant_steps, decays=False, adaptive=False, sgdregressor="constant"),
    "invscaling": Schedule(invscaling_steps, decays=True, adaptive=False, sgdregressor="invscaling"),
    "adaptive": Schedule(constant_steps, decays=False, adaptive=True),
}

#: Divisor applied by the adaptive schedule when progress stalls.
ADAPTIVE_DIVISOR = 5.0

#: The adaptive schedule stops once eta falls under this share of its start.
ADAPTIVE_MIN_RATIO = 1e-6


def adaptive_reduce(eta_factor):
    """The adaptive schedule's reaction to a stall.

    Parameters
    ----------
    eta_factor : float
        Current multiplier of the base step.

    Returns
    -------
    new_factor : float
        The reduced multiplier.
    exhausted : bool
        Whether the step fell under ``ADAPTIVE_MIN_RATIO`` of its start, so
        training should stop.
    """
    new_factor = eta_factor / ADAPTIVE_DIVISOR
    return new_factor, new_factor < ADAPTIVE_MIN_RATIO


def automatic_step(lipschitz, momentum=0.0):
    """The step of ``learning_rate="auto"``: ``(1 - momentum) / L``.

    ``L`` bounds the curvature of the smooth part of J (for SGD, of any one
    sample's), so ``1 / L`` cannot overshoot. SGD passes its momentum: its
    noisy heavy-ball steps add up to ``eta / (1 - momentum)``, which is held
    to ``1 / L``; batch passes none (heavy-ball and Nesterov steps of ``1 / L``
    are stable on a quadratic).

    Parameters
    ----------
    lipschitz : float
        The Lipschitz constant ``L`` (``Algorithm.lipschitz``).
    momentum : float, default=0.0

    Returns
    -------
    float
        The step; 1 where ``L`` is 0 (X all zero and nothing else smooth:
        every step is as safe) or so small that ``1 / L`` overflows.

    Raises
    ------
    ValueError
        If ``L`` is not finite: the data's squares overflow, so no step can be measured.
    """
    if not math.isfinite(lipschitz):
        raise ValueError(
            f"The curvature of the objective measured from the data is {lipschitz!r}: X (or sample_weight) holds "
            "values whose squares overflow. Rescale X (for example with StandardScaler or MaxAbsScaler)."
        )
    step = (1.0 - momentum) / lipschitz if lipschitz > 0.0 else math.inf
    return step if math.isfinite(step) else 1.0
