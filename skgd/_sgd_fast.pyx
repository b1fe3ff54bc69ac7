# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled (mini-)batch SGD loop: one pass over the samples for one target.

Python decides (step sizes, codes, shapes, shuffling); this module only loops.
The losses' Python twins and their codes live in ``skgd._loss.LOSSES``;
the schedules in ``skgd._schedules.SCHEDULES``, which give the loop the step
of every update of a pass. Every array is owned by the caller and updated in
place, so an epoch can be retried on copies and nothing is lost on failure.
"""
from libc.math cimport INFINITY, NAN, copysign, exp, expm1, fabs, log, log1p, pow
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from cpython.exc cimport PyErr_Occurred
import threading

cdef extern from "Python.h":
    # Declared without an exception value so that the loop, not Cython, decides
    # what an exception raised by a signal handler does: it ends the pass.
    int _check_signals "PyErr_CheckSignals"() noexcept
    unsigned long PyThread_get_thread_ident() noexcept nogil

cdef extern from *:
    """
    #if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <xmmintrin.h>
    #define SKGD_PREFETCH(address) _mm_prefetch((const char *)(address), _MM_HINT_T0)
    #elif defined(__GNUC__) || defined(__clang__)
    #define SKGD_PREFETCH(address) __builtin_prefetch(address)
    #else
    #define SKGD_PREFETCH(address) ((void)(address))
    #endif
    """
    void _prefetch "SKGD_PREFETCH"(const void *address) noexcept nogil

# How many samples ahead a pass asks for a row: a shuffled pass jumps through
# X, and each jump would otherwise wait on memory.
cdef enum:
    PREFETCH_DISTANCE = 4

# How many samples a pass runs between two looks for a signal (Ctrl-C): a few
# milliseconds of work at most, a few microseconds of it spent looking.
cdef enum:
    SIGNAL_INTERVAL = 4096

# Signal handlers run in the main thread only: other threads never look.
cdef unsigned long _MAIN_THREAD = threading.main_thread().ident

ctypedef fused floating:
    float
    double

# The sample order: int32 positions unless X has 2**31 rows or more.
ctypedef fused index_t:
    int
    Py_ssize_t

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

#: The loop's losses by ``Loss.name``: each one's code (0 to LOSS_COUNT - 1),
#: which ``Loss.code`` reads; a test holds the names to skgd._loss.LOSSES.
LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "huber": HUBER,
    "epsilon_insensitive": EPSILON_INSENSITIVE,
    "squared_epsilon_insensitive": SQUARED_EPSILON_INSENSITIVE,
    "absolute_error": ABSOLUTE_ERROR,
    "quantile": QUANTILE,
    "poisson": POISSON,
    "gamma": GAMMA,
    "tweedie": TWEEDIE,
}
if sorted(LOSS_CODES.values()) != list(range(LOSS_COUNT)):
    raise ImportError("skgd._sgd_fast: LOSS_CODES must name each loss code 0 to LOSS_COUNT - 1 once.")

# Slots of the per-target scalar state array (see ``sgd_epoch``'s ``scalars``).
cdef enum:
    S_INTERCEPT = 0
    S_VELOCITY_B = 1
    S_AVERAGE_B = 2
    S_L1_U = 3
    S_T = 4
    S_N_AVERAGED = 5


cdef int _known_code(int code, int n_codes, str kind) except -1:
    # Every entry point checks its codes here, with the GIL: the nogil
    # dispatch below cannot raise (it returns NaN for a code it lacks).
    if code < 0 or code >= n_codes:
        raise ValueError(f"Unknown {kind} code {code}: the compiled loop knows 0 to {n_codes - 1}.")
    return code


cdef inline bint _interrupted(Py_ssize_t done, Py_ssize_t *next_check) noexcept nogil:
    # Whether a signal handler raised (Ctrl-C's KeyboardInterrupt), looked at
    # once ``done`` samples of the pass reach ``next_check``: the pass then
    # stops where it is, and ``sgd_epoch`` raises the handler's exception (the
    # caller's arrays are half-way through a pass, which the caller discards).
    if done < next_check[0]:
        return False
    next_check[0] = done + SIGNAL_INTERVAL
    if PyThread_get_thread_ident() != _MAIN_THREAD:
        return False
    with gil:
        return _check_signals() != 0


cdef int _raise_pending() except -1:
    # Raise the exception a signal handler left set during a pass, if any.
    return -1 if PyErr_Occurred() != NULL else 0


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


def loss_and_derivative(int code, double p, double y, double param):
    """Return the compiled loss and its derivative in ``p`` at predictor ``p`` and target ``y``.

    The twin of ``skgd._loss`` losses, exposed so tests can compare them.

    Parameters
    ----------
    code : int
        ``Loss.code`` of a loss of ``skgd._loss.LOSSES`` (its entry in ``LOSS_CODES``).
    p : float
        Linear predictor ``x . w + b``.
    y : float
        Target.
    param : float
        ``Loss.parameter`` (epsilon for huber and the epsilon-insensitive losses, q for quantile,
        the power for tweedie).

    Returns
    -------
    loss, derivative : tuple of float

    Raises
    ------
    ValueError
        If ``code`` is not a loss code.
    """
    _known_code(code, LOSS_COUNT, "loss")
    return _loss(code, p, y, param), _dloss(code, p, y, param)


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


cdef inline double _row_squares(const floating *data, int nnz) noexcept nogil:
    cdef double total = 0.0
    cdef int k
    for k in range(nnz):
        total += data[k] * data[k]
    return total


cdef inline double _row_dot(const floating *data, const int *ind, int nnz,
                            const floating *w) noexcept nogil:
    # A row is summed in four independent chains so the additions overlap
    # (a single chain waits on each addition's latency); a row of fewer than
    # four entries is summed exactly as written.
    cdef double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0
    cdef int k = 0
    if ind == NULL:
        while k + 4 <= nnz:
            acc0 += data[k] * w[k]
            acc1 += data[k + 1] * w[k + 1]
            acc2 += data[k + 2] * w[k + 2]
            acc3 += data[k + 3] * w[k + 3]
            k += 4
        while k < nnz:
            acc0 += data[k] * w[k]
            k += 1
    else:
        while k + 4 <= nnz:
            acc0 += data[k] * w[ind[k]]
            acc1 += data[k + 1] * w[ind[k + 1]]
            acc2 += data[k + 2] * w[ind[k + 2]]
            acc3 += data[k + 3] * w[ind[k + 3]]
            k += 4
        while k < nnz:
            acc0 += data[k] * w[ind[k]]
            k += 1
    return (acc0 + acc1) + (acc2 + acc3)


cdef inline void _row_axpy(const floating *data, const int *ind, int nnz,
                           double a, floating *w) noexcept nogil:
    cdef int k
    if ind == NULL:
        for k in range(nnz):
            w[k] += a * data[k]
    else:
        for k in range(nnz):
            w[ind[k]] += a * data[k]


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


cdef enum:
    # Binary powers kept of the untouched-coordinate map (enough for 2**62 updates),
    # and the doubles each one takes: its 2x2 matrix and the row that adds up w.
    MAX_POWERS = 63
    POWER_SIZE = 6


cdef void _untouched_powers(double eta, double l2, double momentum, bint nesterov,
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


cdef inline void _square_power(const double *P, double *Q) noexcept nogil:
    # The next level of ``_untouched_powers``: (A, c) for k steps to (A A, c + c A) for 2k.
    Q[0] = P[0] * P[0] + P[1] * P[2]
    Q[1] = P[0] * P[1] + P[1] * P[3]
    Q[2] = P[2] * P[0] + P[3] * P[2]
    Q[3] = P[2] * P[1] + P[3] * P[3]
    Q[4] = P[4] + P[4] * P[0] + P[5] * P[2]
    Q[5] = P[5] + P[4] * P[1] + P[5] * P[3]


cdef inline void _catch_up(int j, Py_ssize_t now, Py_ssize_t *last, floating *w,
                           floating *velocity, double *w_sum, const double *powers) noexcept nogil:
    # Bring coefficient j (and its velocity, and its running sum when w_sum is
    # not NULL) through the untouched steps since last[j], to step ``now``:
    # one product with the level-i power for each bit i of the count.
    cdef Py_ssize_t k = now - last[j]
    cdef double x = w[j], v = velocity[j], s, x_next
    cdef const double *P = powers
    if x == 0.0 and v == 0.0:  # at rest it stays there (and adds nothing to the sum)
        last[j] = now
        return
    s = w_sum[j] if w_sum != NULL else 0.0
    while k:
        if k & 1:
            s += P[4] * x + P[5] * v
            x_next = P[0] * x + P[1] * v
            v = P[2] * x + P[3] * v
            x = x_next
        k >>= 1
        P += POWER_SIZE
    w[j] = x
    velocity[j] = v
    if w_sum != NULL:
        w_sum[j] = s
    last[j] = now


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


cdef inline void _row_axpy_d(const floating *data, const int *ind, int nnz,
                             double a, double *g) noexcept nogil:
    cdef int k
    if ind == NULL:
        for k in range(nnz):
            g[k] += a * data[k]
    else:
        for k in range(nnz):
            g[ind[k]] += a * data[k]


cdef double _epoch(
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
        if w_avg != NULL and scal[S_N_AVERAGED] > 0.0:
            w_sum = w_avg
            for j in range(n_features):
                w_sum[j] *= scal[S_N_AVERAGED]

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
                coeff = -eta * dl[jj - start] / wscale
                if coeff != 0.0:
                    i = order[jj]
                    if dense:
                        _row_axpy(data + i * n_features, NULL, n_features, coeff, w)
                        if avg_a != 0.0:
                            _row_axpy_d(data + i * n_features, NULL, n_features, -avg_a * coeff, w_avg)
                    else:
                        _row_axpy(data + indptr[i], indices + indptr[i],
                                  indptr[i + 1] - indptr[i], coeff, w)
                        if avg_a != 0.0:
                            _row_axpy_d(data + indptr[i], indices + indptr[i],
                                        indptr[i + 1] - indptr[i], -avg_a * coeff, w_avg)
        else:
            # Heavy-ball / Nesterov momentum, as MLPRegressor's SGD optimizer.
            if lazy:
                # The stored features of the batch take their step here, each
                # once (last[j] moves past this step when it is taken), with
                # the cumulative L1 penalty and the running sum after it.
                for jj in range(start, stop):
                    i = order[jj]
                    _row_axpy_d(data + indptr[i], indices + indptr[i],
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
                        _row_axpy_d(data + i * n_features, NULL, n_features, dl[jj - start], g)
                    else:
                        _row_axpy_d(data + indptr[i], indices + indptr[i],
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

        # The cumulative L1 penalty: on every feature of dense rows, on the
        # stored features of CSR rows (lazy momentum applied it above).
        if l1 > 0.0 and not lazy:
            if dense:
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


cdef double _conditioned_epoch(
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
    cdef double x = w[j], v, s, x_next
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
            s += P[4] * x + P[5] * v
            x_next = P[0] * x + P[1] * v
            v = P[2] * x + P[3] * v
            x = x_next
        k >>= 1
        if k:
            _square_power(P, Q)
            P[0], P[1], P[2], P[3], P[4], P[5] = Q[0], Q[1], Q[2], Q[3], Q[4], Q[5]
    w[j] = x
    velocity[j] = v
    if w_sum != NULL:
        w_sum[j] = s


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


cdef double _scaled_csr_epoch(
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
    if w_avg != NULL and scal[S_N_AVERAGED] > 0.0:
        w_sum = w_avg
        for j in range(n_features):
            w_sum[j] *= scal[S_N_AVERAGED]

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


cdef inline uint64_t _splitmix64(uint64_t *state) noexcept nogil:
    # One draw of the splitmix64 generator (Steele, Lea and Flood, 2014).
    cdef uint64_t z
    state[0] += <uint64_t> 0x9E3779B97F4A7C15
    z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline uint64_t _below(uint64_t bound, uint64_t *state) noexcept nogil:
    # A uniform integer in [0, bound): Lemire's multiply-and-reject for bounds
    # below 2**32; above, a remainder of a draw from the largest multiple of
    # bound (the draws below 2**64 mod bound are rejected).
    cdef uint64_t m, x, skip
    cdef uint32_t low, threshold
    if bound > <uint64_t> 0xFFFFFFFF:
        skip = (<uint64_t> 0 - bound) % bound
        x = _splitmix64(state)
        while x < skip:
            x = _splitmix64(state)
        return x % bound
    m = (_splitmix64(state) >> 32) * bound
    low = <uint32_t> m
    if low < bound:
        threshold = <uint32_t> ((<uint32_t> 0 - <uint32_t> bound) % <uint32_t> bound)
        while low < threshold:
            m = (_splitmix64(state) >> 32) * bound
            low = <uint32_t> m
    return m >> 32


def shuffle(index_t[::1] order, uint64_t seed):
    """Shuffle ``order`` in place: a Fisher-Yates pass without the GIL.

    Every permutation is equally likely; the draws come from a splitmix64
    stream started at ``seed``, so a seed gives one order.

    Parameters
    ----------
    order : memoryview of int32 or intp
        Updated in place.
    seed : int
        Start of the random stream, in ``[0, 2**64)``.
    """
    cdef Py_ssize_t i, j
    cdef index_t swap
    cdef uint64_t state = seed
    with nogil:
        for i in range(order.shape[0] - 1, 0, -1):
            j = <Py_ssize_t> _below(<uint64_t> (i + 1), &state)
            swap = order[i]
            order[i] = order[j]
            order[j] = swap


def _any_nonzero(const double[::1] values):
    # Whether a shift centres anything (CSR rows take a zero one).
    cdef Py_ssize_t k
    for k in range(values.shape[0]):
        if values[k] != 0.0:
            return True
    return False


def _equal_weights(const floating[::1] sample_weight, const index_t[::1] order):
    # Whether every visited row has the same weight (lazy momentum's penalty share is then constant).
    cdef Py_ssize_t k
    for k in range(1, order.shape[0]):
        if sample_weight[order[k]] != sample_weight[order[0]]:
            return False
    return True


def sgd_epoch(
    const floating[::1] data,
    const int[::1] indices,
    const int[::1] indptr,
    int n_features,
    const floating[::1] y,
    const floating[::1] sample_weight,
    const index_t[::1] order,
    floating[::1] coef,
    double[::1] scalars,
    floating[::1] velocity,
    double[::1] coef_average,
    double[::1] l1_accumulated,
    *,
    int loss_code,
    double loss_param,
    const double[::1] steps,
    double l2,
    double l1,
    double momentum,
    bint nesterov,
    int batch_size,
    bint fit_intercept,
    double average_start,
    const double[::1] shift=None,
    const double[::1] scale=None,
    double max_change=0.0,
):
    """Run one pass of (mini-)batch SGD over ``order`` for one target.

    Parameters
    ----------
    data, indices, indptr : memoryviews
        Dense C-ordered X flattened (``indices`` and ``indptr`` empty), or the
        three arrays of a CSR matrix with int32 indices.
    n_features : int
        Number of columns of X.
    y : memoryview of shape (n_samples,)
        One target.
    sample_weight : memoryview of shape (n_samples,)
        Each multiplies its sample's step (as SGDRegressor's).
    order : memoryview of int32 or intp
        The sample order of this pass.
    coef : memoryview of shape (n_features,)
        Coefficients, updated in place.
    scalars : memoryview of float64, shape (6,)
        Intercept, its velocity, averaged intercept, accumulated L1 step,
        update count, number of averaged updates; updated in place.
    velocity, coef_average, l1_accumulated : memoryviews
        Momentum buffer (X's dtype), averaged coefficients and per-feature
        applied L1 penalty (float64); each of length ``n_features`` when its
        feature is on, else empty.
    loss_code, loss_param
        ``Loss.code`` and ``Loss.parameter`` of the loss.
    steps : memoryview of float64
        The step size of each update of the pass, in order: one per batch of
        ``batch_size`` samples (``skgd._schedules.Schedule.steps``); or a
        single step that every update of the pass takes (a schedule constant
        within the pass), which also lets momentum on CSR rows be lazy.
    l2, l1, momentum, nesterov, batch_size, fit_intercept, average_start
        The step's settings, already decided by the caller. ``l2`` and ``l1``
        are ``alpha * (1 - rho)`` and ``alpha * rho``; ``average_start`` is the
        update count at which averaging begins (0 for none).
    shift, scale : memoryviews of float64 of shape (n_features,), default=None
        Conditioning of dense rows: the pass runs in the coordinates of
        ``z = (x - shift) * scale``, ``coef`` (and ``coef_average``) hold the
        coefficients ``v`` of z and ``scalars``' intercept is z's, so the
        user's coefficients are ``scale * v`` and intercept ``c - shift . (scale * v)``.
        The penalty stays the user's: per coordinate ``l2 * scale_j**2 * v_j**2 / 2``
        and ``l1 * |scale_j| * |v_j|`` (``l1_accumulated`` in v's units). None
        (or empty) for none; both or neither on dense rows. CSR rows take a
        positive ``scale`` with a zero (or no) ``shift``: ``z = x * scale``,
        uncentred, so a row keeps its zeros and a step its O(nnz) cost.
    max_change : float, default=0.0
        ``Loss.max_change``: the largest change one sample's step may make to
        its own linear predictor, ``eta * |sample_weight * dl/dp| *
        (||z||^2 + fit_intercept)`` (the step shrunk to it, before a
        mini-batch's averaging); 0 for no cap.

    Returns
    -------
    sum_loss : float
        Sum over the pass of ``sample_weight * loss`` evaluated just before
        each sample's update.

    Raises
    ------
    ValueError
        If ``batch_size`` is below 1, the loss code is unknown, ``steps``
        holds neither one step nor one per update, ``shift`` and ``scale`` are not both of length ``n_features`` on
        dense rows, or CSR rows are given a non-zero ``shift`` or a ``scale`` of another length, before any work.
    KeyboardInterrupt
        Or whatever else a signal handler raises: the main thread looks for
        signals every few thousand samples, and stops the pass there, with
        ``coef`` and the other arrays half-way through it.

    Notes
    -----
    On CSR rows a step costs O(nnz of the batch): plain steps shrink through
    a lazy weight scale, and momentum steps with a constant step size leave
    the coefficients the batch does not store behind, to be brought up to
    date exactly when next read (their steps are a fixed linear map). The
    cumulative L1 penalty is applied to the batch's stored features only;
    on dense rows, to every feature. Scaled CSR rows keep that cost: the L2
    shrink of a column differs from column to column, so the columns a batch
    does not store are brought up to date lazily too (their own linear map),
    except where that shrink changes within the pass (a decaying step or
    unequal weights with L2), where every column takes every step.
    """
    cdef Py_ssize_t n_samples = order.shape[0]
    cdef double result
    cdef double *g = NULL
    cdef double *dl = NULL
    cdef Py_ssize_t *last = NULL
    cdef double *log_shrink = NULL
    # Momentum on CSR rows is lazy (O(nnz) a step) when the step is the same
    # for the whole pass: a single step and equal weights (a weight scales its
    # step's penalty share); otherwise (invscaling changes the step every
    # update) the untouched coefficients take their steps eagerly, as on
    # dense rows.
    cdef bint csr = indptr.shape[0] > 0
    cdef bint lazy = (
        momentum != 0.0 and csr and steps.shape[0] == 1 and _equal_weights(sample_weight, order)
    )
    cdef Py_ssize_t n_updates, step_stride = 0 if steps.shape[0] == 1 else 1
    cdef Py_ssize_t n_shift = 0 if shift is None else shift.shape[0]
    cdef Py_ssize_t n_scale = 0 if scale is None else scale.shape[0]
    cdef bint conditioned = n_scale > 0
    # Scaled CSR rows (``_scaled_csr_epoch``) track the columns a batch does
    # not store when anything but a row moves them, and take them along every
    # step (eager) when their L2 shrink changes within the pass.
    cdef bint scaled_eager = False
    _known_code(loss_code, LOSS_COUNT, "loss")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    n_updates = (n_samples + batch_size - 1) // batch_size
    if steps.shape[0] != 1 and steps.shape[0] != n_updates:
        raise ValueError(
            f"steps must hold one step for the pass or one per update ({n_updates} for {n_samples} samples "
            f"in batches of {batch_size}); got {steps.shape[0]}."
        )
    if csr and n_shift > 0 and _any_nonzero(shift):
        raise ValueError("shift centres dense rows; CSR rows take a scale alone (a zero shift).")
    if csr and conditioned:
        if n_scale != n_features:
            raise ValueError(f"scale must have n_features={n_features} elements; got {n_scale}.")
        scaled_eager = l2 > 0.0 and not (steps.shape[0] == 1 and _equal_weights(sample_weight, order))
        lazy = not scaled_eager and (momentum != 0.0 or l2 > 0.0 or coef_average.shape[0] > 0)
    elif n_shift > 0 or n_scale > 0:
        if n_shift != n_features or n_scale != n_features:
            raise ValueError(
                f"shift and scale must both have n_features={n_features} elements; "
                f"got {n_shift} and {n_scale}."
            )
    dl = <double *> malloc(batch_size * sizeof(double))
    if momentum != 0.0 or conditioned:
        g = <double *> calloc(max(n_features, 1), sizeof(double))
    if lazy:
        last = <Py_ssize_t *> calloc(max(n_features, 1), sizeof(Py_ssize_t))
    if lazy and csr and conditioned and l2 > 0.0 and momentum == 0.0:
        log_shrink = <double *> malloc(max(n_features, 1) * sizeof(double))
        if log_shrink == NULL:
            free(last)
            last = NULL
    if dl == NULL or ((momentum != 0.0 or conditioned) and g == NULL) or (lazy and last == NULL):
        free(dl)
        free(g)
        free(last)
        raise MemoryError()
    with nogil:
        if csr and conditioned:
            result = _scaled_csr_epoch(
                &data[0] if data.shape[0] > 0 else NULL,
                &indices[0] if indices.shape[0] > 0 else NULL,
                &indptr[0], n_features, &y[0], &sample_weight[0], &order[0], n_samples, &scale[0],
                &coef[0] if coef.shape[0] > 0 else NULL, &scalars[0],
                &velocity[0] if velocity.shape[0] > 0 else NULL,
                &coef_average[0] if coef_average.shape[0] > 0 else NULL,
                &l1_accumulated[0] if l1_accumulated.shape[0] > 0 else NULL,
                g, dl, last, log_shrink, loss_code, loss_param, &steps[0], step_stride, l2, l1,
                momentum, nesterov, batch_size, fit_intercept, average_start, max_change, scaled_eager,
            )
        elif conditioned:
            result = _conditioned_epoch(
                &data[0] if data.shape[0] > 0 else NULL, n_features,
                &y[0], &sample_weight[0], &order[0], n_samples, &shift[0], &scale[0],
                &coef[0], &scalars[0],
                &velocity[0] if velocity.shape[0] > 0 else NULL,
                &coef_average[0] if coef_average.shape[0] > 0 else NULL,
                &l1_accumulated[0] if l1_accumulated.shape[0] > 0 else NULL,
                g, loss_code, loss_param, &steps[0], step_stride, l2, l1,
                momentum, nesterov, batch_size, fit_intercept, average_start, max_change,
            )
        else:
            result = _epoch(
                &data[0] if data.shape[0] > 0 else NULL,
                &indices[0] if indices.shape[0] > 0 else NULL,
                &indptr[0] if indptr.shape[0] > 0 else NULL,
                n_features, &y[0], &sample_weight[0], &order[0], n_samples,
                &coef[0] if coef.shape[0] > 0 else NULL, &scalars[0],
                &velocity[0] if velocity.shape[0] > 0 else NULL,
                &coef_average[0] if coef_average.shape[0] > 0 else NULL,
                &l1_accumulated[0] if l1_accumulated.shape[0] > 0 else NULL,
                g, dl, last, loss_code, loss_param, &steps[0], step_stride, l2, l1,
                momentum, nesterov, batch_size, fit_intercept, average_start, max_change,
            )
    free(dl)
    free(g)
    free(last)
    free(log_shrink)
    _raise_pending()
    return result
