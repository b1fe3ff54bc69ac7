# cython: language_level=3, cdivision=True
"""The compiled twin of ``_quantile.py``'s loss: ``quantile_loss`` and ``quantile_dloss`` in p.

``p`` is the linear predictor, ``y`` the target and ``param`` the quantile q.
The compiled loop reaches them by code, through the dispatch ``_twins.py``
writes from these files at build time.
"""


cdef inline double quantile_loss(double p, double y, double param) noexcept nogil:
    # The pinball loss of y - p at quantile param: (1 - q) r above zero, -q r below.
    cdef double r = p - y
    return (1.0 - param) * r if r > 0 else -param * r


cdef inline double quantile_dloss(double p, double y, double param) noexcept nogil:
    cdef double r = p - y
    if r > 0:
        return 1.0 - param
    return -param if r < 0 else 0.0
