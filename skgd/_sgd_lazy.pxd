# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Lazy catch-up: a coefficient that no row of a batch stores follows a fixed linear map, taken k steps at once."""
from libc.math cimport exp, expm1

from ._sgd_rows cimport floating
from ._sgd_rule cimport S_N_AVERAGED, _shrink


cdef enum:
    # Binary powers kept of the untouched-coordinate map (enough for 2**62 updates),
    # and the doubles each one takes: its 2x2 matrix and the row that adds up w.
    MAX_POWERS = 63
    POWER_SIZE = 6


cdef inline double *_running_sum(double *w_avg, int n_features, const double *scal) noexcept nogil:
    # A lazy pass keeps the running sum of the iterates in w_avg: the average so
    # far times the updates it averages; NULL before averaging begins.
    cdef int j
    if w_avg == NULL or not scal[S_N_AVERAGED] > 0.0:
        return NULL
    for j in range(n_features):
        w_avg[j] *= scal[S_N_AVERAGED]
    return w_avg


cdef inline void _power_step(const double *P, double *x, double *v, double *s) noexcept nogil:
    # Coefficient x, its velocity v and its running sum s through one level P of ``_untouched_powers``.
    cdef double x_next = P[0] * x[0] + P[1] * v[0]
    s[0] += P[4] * x[0] + P[5] * v[0]
    v[0] = P[2] * x[0] + P[3] * v[0]
    x[0] = x_next


cdef inline void _square_power(const double *P, double *Q) noexcept nogil:
    # The next level of ``_untouched_powers``: (A, c) for k steps to (A A, c + c A) for 2k.
    Q[0] = P[0] * P[0] + P[1] * P[2]
    Q[1] = P[0] * P[1] + P[1] * P[3]
    Q[2] = P[2] * P[0] + P[3] * P[2]
    Q[3] = P[2] * P[1] + P[3] * P[3]
    Q[4] = P[4] + P[4] * P[0] + P[5] * P[2]
    Q[5] = P[5] + P[4] * P[1] + P[5] * P[3]


cdef inline void _untouched_powers(double eta, double l2, double momentum, bint nesterov,
                            double *powers) noexcept nogil:
    # A momentum step of a coordinate that no row of the batch stores sees the
    # gradient l2 * w alone, a linear map of (w, v):
    #   heavy ball  v' = momentum v - eta l2 w,  w' = (1 - eta l2) w + momentum v
    #   Nesterov    v' = momentum v - eta l2 w,  w' = (1 - eta l2 (1 + momentum)) w + momentum**2 v
    # The running sum of the iterates (averaging) is a third state, s' = s + w',
    # so k such steps are the matrix [[A, 0], [c, 1]]**k with A = the 2x2 map and
    # c = e0^T (A + A**2 + ... + A**k). Level i holds (A**(2**i), c for 2**i
    # steps); squaring gives level i + 1: A -> A A, c -> c + c A.
    cdef double *P = powers
    cdef double *Q
    cdef int i
    P[0] = 1.0 - eta * l2 * (1.0 + momentum if nesterov else 1.0)
    P[1] = momentum * momentum if nesterov else momentum
    P[2] = -eta * l2
    P[3] = momentum
    P[4] = P[0]
    P[5] = P[1]
    for i in range(MAX_POWERS - 1):
        Q = P + POWER_SIZE
        _square_power(P, Q)
        P = Q


cdef inline void _catch_up(int j, Py_ssize_t now, Py_ssize_t *last, floating *w,
                           floating *velocity, double *w_sum, const double *powers) noexcept nogil:
    # Bring coefficient j (and its velocity, and its running sum when w_sum is
    # not NULL) through the untouched steps since last[j], to step ``now``:
    # one product with the level-i power for each bit i of the count.
    cdef Py_ssize_t k = now - last[j]
    cdef double x = w[j], v = velocity[j], s
    cdef const double *P = powers
    if x == 0.0 and v == 0.0:  # at rest it stays there (and adds nothing to the sum)
        last[j] = now
        return
    s = w_sum[j] if w_sum != NULL else 0.0
    while k:
        if k & 1:
            _power_step(P, &x, &v, &s)
        k >>= 1
        P += POWER_SIZE
    w[j] = x
    velocity[j] = v
    if w_sum != NULL:
        w_sum[j] = s
    last[j] = now


cdef inline void _catch_up_scaled(int j, Py_ssize_t now, Py_ssize_t *last, floating *w, floating *velocity,
                                  double *w_sum, const double *powers, double c, const double *log_shrink,
                                  double momentum, bint nesterov) noexcept nogil:
    # ``_catch_up`` for the coordinate map of one column of ``_scaled_csr_epoch``:
    # c = eta * l2 * pw * scale_j**2 is its own L2 shrink a step. Without L2
    # (c = 0) every column shares the map (``powers``, needed with momentum
    # only); a plain step without momentum shrinks by a = max(1 - c, 0), k steps by
    # a**k = exp(k log_shrink[j]), and adds a (1 - a**k) / (1 - a) times w to
    # the running sum; momentum with L2 raises the column's own 2x2 map
    # (``_untouched_powers``' level 0) to the k-th power by squaring as it goes.
    cdef Py_ssize_t k = now - last[j]
    cdef double x = w[j], v, s
    cdef double P[POWER_SIZE]
    cdef double Q[POWER_SIZE]
    if k == 0:
        return
    if momentum != 0.0 and c == 0.0:
        _catch_up(j, now, last, w, velocity, w_sum, powers)
        return
    last[j] = now
    if x == 0.0 and (momentum == 0.0 or velocity[j] == 0.0):  # at rest it stays there
        return
    if momentum == 0.0:
        if c == 0.0:
            if w_sum != NULL:
                w_sum[j] += k * x
            return
        if w_sum != NULL:
            w_sum[j] += x * _shrink(c) * -expm1(k * log_shrink[j]) / c
        w[j] = x * exp(k * log_shrink[j])
        return
    P[0] = 1.0 - c * (1.0 + momentum if nesterov else 1.0)
    P[1] = momentum * momentum if nesterov else momentum
    P[2] = -c
    P[3] = momentum
    P[4] = P[0]
    P[5] = P[1]
    v = velocity[j]
    s = w_sum[j] if w_sum != NULL else 0.0
    while k:
        if k & 1:
            _power_step(P, &x, &v, &s)
        k >>= 1
        if k:
            _square_power(P, Q)
            P[0], P[1], P[2], P[3], P[4], P[5] = Q[0], Q[1], Q[2], Q[3], Q[4], Q[5]
    w[j] = x
    velocity[j] = v
    if w_sum != NULL:
        w_sum[j] = s
