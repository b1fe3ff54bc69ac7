# cython: language_level=3, cdivision=True
"""The compiled twins of ``_residual.py``'s losses: each ``<name>_loss`` and ``<name>_dloss`` in p.

``p`` is the linear predictor, ``y`` the target and ``param`` the loss's
``Loss.parameter`` (epsilon here). The compiled loop reaches them by code,
through the dispatch ``_twins.py`` writes from these files at build time.
"""
from libc.math cimport fabs


cdef inline double squared_error_loss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    return r * r


cdef inline double squared_error_dloss(double p, double y, double param) noexcept nogil:
    return 2.0 * (p - y)


cdef inline double huber_loss(double p, double y, double param) noexcept nogil:
    # c * (2r - c) with c = +-param outside the width, the form Huber takes.
    cdef double r = p - y
    cdef double c
    if fabs(r) <= param:
        return r * r
    c = param if r > 0 else -param
    return c * (2.0 * r - c)


cdef inline double huber_dloss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    if fabs(r) <= param:
        return 2.0 * r
    return 2.0 * param * (1.0 if r > 0 else -1.0)


cdef inline double epsilon_insensitive_loss(double p, double y, double param) noexcept nogil:
    cdef double a = fabs(p - y)
    return a - param if a > param else 0.0


cdef inline double epsilon_insensitive_dloss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    return (1.0 if r > 0 else -1.0) if fabs(r) > param else 0.0


cdef inline double squared_epsilon_insensitive_loss(double p, double y, double param) noexcept nogil:
    cdef double a = fabs(p - y)
    return (a - param) * (a - param) if a > param else 0.0


cdef inline double squared_epsilon_insensitive_dloss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    cdef double a = fabs(r)
    return 2.0 * (a - param) * (1.0 if r > 0 else -1.0) if a > param else 0.0


cdef inline double absolute_error_loss(double p, double y, double param) noexcept nogil:
    return fabs(p - y)


cdef inline double absolute_error_dloss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    if r == 0.0:
        return 0.0
    return 1.0 if r > 0 else -1.0
