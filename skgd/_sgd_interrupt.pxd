# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Ctrl-C inside a pass: the main thread looks for a signal every few thousand samples."""


cdef extern from "Python.h":
    # Declared without an exception value so that the loop, not Cython, decides
    # what an exception raised by a signal handler does: it ends the pass.
    int _check_signals "PyErr_CheckSignals"() noexcept
    unsigned long PyThread_get_thread_ident() noexcept nogil


# How many samples a pass runs between two looks for a signal (Ctrl-C): a few
# milliseconds of work at most, a few microseconds of it spent looking.
cdef enum:
    SIGNAL_INTERVAL = 4096


# Signal handlers run in the main thread only: other threads never look
# (``_sgd_fast`` sets it to the main thread's identity when imported).
cdef extern from *:
    """
    static unsigned long skgd_main_thread = 0;
    """
    unsigned long _MAIN_THREAD "skgd_main_thread"


cdef inline void _set_main_thread(unsigned long ident) noexcept:
    global _MAIN_THREAD
    _MAIN_THREAD = ident


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
