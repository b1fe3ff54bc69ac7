# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The sgd pass on dense or CSR rows in the user's coordinates (lazy L2 scale, lazy averaging, lazy momentum)."""
from libc.math cimport NAN

from ._sgd_interrupt cimport _interrupted, SIGNAL_INTERVAL
from ._sgd_lazy cimport MAX_POWERS, POWER_SIZE, _catch_up, _running_sum, _untouched_powers
from ._sgd_rows cimport (
    PREFETCH_DISTANCE, _prefetch, _row_axpy, _row_dot, _row_squares, floating, index_t,
)
from ._sgd_rule cimport (
    S_INTERCEPT, S_L1_U, S_N_AVERAGED, _count_update, _fold_average, _intercept_step, _l1_row, _l1_truncate,
    _momentum_update, _sample_derivative, _shrink,
)


cdef inline double _epoch(
    const floating *data, const int *indices, const int *indptr,
    int n_features, const floating *y, const floating *sw, const index_t *order,
    Py_ssize_t n_samples, floating *w, double *scal, floating *velocity,
    double *w_avg, double *q, double *g, double *dl, Py_ssize_t *last,
    int loss_code, double loss_param, const double *steps, Py_ssize_t step_stride,
    double l2, double l1, double momentum, bint nesterov, int batch_size,
    bint fit_intercept, double average_start, double max_change,
) noexcept nogil:
    # Update k of the pass steps by steps[k * step_stride] (a stride of 0: one
    # step for the whole pass).
    #
    # The coefficients are wscale * w (lazy L2 shrinkage, as scikit-learn's
    # WeightVector); with averaging their running mean is
    # (w_avg + avg_a * w) / avg_b (lazy averaging, as WeightVector's
    # average_a / average_b), so a sparse step costs O(nnz) either way.
    #
    # Momentum on CSR rows is lazy too when ``last`` is given (the caller gives
    # it for a constant step only): a coefficient that the batch does not store
    # follows a fixed linear map (see ``_untouched_powers``), so it is left
    # behind and brought up to date (``_catch_up``) when a row reads it, when
    # averaging begins and at the end of the pass; ``last[j]`` is the step of
    # the pass it is up to date with. ``g`` then holds the batch's data
    # gradient on the stored features only and is zero between steps, and with
    # averaging ``w_avg`` holds the running sum of the iterates during the pass.
    cdef Py_ssize_t start, stop, jj, i, nb, offset, ahead_end, step = 0, next_check = SIGNAL_INTERVAL
    cdef const char *ahead
    cdef int j, nnz, kk
    cdef const floating *row
    cdef const int *ind = NULL
    cdef double eta, p, reach, wscale = 1.0, gb, upd, coeff, k, pw, sumloss = 0.0
    cdef double avg_a = 0.0, avg_b = 1.0
    cdef double b = scal[S_INTERCEPT]
    cdef bint dense = indptr == NULL  # a CSR indptr is never empty; its indices may be
    cdef bint lazy = last != NULL
    cdef double *w_sum = NULL  # lazy momentum's running sum of the iterates, once averaging runs
    cdef double powers[MAX_POWERS * POWER_SIZE]

    if lazy:
        # The caller makes the pass lazy only for equal weights, so the
        # penalty's share (see ``pw`` below) is the same every step.
        _untouched_powers(steps[0], l2 * sw[order[0]], momentum, nesterov, powers)
        w_sum = _running_sum(w_avg, n_features, scal)

    start = 0
    while start < n_samples:
        if _interrupted(start, &next_check):
            return NAN
        stop = min(start + batch_size, n_samples)
        nb = stop - start
        eta = steps[step * step_stride]
        # Residuals of the whole (mini-)batch at the current iterate. A weight
        # multiplies its sample's whole step, penalty included: the penalty
        # takes the batch's mean weight ``pw``, so the steps' fixed point is
        # J's optimum, sum_i s_i l_i / sum_i s_i + R, whatever the weights.
        gb = 0.0
        pw = 0.0
        for jj in range(start, stop):
            pw += sw[order[jj]]
            if jj + PREFETCH_DISTANCE < n_samples:
                # Ask for every cache line of a row to come, and its target and
                # weight. Written out here: in a helper of its own, which has no
                # effect the compiler can see, the compiler drops the prefetches.
                i = order[jj + PREFETCH_DISTANCE]
                if dense:
                    ahead, ahead_end = <const char *> (data + i * n_features), n_features * sizeof(floating)
                else:
                    ahead, ahead_end = <const char *> (data + indptr[i]), (indptr[i + 1] - indptr[i]) * sizeof(floating)
                for offset in range(0, ahead_end, 64):
                    _prefetch(ahead + offset)
                _prefetch(y + i)
                _prefetch(sw + i)
            i = order[jj]
            if dense:
                row = data + i * n_features
                nnz = n_features
            else:
                row = data + indptr[i]
                ind = indices + indptr[i]
                nnz = indptr[i + 1] - indptr[i]
                if lazy:
                    for kk in range(nnz):
                        _catch_up(ind[kk], step, last, w, velocity, w_sum, powers)
            p = wscale * _row_dot(row, ind, nnz, w) + b
            reach = eta * (_row_squares(row, nnz) + fit_intercept) if max_change > 0.0 else 0.0
            dl[jj - start] = _sample_derivative(loss_code, p, y[i], sw[i], loss_param, reach, max_change, nb, &sumloss)
            gb += dl[jj - start]
        pw /= nb

        if l1 > 0.0:
            scal[S_L1_U] += eta * l1 * pw
        if momentum == 0.0:
            if l2 > 0.0:
                wscale *= _shrink(eta * l2 * pw)
                if wscale < 1e-9:
                    if w_avg != NULL:
                        _fold_average(w, n_features, w_avg, &avg_a, &avg_b)
                    for j in range(n_features):
                        w[j] *= wscale
                    wscale = 1.0
            for jj in range(start, stop):
                # (x / 1.0 is x: no division's latency while no L2 shrinks w)
                coeff = -eta * dl[jj - start] if wscale == 1.0 else -eta * dl[jj - start] / wscale
                if coeff != 0.0:
                    i = order[jj]
                    if dense:
                        _row_axpy(data + i * n_features, NULL, n_features, coeff, w)
                        if avg_a != 0.0:
                            _row_axpy(data + i * n_features, NULL, n_features, -avg_a * coeff, w_avg)
                    else:
                        _row_axpy(data + indptr[i], indices + indptr[i],
                                  indptr[i + 1] - indptr[i], coeff, w)
                        if avg_a != 0.0:
                            _row_axpy(data + indptr[i], indices + indptr[i],
                                      indptr[i + 1] - indptr[i], -avg_a * coeff, w_avg)
        else:
            # Heavy-ball / Nesterov momentum, as MLPRegressor's SGD optimizer.
            if lazy:
                # The stored features of the batch take their step here, each
                # once (last[j] moves past this step when it is taken), with
                # the cumulative L1 penalty and the running sum after it.
                for jj in range(start, stop):
                    i = order[jj]
                    _row_axpy(data + indptr[i], indices + indptr[i],
                              indptr[i + 1] - indptr[i], dl[jj - start], g)
                for jj in range(start, stop):
                    i = order[jj]
                    for kk in range(indptr[i], indptr[i + 1]):
                        j = indices[kk]
                        if last[j] != step:
                            continue
                        w[j] += _momentum_update(velocity, j, g[j] + l2 * pw * w[j], momentum, eta, nesterov)
                        g[j] = 0.0
                        if l1 > 0.0:
                            _l1_truncate(w, j, 1.0, q, scal[S_L1_U])
                        if w_sum != NULL:
                            w_sum[j] += w[j]
                        last[j] = step + 1
            else:
                # Eager: the step touches every coefficient.
                for j in range(n_features):
                    g[j] = l2 * pw * w[j]
                for jj in range(start, stop):
                    i = order[jj]
                    if dense:
                        _row_axpy(data + i * n_features, NULL, n_features, dl[jj - start], g)
                    else:
                        _row_axpy(data + indptr[i], indices + indptr[i],
                                  indptr[i + 1] - indptr[i], dl[jj - start], g)
                if avg_a == 0.0:
                    for j in range(n_features):
                        w[j] += _momentum_update(velocity, j, g[j], momentum, eta, nesterov)
                else:
                    for j in range(n_features):
                        upd = _momentum_update(velocity, j, g[j], momentum, eta, nesterov)
                        w[j] += upd
                        w_avg[j] -= avg_a * upd
        if fit_intercept:
            b += _intercept_step(scal, gb, eta, momentum, nesterov)

        # The cumulative L1 penalty: on every feature the step moves (every
        # feature of dense rows and of eager momentum, which carries the
        # features a row does not store, perhaps across zero), on the stored
        # features of plain steps on CSR rows.
        if l1 > 0.0 and not lazy:
            if dense or momentum != 0.0:
                _l1_row(w, wscale, q, NULL, n_features, scal[S_L1_U], w_avg, avg_a)
            else:
                for jj in range(start, stop):
                    i = order[jj]
                    _l1_row(w, wscale, q, indices + indptr[i],
                            indptr[i + 1] - indptr[i], scal[S_L1_U], w_avg, avg_a)

        step += 1
        k = _count_update(scal, b, average_start)
        if k > 0.0:
            if k == 1.0:
                # The first averaged iterate is the iterate itself.
                if lazy:
                    for j in range(n_features):
                        _catch_up(j, step, last, w, velocity, NULL, powers)
                        w_avg[j] = w[j]
                    w_sum = w_avg
                else:
                    for j in range(n_features):
                        w_avg[j] = 0.0
                    avg_a = wscale
                    avg_b = 1.0
            elif not lazy:
                avg_b /= 1.0 - 1.0 / k
                avg_a += avg_b * wscale / k
        start = stop

    if lazy:
        for j in range(n_features):
            _catch_up(j, step, last, w, velocity, w_sum, powers)
        if w_sum != NULL:
            for j in range(n_features):
                w_avg[j] = w_sum[j] / scal[S_N_AVERAGED]
    elif w_avg != NULL:
        _fold_average(w, n_features, w_avg, &avg_a, &avg_b)
    if wscale != 1.0:
        for j in range(n_features):
            w[j] *= wscale
    scal[S_INTERCEPT] = b
    return sumloss
