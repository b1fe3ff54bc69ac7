# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled (mini-)batch SGD loop: one pass over the samples for one target.

Python decides (step sizes, codes, shapes, shuffling); this module only loops.
The losses' Python twins live in ``skgd._loss.LOSSES`` and read their codes
from ``LOSS_CODES`` here; the schedules in ``skgd._schedules.SCHEDULES``,
which give the loop the step of every update of a pass. Every array is owned
by the caller and updated in place, so an epoch can be retried on copies and
nothing is lost on failure.

The loop is cimported pieces, compiled into this one module: the losses'
maths (the twins next to their classes in ``skgd/_loss/*.pxd``, by code in
``_sgd_losses.pxd``, which the build writes), the row kernels (``_sgd_rows.pxd``), the update
rule every epoch takes (``_sgd_rule.pxd``), lazy catch-up (``_sgd_lazy.pxd``),
signal checks (``_sgd_interrupt.pxd``), the pass in the user's coordinates
(``_sgd_epoch.pxd``) and in conditioned ones (``_sgd_scaled.pxd``), and the
loss summed over the rows in one read (``_sgd_value.pxd``).
"""
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from cpython.exc cimport PyErr_Occurred
import threading

from ._sgd_epoch cimport _epoch
from ._sgd_interrupt cimport _set_main_thread
from ._sgd_losses cimport LOSS_COUNT, _dloss, _loss, _loss_names
from ._sgd_rows cimport floating, index_t
from ._sgd_scaled cimport _conditioned_epoch, _scaled_csr_epoch
from ._sgd_value cimport _loss_sum

_set_main_thread(threading.main_thread().ident)


#: The loop's losses by ``Loss.name``: each one's code (0 to LOSS_COUNT - 1),
#: which ``Loss.code`` reads. The build numbers them (``skgd/_loss/_twins.py``
#: writes ``_sgd_losses.pxd`` from the twins next to their classes); a test
#: holds the names to skgd._loss.LOSSES and to the twins in the sources.
LOSS_CODES = {name: code for code, name in enumerate(_loss_names())}
#: How many losses the loop knows.
N_LOSSES = LOSS_COUNT


cdef extern from *:
    """
    static int skgd_cpu_has_avx2(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");  /* the CPU's and the OS's (saved YMM state) */
    #else
        return 0;
    #endif
    }
    """
    int _cpu_has_avx2 "skgd_cpu_has_avx2"() noexcept nogil


def cpu_has_avx2():
    """Return whether this CPU, and the OS, run AVX2 instructions (False where the compiler cannot tell).

    Returns
    -------
    bool
    """
    return bool(_cpu_has_avx2())


cdef int _known_code(int code, int n_codes, str kind) except -1:
    # Every entry point checks its codes here, with the GIL: the nogil
    # dispatch below cannot raise (it returns NaN for a code it lacks).
    if code < 0 or code >= n_codes:
        raise ValueError(f"Unknown {kind} code {code}: the compiled loop knows 0 to {n_codes - 1}.")
    return code


cdef int _raise_pending() except -1:
    # Raise the exception a signal handler left set during a pass, if any.
    return -1 if PyErr_Occurred() != NULL else 0


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


def loss_sum(
    const floating[::1] data,
    const int[::1] indices,
    const int[::1] indptr,
    int n_features,
    const floating[::1] y,
    const floating[::1] sample_weight,
    const floating[::1] coef,
    double intercept,
    *,
    int loss_code,
    double loss_param,
):
    """Return ``sum_i s_i * l(x_i . coef + intercept, y_i)`` over every row, in one read of X.

    The predictors are summed as the sgd loop sums them, in float64; the rows'
    losses are added in row order. A row of zero weight is not read.

    Parameters
    ----------
    data, indices, indptr : memoryviews
        Dense C-ordered X flattened (``indices`` and ``indptr`` empty), or the
        three arrays of a CSR matrix with int32 indices, as ``sgd_epoch``'s.
    n_features : int
        Number of columns of X.
    y, sample_weight : memoryviews of shape (n_samples,)
        One target and the rows' weights.
    coef : memoryview of shape (n_features,)
        The coefficients of that target.
    intercept : float
    loss_code, loss_param
        ``Loss.code`` and ``Loss.parameter`` of the loss.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the loss code is unknown, before any work.
    KeyboardInterrupt
        Or whatever else a signal handler raises (looked for every few thousand rows).
    """
    cdef double total
    cdef Py_ssize_t n_samples = y.shape[0]
    _known_code(loss_code, LOSS_COUNT, "loss")
    if n_samples == 0:
        return 0.0
    with nogil:
        total = _loss_sum(
            &data[0] if data.shape[0] > 0 else NULL,
            &indices[0] if indices.shape[0] > 0 else NULL,
            &indptr[0] if indptr.shape[0] > 0 else NULL,
            n_features, &y[0], &sample_weight[0], n_samples,
            &coef[0] if coef.shape[0] > 0 else NULL, intercept, loss_code, loss_param,
        )
    _raise_pending()
    return total


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
        ``skgd._algorithms._sgd.max_change``: the largest change one sample's step may make to
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
    cumulative L1 penalty is applied to every feature a step moves: on
    dense rows to every feature; on CSR rows to the batch's stored
    features, and with momentum, which carries the others (perhaps across
    zero), to every feature every step (such passes are eager). Scaled CSR rows keep that cost: the L2
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
    # step's penalty share), and no L1 (momentum may carry a coefficient
    # across zero between its rows, where the penalty holds it every step);
    # otherwise (invscaling changes the step every update) the untouched
    # coefficients take their steps eagerly, as on dense rows.
    cdef bint csr = indptr.shape[0] > 0
    cdef bint lazy = (
        momentum != 0.0 and l1 == 0.0 and csr and steps.shape[0] == 1 and _equal_weights(sample_weight, order)
    )
    cdef Py_ssize_t n_updates, step_stride = 0 if steps.shape[0] == 1 else 1
    cdef Py_ssize_t n_shift = 0 if shift is None else shift.shape[0]
    cdef Py_ssize_t n_scale = 0 if scale is None else scale.shape[0]
    cdef bint conditioned = n_scale > 0
    # Scaled CSR rows (``_scaled_csr_epoch``) track the columns a batch does
    # not store when anything but a row moves them, and take them along every
    # step (eager) when their L2 shrink changes within the pass, or when
    # momentum and L1 both move them.
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
        scaled_eager = (l2 > 0.0 and not (steps.shape[0] == 1 and _equal_weights(sample_weight, order))) or (
            momentum != 0.0 and l1 > 0.0
        )
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
