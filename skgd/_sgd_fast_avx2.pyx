# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""``_sgd_fast.pyx`` compiled for CPUs with AVX2: the same loop, its sums in the same order.

setup.py builds it with ``-mavx2`` and without FMA (``-mno-fma``,
``-ffp-contract=off``), so each product and sum rounds as in the portable
build and every fit is bitwise the portable build's; the row kernels' four
dot chains fill one AVX2 register instead of two SSE2 ones. ``skgd._sgd_loop``
picks it where the CPU has AVX2.
"""
include "_sgd_fast.pyx"
