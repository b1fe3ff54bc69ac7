# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The sgd pass in conditioned coordinates: dense rows centred and scaled, CSR rows scaled (lazy per-column maps)."""
from libc.math cimport INFINITY, NAN, fabs, log1p

from ._sgd_interrupt cimport _interrupted, SIGNAL_INTERVAL
from ._sgd_lazy cimport MAX_POWERS, POWER_SIZE, _catch_up_scaled, _running_sum, _untouched_powers
from ._sgd_rows cimport PREFETCH_DISTANCE, _prefetch, floating, index_t
from ._sgd_rule cimport (
    S_INTERCEPT, S_L1_U, S_N_AVERAGED, _count_update, _intercept_step, _l1_truncate, _momentum_update,
    _sample_derivative, _shrink,
)


cdef inline double _conditioned_epoch(
    const floating *data, int n_features, const floating *y, const floating *sw,
    const index_t *order, Py_ssize_t n_samples, const double *shift, const double *scale,
    floating *v, double *scal, floating *velocity, double *v_avg, double *q, double *g,
    int loss_code, double loss_param, const double *steps, Py_ssize_t step_stride,
    double l2, double l1, double momentum, bint nesterov, int batch_size,
    bint fit_intercept, double average_start, double max_change,
) noexcept nogil:
    # Steps as in ``_epoch``. SGD in conditioned coordinates on dense rows: the loop sees the row
    # z = (x - shift) * scale, formed as it reads x, and ``v`` holds the
    # coefficients of z (the user's are w = scale * v). The penalty stays the
    # user's R(w): per coordinate, l2 * scale_j**2 * v_j**2 / 2 and
    # l1 * |scale_j| * |v_j|. So the L2 shrink differs from coordinate to
    # coordinate and is applied eagerly (no lazy scale: the rows are dense
    # anyway), the cumulative L1 threshold of coordinate j is u * |scale_j|,
    # and the average is kept eagerly.
    cdef Py_ssize_t start, stop, jj, i, nb, offset, step = 0, next_check = SIGNAL_INTERVAL
    cdef const char *ahead
    cdef const floating *row
    cdef int j
    cdef double eta, p, d, reach, gb, k, pw, sumloss = 0.0
    cdef double b = scal[S_INTERCEPT]

    start = 0
    while start < n_samples:
        if _interrupted(start, &next_check):
            return NAN
        stop = min(start + batch_size, n_samples)
        nb = stop - start
        eta = steps[step * step_stride]
        # Residuals of the (mini-)batch at the current iterate, and the
        # gradient of its loss in v.
        gb = 0.0
        pw = 0.0  # the batch's mean weight: the penalty's share of the step, as in _epoch
        for j in range(n_features):
            g[j] = 0.0
        for jj in range(start, stop):
            pw += sw[order[jj]]
            if jj + PREFETCH_DISTANCE < n_samples:
                ahead = <const char *> (data + order[jj + PREFETCH_DISTANCE] * n_features)
                for offset in range(0, n_features * <Py_ssize_t> sizeof(floating), 64):
                    _prefetch(ahead + offset)
            i = order[jj]
            row = data + i * n_features
            p = b
            for j in range(n_features):
                p += (row[j] - shift[j]) * scale[j] * v[j]
            reach = 0.0
            if max_change > 0.0:
                for j in range(n_features):
                    reach += ((row[j] - shift[j]) * scale[j]) * ((row[j] - shift[j]) * scale[j])
            d = _sample_derivative(loss_code, p, y[i], sw[i], loss_param, eta * (reach + fit_intercept),
                                   max_change, nb, &sumloss)
            gb += d
            for j in range(n_features):
                g[j] += d * ((row[j] - shift[j]) * scale[j])
        pw /= nb

        if momentum == 0.0:
            for j in range(n_features):
                v[j] = _shrink(eta * l2 * pw * scale[j] * scale[j]) * v[j] - eta * g[j]
        else:
            for j in range(n_features):
                v[j] += _momentum_update(velocity, j, g[j] + l2 * pw * scale[j] * scale[j] * v[j],
                                         momentum, eta, nesterov)
        if fit_intercept:
            b += _intercept_step(scal, gb, eta, momentum, nesterov)
        if l1 > 0.0:
            scal[S_L1_U] += eta * l1 * pw
            for j in range(n_features):
                _l1_truncate(v, j, 1.0, q, scal[S_L1_U] * fabs(scale[j]))

        step += 1
        k = _count_update(scal, b, average_start)
        if k > 0.0:
            for j in range(n_features):
                # The first averaged iterate is the iterate itself.
                v_avg[j] = v[j] if k == 1.0 else v_avg[j] + (v[j] - v_avg[j]) / k
        start = stop

    scal[S_INTERCEPT] = b
    return sumloss


