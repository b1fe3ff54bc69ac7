"""Learning-rate schedules.

- ``constant``: every update uses ``eta``.
- ``invscaling``: update number ``t`` (counted from 0, carried across
  ``partial_fit``) uses ``eta / (1 + t) ** power_t``.
- ``adaptive``: ``eta`` is kept until ``n_iter_no_change`` epochs fail to
  improve by ``tol``; then it is divided by 5. Training stops once it falls
  under ``1e-6`` of where it started.

``learning_rate="auto"`` starts any of them at ``automatic_step``.
"""

import math

#: Codes of the per-update schedules in the compiled loop (adaptive changes
#: eta between epochs only, so inside an epoch it is constant).
SCHEDULE_CODES = {"constant": 0, "invscaling": 1, "adaptive": 0}

#: Divisor applied by the adaptive schedule when progress stalls.
ADAPTIVE_DIVISOR = 5.0

#: The adaptive schedule stops once eta falls under this share of its start.
ADAPTIVE_MIN_RATIO = 1e-6


def step_size(schedule, eta, t, power_t):
    """Step size of update number ``t`` (0-based), the compiled loop's twin.

    Parameters
    ----------
    schedule : {"constant", "invscaling", "adaptive"}
    eta : float
        The current base step.
    t : int or float
        Updates made before this one.
    power_t : float

    Returns
    -------
    float
    """
    if schedule == "invscaling":
        return eta / (1.0 + t) ** power_t
    return eta


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
        The Lipschitz constant ``L`` (``path.lipschitz()``).
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
