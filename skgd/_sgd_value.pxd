# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""J's data term in one read of dense or CSR rows: the weighted loss summed over the rows, in order."""
from libc.math cimport NAN

from ._sgd_interrupt cimport _interrupted, SIGNAL_INTERVAL
from ._sgd_losses cimport _loss
from ._sgd_rows cimport _row_dot, floating


cdef inline double _loss_sum(
    const floating *data, const int *indices, const int *indptr, int n_features,
    const floating *y, const floating *sw, Py_ssize_t n_samples, const floating *w, double b,
    int loss_code, double loss_param,
) noexcept nogil:
    # sum_i s_i * l(x_i . w + b, y_i), added row after row; a row of zero
    # weight (held out) is not read. NaN when a signal handler raised.
    cdef Py_ssize_t i, next_check = SIGNAL_INTERVAL
    cdef double total = 0.0, p
    for i in range(n_samples):
        if _interrupted(i, &next_check):
            return NAN
        if sw[i] == 0.0:
            continue
        if indptr == NULL:
            p = _row_dot(data + i * n_features, NULL, n_features, w) + b
        else:
            p = _row_dot(data + indptr[i], indices + indptr[i], indptr[i + 1] - indptr[i], w) + b
        total += sw[i] * _loss(loss_code, p, y[i], loss_param)
    return total
