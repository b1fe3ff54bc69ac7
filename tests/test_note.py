"""skgd reproduces the tutorial note's two programs (tests/note: the programs and what they print)."""

import re

import numpy as np
import pytest
from _helpers import SEED_DIR

from skgd import GradientDescentRegressor

NOTE = dict(learning_rate=0.01, max_iter=100, tol=None, fit_intercept=False)


def _printed(name, pattern):
    text = (SEED_DIR / name).read_text()
    return [float(v) for v in re.findall(pattern, text)]


def test_batch_reproduces_the_note_exactly(note_data):
    X, y = note_data
    reg = GradientDescentRegressor(solver="batch", **NOTE).fit(X, y, coef_init=[1.0])
    assert reg.coef_[0] == 1.9999444396553017
    # loss_curve_[k] is the cost before epoch k's step: what the note prints, to
    # the last bit. (The loss is summed elementwise, left to right for three
    # rows as the note adds them, not by a BLAS dot product, whose order of
    # addition depends on the CPU's kernel.)
    np.testing.assert_array_equal(reg.loss_curve_, _printed("note_batch_gd.out", r"loss= (\S+)"))
    ws = _printed("note_batch_gd.out", r"w= (\S+)")
    assert len(ws) == 100 and ws[-1] == reg.coef_[0]
    assert reg.predict([[4.0]])[0] == 7.999777758621207


def test_sgd_reproduces_the_note(note_data):
    X, y = note_data
    reg = GradientDescentRegressor(solver="sgd", shuffle=False, batch_size=1, **NOTE)
    reg.fit(X, y, coef_init=[1.0])
    np.testing.assert_allclose(reg.coef_[0], 1.9999999999999236, rtol=1e-12)
    np.testing.assert_allclose(reg.predict([[4.0]])[0], 7.9999999999996945, rtol=1e-12)
    assert reg.t_ == 300 and reg.n_iter_ == 100


def test_sgd_epoch_weights_follow_the_note(note_data):
    """After each epoch (fit, then partial_fit) the weight equals the note's printed w."""
    X, y = note_data
    printed = _printed("note_sgd.out", r"progress: \d+ w= (\S+)")
    reg = GradientDescentRegressor(solver="sgd", shuffle=False, **{**NOTE, "max_iter": 1})
    reg.fit(X, y, coef_init=[1.0])
    for epoch in range(5):
        if epoch:
            reg.partial_fit(X, y)
        np.testing.assert_allclose(reg.coef_[0], printed[epoch], rtol=1e-13)


def test_sgd_loss_curve_is_the_mean_loss_before_each_update(note_data):
    X, y = note_data
    reg = GradientDescentRegressor(solver="sgd", shuffle=False, **NOTE).fit(X, y, coef_init=[1.0])
    # Epoch 0 by hand: the note's per-sample steps, losses taken before each step.
    w, losses = 1.0, []
    for x, t in zip(X.ravel(), y, strict=True):
        losses.append((x * w - t) ** 2)
        w -= 0.01 * 2 * x * (x * w - t)
    assert reg.loss_curve_[0] == pytest.approx(np.mean(losses), rel=1e-15)


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_verbose_prints_epoch_loss_and_w_like_the_note(note_data, capsys, solver):
    X, y = note_data
    GradientDescentRegressor(solver=solver, shuffle=False, verbose=1, **NOTE).fit(X, y, coef_init=[1.0])
    lines = capsys.readouterr().out.splitlines()
    # One line per epoch, then why training stopped and the objective it left.
    assert len(lines) == 101
    assert lines[-1].startswith("Stopped after epoch 99: max_iter (objective ")
    if solver == "batch":
        assert lines[0].startswith("Epoch 0: loss=4.666666666666667, w=1.0933333333333333")
    else:
        assert lines[0].startswith("Epoch 0: loss=") and "w=1.260688" in lines[0]
