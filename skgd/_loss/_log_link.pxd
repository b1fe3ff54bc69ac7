# cython: language_level=3, cdivision=True
"""The compiled twins of ``_log_link.py``'s deviances: each ``<name>_loss`` and ``<name>_dloss`` in p.

``p = log(mu)`` is the linear predictor, ``y`` the target and ``param`` the
loss's ``Loss.parameter`` (tweedie's power; tweedie at powers 1 and 2 is
poisson and gamma). The compiled loop reaches them by code, through the
dispatch ``_twins.py`` writes from these files at build time.
"""
from libc.math cimport INFINITY, exp, log, pow


cdef inline double poisson_loss(double p, double y, double param) noexcept nogil:
    # The Poisson deviance 2 (y log(y / mu) - y + mu) at mu = exp(p), with y log y = 0 at 0.
    cdef double y_log_y = y * log(y) if y > 0.0 else 0.0
    return 2.0 * (y_log_y - y * p - y + exp(p))


cdef inline double poisson_dloss(double p, double y, double param) noexcept nogil:
    return 2.0 * (exp(p) - y)


cdef inline double gamma_loss(double p, double y, double param) noexcept nogil:
    return 2.0 * (p - log(y) + y * exp(-p) - 1.0)


cdef inline double gamma_dloss(double p, double y, double param) noexcept nogil:
    return 2.0 * (1.0 - y * exp(-p))


cdef inline double tweedie_loss(double p, double y, double param) noexcept nogil:
    # The Tweedie deviance of power param at mu = exp(p); where both powers of
    # mu overflow (inf - inf) the deviance is +inf.
    cdef double v
    if param == 1.0:
        return poisson_loss(p, y, param)
    if param == 2.0:
        return gamma_loss(p, y, param)
    v = 2.0 * (pow(y if y > 0.0 else 0.0, 2.0 - param) / ((1.0 - param) * (2.0 - param))
               - y * exp((1.0 - param) * p) / (1.0 - param) + exp((2.0 - param) * p) / (2.0 - param))
    return INFINITY if v != v else v


cdef inline double tweedie_dloss(double p, double y, double param) noexcept nogil:
    cdef double v
    if param == 1.0:
        return poisson_dloss(p, y, param)
    if param == 2.0:
        return gamma_dloss(p, y, param)
    v = 2.0 * (exp((2.0 - param) * p) - y * exp((1.0 - param) * p))
    if v != v:  # inf - inf: the faster-growing power of mu decides
        return -INFINITY if p < 0.0 else INFINITY
    return v
