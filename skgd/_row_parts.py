"""A read of the rows cut into parts that threads take at once.

A pass that only reads X (J's loss sum at the guard's and the certificates'
points) is bound by memory, which two cores read faster than one. The
caller's thread reads the first part, and so still looks for Ctrl-C; a
worker thread reads each other part. The parts' results come back in row
order, for the caller to add.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Fewest entries of X a part holds: a smaller part costs more in its
#: thread's hand-off than it saves (4 MiB of float64 X is read in ~0.3 ms).
MIN_PART_ENTRIES = 1 << 19

#: Most threads a read takes: memory's bandwidth, not the cores, bounds it.
MAX_THREADS = 4

_pool = None


def _forget_pool():
    # A forked child inherits the pool but not its threads.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1


def row_parts(n_rows, n_entries, indptr=None):
    """Consecutive row ranges of about equal numbers of entries, one per thread.

    Parameters
    ----------
    n_rows : int
    n_entries : int
        The entries the read takes (X's size, or a CSR matrix's non-zeros).
    indptr : ndarray of shape (n_rows + 1,), default=None
        A CSR matrix's row pointers, which place the cuts; None cuts equal
        numbers of rows.

    Returns
    -------
    list of slice
        One slice covering every row when the read is too small to share.
    """
    n_parts = max(1, min(MAX_THREADS, _usable_cores(), n_entries // MIN_PART_ENTRIES, n_rows))
    if n_parts == 1:
        return [slice(0, n_rows)]
    if indptr is None:
        cuts = [n_rows * k // n_parts for k in range(n_parts + 1)]
    else:
        targets = [int(indptr[-1]) * k // n_parts for k in range(1, n_parts)]
        cuts = [0, *np.searchsorted(indptr, targets).tolist(), n_rows]
    return [slice(start, stop) for start, stop in zip(cuts[:-1], cuts[1:], strict=True) if stop > start]


def map_parts(read, parts):
    """``read(part)`` of every part at once: the first on this thread, each other on a worker.

    Parameters
    ----------
    read : callable
        Takes a slice of rows; releases the GIL while it reads.
    parts : list of slice

    Returns
    -------
    list
        The results, in the order of ``parts``. An exception of the first
        part (a KeyboardInterrupt) propagates at once; the workers' parts end
        on their own.
    """
    if len(parts) == 1:
        return [read(parts[0])]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(MAX_THREADS - 1, thread_name_prefix="skgd-read")
    futures = [_pool.submit(read, part) for part in parts[1:]]
    first = read(parts[0])
    return [first, *(future.result() for future in futures)]
