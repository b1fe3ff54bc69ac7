# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The one sgd update rule every epoch of the compiled loop takes, piece by piece.

A sample's capped, weighted derivative; a plain step's L2 shrink; momentum;
the cumulative L1 penalty; the intercept's step; counting and averaging.
"""
from libc.math cimport copysign, fabs

from ._sgd_losses cimport _dloss, _loss
from ._sgd_rows cimport floating


# Slots of the per-target scalar state array (see ``sgd_epoch``'s ``scalars``).
cdef enum:
    S_INTERCEPT = 0
    S_VELOCITY_B = 1
    S_AVERAGE_B = 2
    S_L1_U = 3
    S_T = 4
    S_N_AVERAGED = 5


cdef inline double _capped(double d, double reach, double max_change) noexcept nogil:
    # A sample's step moves its own linear predictor by -reach * d (reach =
    # eta * (||z||^2 + fit_intercept)): d shrunk so that the move is at most
    # max_change (0: no cap). An infinite d (exp(p) overflowed) becomes the cap.
    if max_change > 0.0 and reach * fabs(d) > max_change:
        return copysign(max_change / reach, d)
    return d


cdef inline double _sample_derivative(int code, double p, double y, double weight, double param,
                                      double reach, double max_change, Py_ssize_t nb,
                                      double *sumloss) noexcept nogil:
    # One sample's share of its batch's step in its predictor p: weight * dl/dp,
    # capped (``_capped``; reach is only read under a cap), over the batch's
    # size; adds weight * l to sumloss. Every epoch's samples go through here.
    cdef double d
    sumloss[0] += weight * _loss(code, p, y, param)
    d = weight * _dloss(code, p, y, param)
    if max_change > 0.0:
        d = _capped(d, reach, max_change)
    if nb > 1:
        d /= nb
    return d


cdef inline double _shrink(double c) noexcept nogil:
    # A plain step's L2 shrink of a coefficient, 1 - eta * l2_j = 1 - c, held at zero or above.
    return 1.0 - c if c < 1.0 else 0.0


cdef inline double _count_update(double *scal, double b, double average_start) noexcept nogil:
    # Count an update; once averaging runs, count it averaged and average the
    # intercept b. Returns how many updates are averaged (0 before averaging).
    scal[S_T] += 1.0
    if average_start > 0.0 and scal[S_T] >= average_start:
        scal[S_N_AVERAGED] += 1.0
        scal[S_AVERAGE_B] += (b - scal[S_AVERAGE_B]) / scal[S_N_AVERAGED]
        return scal[S_N_AVERAGED]
    return 0.0


cdef inline double _l1_truncate(floating *w, int j, double wscale, double *q,
                                double u) noexcept nogil:
    # Cumulative (truncated) L1 penalty of Tsuruoka et al. on coefficient j,
    # as scikit-learn's l1penalty; returns the change made to w[j].
    cdef double z = w[j]
    if wscale * z > 0.0:
        w[j] = max(0.0, w[j] - (u + q[j]) / wscale)
    elif wscale * z < 0.0:
        w[j] = min(0.0, w[j] + (u - q[j]) / wscale)
    q[j] += wscale * (w[j] - z)
    return w[j] - z


cdef inline void _l1_row(floating *w, double wscale, double *q, const int *ind,
                         int nnz, double u, double *w_avg, double avg_a) noexcept nogil:
    # The cumulative L1 penalty over the features of one row (all features
    # when ind is NULL). While the lazy average holds a share of w (avg_a),
    # what the penalty takes off w is taken off w_avg too, so the average
    # stays that of the iterates after the penalty.
    cdef int k, j
    if avg_a == 0.0:
        for k in range(nnz):
            _l1_truncate(w, k if ind == NULL else ind[k], wscale, q, u)
    else:
        for k in range(nnz):
            j = k if ind == NULL else ind[k]
            w_avg[j] -= avg_a * _l1_truncate(w, j, wscale, q, u)


cdef inline double _momentum_update(floating *velocity, int j, double grad, double momentum,
                                    double eta, bint nesterov) noexcept nogil:
    # Heavy-ball (or Nesterov's) step of coefficient j, as MLPRegressor's SGD
    # optimizer: updates its velocity and returns the change to make to w[j].
    velocity[j] = momentum * velocity[j] - eta * grad
    return momentum * velocity[j] - eta * grad if nesterov else velocity[j]


cdef inline double _intercept_step(double *scal, double gb, double eta, double momentum,
                                   bint nesterov) noexcept nogil:
    # The intercept's change for the batch's gradient gb: a plain step, or a
    # heavy-ball / Nesterov one with its velocity in scal.
    if momentum == 0.0:
        return -eta * gb
    scal[S_VELOCITY_B] = momentum * scal[S_VELOCITY_B] - eta * gb
    return momentum * scal[S_VELOCITY_B] - eta * gb if nesterov else scal[S_VELOCITY_B]


cdef inline void _fold_average(floating *w, int n_features, double *w_avg,
                               double *avg_a, double *avg_b) noexcept nogil:
    # Turn the lazy average (w_avg + avg_a * w) / avg_b into w_avg itself.
    cdef int j
    if avg_a[0] == 0.0 and avg_b[0] == 1.0:
        return
    for j in range(n_features):
        w_avg[j] = (w_avg[j] + avg_a[0] * w[j]) / avg_b[0]
    avg_a[0] = 0.0
    avg_b[0] = 1.0
