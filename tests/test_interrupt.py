"""Ctrl-C inside one long compiled epoch: the pass stops within a few thousand samples.

The compiled loop runs without the GIL, so Python's signal handlers would wait
for the epoch to end; the loop looks for signals every few thousand samples
instead, stops the pass there and raises the handler's KeyboardInterrupt. The
estimator keeps the state it had before the call, as for any other failure.

The signal comes from a thread that sends it once the loop runs (a signal sent
from the main thread itself is handled before the loop starts); how quickly
the fit answers is measured by ``examples/benchmark_against_peers.py``, not
here. Each long epoch is the loop visiting a few rows many times over, so it
needs little memory.
"""

import _thread
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import make_problem

import skgd._algorithms._sgd
from skgd import GradientDescentRegressor

#: The interrupt's delay after the loop starts; a visit of the long order takes hundreds of times longer.
DELAY = 0.02


def _interrupt_soon():
    timer = threading.Timer(DELAY, _thread.interrupt_main)
    timer.start()
    return timer


def _long(order, repeats=20_000):
    """``order`` visited ``repeats`` times over in one pass."""
    return np.tile(order, repeats)


def _raised_in_the_loop(excinfo):
    """Whether the exception comes from inside the compiled loop, not from Python code after it."""
    return any(entry.path.name == "_sgd_fast.pyx" for entry in excinfo.traceback)


@pytest.mark.parametrize("rows", ["dense", "csr", "conditioned"])
def test_an_interrupt_stops_the_pass_where_it_is(rows, monkeypatch):
    """A pass of 10 million updates stops long before its end and raises KeyboardInterrupt from the loop."""
    X, y = make_problem(n=500, d=50, x_offset=3.0)
    if rows == "csr":
        X = sp.csr_matrix(X)
    passes = []  # the scalars of each pass (their update count is written at every step) and the count at its start
    real = skgd._algorithms._sgd.sgd_epoch

    def long_pass(*args, **kwargs):
        args = list(args)
        args[6] = _long(args[6])
        passes.append((args[8], args[8][4]))
        timer = _interrupt_soon()
        try:
            return real(*args, **kwargs)
        finally:
            timer.cancel()

    monkeypatch.setattr(skgd._algorithms._sgd, "sgd_epoch", long_pass)
    reg = GradientDescentRegressor(
        solver="sgd", learning_rate="auto" if rows == "conditioned" else 1e-5, tol=None, max_iter=20
    )
    with pytest.raises(KeyboardInterrupt) as excinfo:
        reg.fit(X, y)
    assert _raised_in_the_loop(excinfo)
    # On a loaded machine the timer's thread may not run before a pass ends; the pass it interrupts stops early.
    scalars, start = passes[-1]
    assert 0 < scalars[4] - start < X.shape[0] * 20_000 / 2


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_an_interrupted_call_leaves_the_estimator_as_it_was(method, monkeypatch):
    """After KeyboardInterrupt inside an epoch, every attribute is what it was before the call."""
    X, y = make_problem(n=300, d=8)
    reg = GradientDescentRegressor(solver="sgd", warm_start=True, tol=None, max_iter=3, random_state=0).fit(X, y)
    before = {name: np.copy(value) for name, value in vars(reg).items() if isinstance(value, np.ndarray)}
    scalars = {name: value for name, value in vars(reg).items() if np.isscalar(value) or value is None}
    curve = list(reg.loss_curve_)
    state = reg._state.copy()
    real = skgd._algorithms._sgd.sgd_epoch

    def long_pass(*args, **kwargs):
        args = list(args)
        args[6] = _long(args[6], 30_000)
        timer = _interrupt_soon()
        try:
            return real(*args, **kwargs)
        finally:
            timer.cancel()

    monkeypatch.setattr(skgd._algorithms._sgd, "sgd_epoch", long_pass)
    with pytest.raises(KeyboardInterrupt) as excinfo:
        getattr(reg, method)(X, y)
    assert _raised_in_the_loop(excinfo)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(reg, name), value, err_msg=name)
    assert {name: getattr(reg, name) for name in scalars} == scalars
    assert reg.loss_curve_ == curve
    np.testing.assert_array_equal(reg._state.coef, state.coef)
    np.testing.assert_array_equal(reg._state.intercept, state.intercept)
    assert reg._state.t == state.t
    monkeypatch.undo()
    # The interrupted call lost nothing: the next call is the one that was interrupted.
    again = getattr(reg, method)(X, y)
    assert np.all(np.isfinite(again.coef_))
