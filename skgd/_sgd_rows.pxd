# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The sgd loop's row kernels: the dtypes it runs in, prefetching, and a row's dot, squares and axpy (dense or CSR)."""


ctypedef fused floating:
    float
    double

# What a row is added into: coefficients (X's dtype) or a float64 gradient or average.
ctypedef fused accumulator:
    float
    double


# The sample order: int32 positions unless X has 2**31 rows or more.
ctypedef fused index_t:
    int
    Py_ssize_t


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


cdef inline double _row_squares(const floating *data, int nnz) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t k
    for k in range(nnz):
        total += data[k] * data[k]
    return total


cdef inline double _row_dot(const floating *data, const int *ind, int nnz,
                            const floating *w) noexcept nogil:
    # A row is summed in eight independent chains so the additions overlap
    # (a single chain waits on each addition's latency; eight fill two AVX2
    # or four SSE2 registers); a row of fewer than eight entries is summed
    # exactly as written.
    cdef double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0
    cdef double acc4 = 0.0, acc5 = 0.0, acc6 = 0.0, acc7 = 0.0
    cdef Py_ssize_t k = 0
    if ind == NULL:
        while k + 8 <= nnz:
            acc0 += data[k] * w[k]
            acc1 += data[k + 1] * w[k + 1]
            acc2 += data[k + 2] * w[k + 2]
            acc3 += data[k + 3] * w[k + 3]
            acc4 += data[k + 4] * w[k + 4]
            acc5 += data[k + 5] * w[k + 5]
            acc6 += data[k + 6] * w[k + 6]
            acc7 += data[k + 7] * w[k + 7]
            k += 8
        while k < nnz:
            acc0 += data[k] * w[k]
            k += 1
    else:
        while k + 8 <= nnz:
            acc0 += data[k] * w[ind[k]]
            acc1 += data[k + 1] * w[ind[k + 1]]
            acc2 += data[k + 2] * w[ind[k + 2]]
            acc3 += data[k + 3] * w[ind[k + 3]]
            acc4 += data[k + 4] * w[ind[k + 4]]
            acc5 += data[k + 5] * w[ind[k + 5]]
            acc6 += data[k + 6] * w[ind[k + 6]]
            acc7 += data[k + 7] * w[ind[k + 7]]
            k += 8
        while k < nnz:
            acc0 += data[k] * w[ind[k]]
            k += 1
    return ((acc0 + acc4) + (acc1 + acc5)) + ((acc2 + acc6) + (acc3 + acc7))


cdef inline void _row_axpy(const floating *data, const int *ind, int nnz,
                           double a, accumulator *w) noexcept nogil:
    # w += a * row (w: the coefficients, or a float64 gradient or average).
    cdef Py_ssize_t k
    if ind == NULL:
        for k in range(nnz):
            w[k] += a * data[k]
    else:
        for k in range(nnz):
            w[ind[k]] += a * data[k]