cdef inline void _scaled_step(int j, floating *w, floating *velocity, double *g, double eta, double l2_j,
                              double momentum, bint nesterov) noexcept nogil:
    # One step of column j of ``_scaled_csr_epoch`` on its data gradient g[j]
    # (zeroed here) and its own L2 gradient l2_j * w[j] (l2_j = l2 * pw *
    # scale_j**2): plain (the shrink 1 - eta * l2_j held at zero or above, as
    # ``_conditioned_epoch``'s) or momentum.
    cdef double c = eta * l2_j
    if momentum == 0.0:
        w[j] = _shrink(c) * w[j] - eta * g[j]
    else:
        w[j] += _momentum_update(velocity, j, g[j] + l2_j * w[j], momentum, eta, nesterov)
    g[j] = 0.0


cdef inline double _scaled_csr_epoch(
    const floating *data, const int *indices, const int *indptr,
    int n_features, const floating *y, const floating *sw, const index_t *order,
    Py_ssize_t n_samples, const double *scale, floating *w, double *scal, floating *velocity,
    double *w_avg, double *q, double *g, double *dl, Py_ssize_t *last, double *log_shrink,
    int loss_code, double loss_param, const double *steps, Py_ssize_t step_stride,
    double l2, double l1, double momentum, bint nesterov, int batch_size,
    bint fit_intercept, double average_start, double max_change, bint eager,
) noexcept nogil:
    # Steps as in ``_epoch``, on CSR rows in the coordinates of z = x * scale
    # (uncentred: a row keeps its zeros): ``w`` holds the coefficients v of z
    # (the user's are scale * v), the intercept is stepped as the user's, and
    # the penalty stays the user's R(scale * v), as in ``_conditioned_epoch``:
    # L2 shrinks column j by eta * l2 * pw * scale_j**2 a step, the cumulative
    # L1 threshold of column j is u * scale_j.
    #
    # A step costs O(nnz of the batch). Without L2, momentum or averaging a
    # column changes only where a row stores it. Otherwise a column the batch
    # does not store follows a linear map of its own (``_catch_up_scaled``),
    # left behind and brought up to date when a row reads it, when averaging
    # begins and at the end of the pass; ``last[j]`` is the step it is up to
    # date with, ``g`` the batch's data gradient on its stored columns (zero
    # between steps), and with averaging ``w_avg`` holds the running sum of
    # the iterates during the pass. That map is fixed through the pass unless
    # L2's shrink changes from step to step (a decaying step, unequal
    # weights): then (``eager``) every column takes every step. Lazy plain
    # steps with L2 keep each column's log shrink in ``log_shrink``.
    cdef Py_ssize_t start, stop, jj, i, nb, offset, ahead_end, step = 0, next_check = SIGNAL_INTERVAL
    cdef const char *ahead
    cdef int j, nnz, kk
    cdef const floating *row
    cdef const int *ind
    cdef double eta, p, d, reach, z, gb, pw, unit = 0.0, sumloss = 0.0
    cdef double b = scal[S_INTERCEPT]
    cdef bint lazy = last != NULL  # the caller gives it when L2, momentum or averaging moves a column
    # Eager momentum carries the columns a batch does not store, perhaps
    # across zero: with L1 each takes the cumulative penalty every step.
    cdef bint drifts = l1 > 0.0 and momentum != 0.0
    cdef double *w_sum = NULL  # the running sum of the iterates, once averaging runs
    cdef double powers[MAX_POWERS * POWER_SIZE]

    if lazy:
        if l2 > 0.0:
            # The caller keeps the pass lazy with L2 only for one step and equal weights.
            unit = steps[0] * l2 * sw[order[0]]
            if momentum == 0.0:
                for j in range(n_features):
                    d = unit * scale[j] * scale[j]
                    log_shrink[j] = log1p(-d) if d < 1.0 else -INFINITY
        elif momentum != 0.0:
            _untouched_powers(steps[0], 0.0, momentum, nesterov, powers)
    w_sum = _running_sum(w_avg, n_features, scal)

    start = 0
    while start < n_samples:
        if _interrupted(start, &next_check):
            return NAN
        stop = min(start + batch_size, n_samples)
        nb = stop - start
        eta = steps[step * step_stride]
        gb = 0.0
        pw = 0.0  # the batch's mean weight: the penalty's share of the step, as in _epoch
        for jj in range(start, stop):
            pw += sw[order[jj]]
            if jj + PREFETCH_DISTANCE < n_samples:
                i = order[jj + PREFETCH_DISTANCE]
                ahead, ahead_end = <const char *> (data + indptr[i]), (indptr[i + 1] - indptr[i]) * sizeof(floating)
                for offset in range(0, ahead_end, 64):
                    _prefetch(ahead + offset)
                _prefetch(y + i)
                _prefetch(sw + i)
            i = order[jj]
            row = data + indptr[i]
            ind = indices + indptr[i]
            nnz = indptr[i + 1] - indptr[i]
            p = b
            reach = 0.0
            for kk in range(nnz):
                j = ind[kk]
                if lazy:
                    _catch_up_scaled(j, step, last, w, velocity, w_sum, powers,
                                     unit * scale[j] * scale[j], log_shrink, momentum, nesterov)
                z = row[kk] * scale[j]
                p += z * w[j]
                reach += z * z
            d = _sample_derivative(loss_code, p, y[i], sw[i], loss_param, eta * (reach + fit_intercept),
                                   max_change, nb, &sumloss)
            dl[jj - start] = d
            gb += d
            if lazy or eager:
                for kk in range(nnz):
                    j = ind[kk]
                    g[j] += d * row[kk] * scale[j]
        pw /= nb
        if not (lazy or eager):
            # Nothing but the rows moves a column: the batch's rows step their own (g unused).
            for jj in range(start, stop):
                d = -eta * dl[jj - start]
                if d != 0.0:
                    i = order[jj]
                    for kk in range(indptr[i], indptr[i + 1]):
                        j = indices[kk]
                        w[j] += d * data[kk] * scale[j]
        if l1 > 0.0:
            scal[S_L1_U] += eta * l1 * pw

        if eager:
            for j in range(n_features):
                _scaled_step(j, w, velocity, g, eta, l2 * pw * scale[j] * scale[j], momentum, nesterov)
        if lazy:
            # Each stored column takes its step once (last[j] moves past this step).
            for jj in range(start, stop):
                i = order[jj]
                for kk in range(indptr[i], indptr[i + 1]):
                    j = indices[kk]
                    if last[j] != step:
                        continue
                    _scaled_step(j, w, velocity, g, eta, l2 * pw * scale[j] * scale[j], momentum, nesterov)
                    if l1 > 0.0:
                        _l1_truncate(w, j, 1.0, q, scal[S_L1_U] * scale[j])
                    if w_sum != NULL:
                        w_sum[j] += w[j]
                    last[j] = step + 1
        elif drifts:
            # Momentum moved every column: each takes the cumulative L1 penalty.
            for j in range(n_features):
                _l1_truncate(w, j, 1.0, q, scal[S_L1_U] * scale[j])
        elif l1 > 0.0:
            # The cumulative L1 penalty on the batch's stored columns.
            for jj in range(start, stop):
                i = order[jj]
                for kk in range(indptr[i], indptr[i + 1]):
                    j = indices[kk]
                    _l1_truncate(w, j, 1.0, q, scal[S_L1_U] * scale[j])
        if eager and w_sum != NULL:
            for j in range(n_features):
                w_sum[j] += w[j]
        if fit_intercept:
            b += _intercept_step(scal, gb, eta, momentum, nesterov)

        step += 1
        if _count_update(scal, b, average_start) == 1.0:
            # The first averaged iterate is the iterate itself.
            for j in range(n_features):
                if lazy:
                    _catch_up_scaled(j, step, last, w, velocity, NULL, powers,
                                     unit * scale[j] * scale[j], log_shrink, momentum, nesterov)
                w_avg[j] = w[j]
            w_sum = w_avg
        start = stop

    if lazy:
        for j in range(n_features):
            _catch_up_scaled(j, step, last, w, velocity, w_sum, powers, unit * scale[j] * scale[j], log_shrink,
                             momentum, nesterov)
    if w_sum != NULL:
        for j in range(n_features):
            w_avg[j] = w_sum[j] / scal[S_N_AVERAGED]
    scal[S_INTERCEPT] = b
    return sumloss
