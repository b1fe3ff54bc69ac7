"""The build of the compiled sgd loop this CPU runs: ``_sgd_fast_avx2`` where it has AVX2, else ``_sgd_fast``.

Both are ``_sgd_fast.pyx``, compiled with and without AVX2 and never with FMA,
so a fit is bitwise the same on either (``tests/test_sgd_loop.py``); the AVX2
build is only faster. A build without it (not x86-64, or MSVC) runs the
portable one.
"""

from . import _sgd_fast as PORTABLE


def _fastest():
    """The AVX2 build where the CPU runs it and the installation has it, else the portable one."""
    if PORTABLE.cpu_has_avx2():
        try:
            from . import _sgd_fast_avx2
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}._sgd_fast_avx2":
                raise
        else:
            return _sgd_fast_avx2
    return PORTABLE


#: The compiled loop's module the sgd solver calls.
LOOP = _fastest()
loss_sum, sgd_epoch, shuffle = LOOP.loss_sum, LOOP.sgd_epoch, LOOP.shuffle
