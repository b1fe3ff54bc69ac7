# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled twins of skgd._loss.LOSSES: each loss and its derivative in the linear predictor, by code."""
from libc.math cimport INFINITY, NAN, exp, fabs, log, pow


# Loss codes: the compiled twins of skgd._loss.LOSSES, each named in LOSS_CODES (which ``Loss.code`` reads).
cdef enum:
    SQUARED_ERROR = 0
    HUBER = 1
    EPSILON_INSENSITIVE = 2
    SQUARED_EPSILON_INSENSITIVE = 3
    ABSOLUTE_ERROR = 4
    QUANTILE = 5
    POISSON = 6
    GAMMA = 7
    TWEEDIE = 8
    LOSS_COUNT = 9


cdef inline double _poisson(double p, double y) noexcept nogil:
    # The Poisson deviance 2 (y log(y / mu) - y + mu) at mu = exp(p), with y log y = 0 at 0.
    cdef double y_log_y = y * log(y) if y > 0.0 else 0.0
    return 2.0 * (y_log_y - y * p - y + exp(p))


cdef inline double _loss(int code, double p, double y, double param) noexcept nogil:
    # The loss at linear predictor p and target y; param is ``Loss.parameter``
    # (epsilon for huber and the epsilon-insensitive losses, q for quantile,
    # the power for tweedie). The log link's deviances are in p = log(mu).
    cdef double r = p - y
    cdef double a = fabs(r), c, v
    if code == SQUARED_ERROR:
        return r * r
    if code == HUBER:
        if a <= param:
            return r * r
        # c * (2r - c) with c = +-param, the form skgd._loss's huber takes.
        c = param if r > 0 else -param
        return c * (2.0 * r - c)
    if code == EPSILON_INSENSITIVE:
        return a - param if a > param else 0.0
    if code == SQUARED_EPSILON_INSENSITIVE:
        return (a - param) * (a - param) if a > param else 0.0
    if code == ABSOLUTE_ERROR:
        return a
    if code == QUANTILE:
        # The pinball loss of y - p at quantile param: (1 - q) r above zero, -q r below.
        return (1.0 - param) * r if r > 0 else -param * r
    if code == POISSON or (code == TWEEDIE and param == 1.0):
        return _poisson(p, y)
    if code == GAMMA or (code == TWEEDIE and param == 2.0):
        return 2.0 * (p - log(y) + y * exp(-p) - 1.0)
    if code == TWEEDIE:
        # The Tweedie deviance of power param at mu = exp(p) (skgd._loss.Tweedie);
        # where both powers of mu overflow (inf - inf) the deviance is +inf.
        v = 2.0 * (pow(y if y > 0.0 else 0.0, 2.0 - param) / ((1.0 - param) * (2.0 - param))
                   - y * exp((1.0 - param) * p) / (1.0 - param) + exp((2.0 - param) * p) / (2.0 - param))
        return INFINITY if v != v else v
    return NAN  # unreachable: codes are checked on entry


cdef inline double _dloss(int code, double p, double y, double param) noexcept nogil:
    # The derivative of ``_loss`` in p.
    cdef double r = p - y, v
    cdef double a = fabs(r)
    cdef double sign = 1.0 if r > 0 else -1.0
    if code == SQUARED_ERROR:
        return 2.0 * r
    if code == HUBER:
        if a <= param:
            return 2.0 * r
        return 2.0 * param * sign
    if code == EPSILON_INSENSITIVE:
        return sign if a > param else 0.0
    if code == SQUARED_EPSILON_INSENSITIVE:
        return 2.0 * (a - param) * sign if a > param else 0.0
    if code == ABSOLUTE_ERROR:
        return sign if r != 0.0 else 0.0
    if code == QUANTILE:
        if r > 0:
            return 1.0 - param
        return -param if r < 0 else 0.0
    if code == POISSON or (code == TWEEDIE and param == 1.0):
        return 2.0 * (exp(p) - y)
    if code == GAMMA or (code == TWEEDIE and param == 2.0):
        return 2.0 * (1.0 - y * exp(-p))
    if code == TWEEDIE:
        v = 2.0 * (exp((2.0 - param) * p) - y * exp((1.0 - param) * p))
        if v != v:  # inf - inf: the faster-growing power of mu decides
            return -INFINITY if p < 0.0 else INFINITY
        return v
    return NAN  # unreachable: codes are checked on entry
