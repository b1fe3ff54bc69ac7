"""The epoch loop's rules, pinned on scripted loss sequences.

A scripted solver returns given epoch losses and a given objective at the call's
start and end, so each rule (stopping, the adaptive step, divergence) is
checked on exactly the sequence that should trigger it.
"""

import numpy as np
import pytest

from skgd._algorithms._stopping import ImprovementRule, WindowRule
from skgd._state import TrainingState
from skgd._training import Controls, DivergenceError, run_epochs

#: The stopping rules a scripted algorithm may follow (no evidence: the rule decides).
RULES = {"improvement": ImprovementRule, "window": WindowRule}


class ScriptedSolver:
    """Epoch losses from a list; J at the start and end from two numbers; the stopping rule and noise as told."""

    def __init__(self, losses, start=10.0, end=None):
        self.losses = list(losses)
        self.start, self.end = start, end
        self.values = 0
        self.rule, self.monotone, self.call_noise, self.retreats = "improvement", False, 1.0, False

    def noise(self, rounding):
        return self.call_noise

    def stopping_rule(self, controls):
        return RULES[self.rule](None)

    def value(self, coef, intercept):
        self.values += 1
        return self.start if self.values == 1 or self.end is None else self.end

    def epoch(self, state, eta):
        state.coef += 1.0  # the model moves
        return self.losses.pop(0)


def _state():
    return TrainingState(coef=np.zeros((1, 2)), intercept=np.zeros(1), rng=None, eta0=1.0)


def _run(solver, state, rule="improvement", monotone=False, noise=1.0, **overrides):
    solver.rule, solver.monotone, solver.call_noise = rule, monotone, noise
    return run_epochs(solver, state, _controls(**overrides))


def _controls(**overrides):
    settings = dict(
        max_iter=50,
        tol=1e-2,
        n_iter_no_change=2,
        adaptive=True,
        stop_on_stall=True,
        validation=None,
        verbose=0,
        rounding=1e-10,
        squares=True,
        safe_step=lambda: 0.125,
    )
    return Controls(**{**settings, **overrides})


def test_a_stall_reduces_the_step_and_fruitless_reductions_are_convergence():
    # Epoch 0 sets the best; 1 and 2 fail to improve by 1% of it: a stall, so
    # the step is divided by 5; 3 and 4 stall again (another reduction), and 5
    # and 6 too, with no improvement since two reductions: converged.
    state = _state()
    reason = _run(ScriptedSolver([8.0, 7.99, 7.95, 7.98, 7.97, 7.96, 7.95]), state)
    assert reason == "converged" and state.n_iter == 7 and state.eta_factor == pytest.approx(0.04)


def test_improvement_is_relative_so_the_loss_scale_does_not_matter():
    for scale in (1e-6, 1.0, 1e8):
        state = _state()
        losses = scale * np.array([8.0, 7.99, 7.95, 7.98, 7.97, 7.96, 7.95])
        assert _run(ScriptedSolver(losses, start=10 * scale), state) == "converged"
        assert state.n_iter == 7


def test_a_step_that_shrinks_while_the_loss_still_improves_is_a_crawl_not_convergence():
    # Each reduction buys an improvement, then two epochs stall: the step falls
    # under 1e-6 of its start (the ninth reduction, at epoch 27) while progress continues.
    losses = [100.0]
    for _ in range(10):
        losses += [losses[-1] * 0.5] * 3
    state = _state()
    reason = _run(ScriptedSolver(losses, start=200.0), state, max_iter=40)
    assert reason == "step_exhausted" and state.n_iter == 28 and state.eta_factor == pytest.approx(5.0**-9)


def test_window_rule_stops_only_when_the_extrapolated_gap_is_small():
    # A geometric tail 1 + 0.5**k: the remaining gap is the last decrease.
    geometric = [1.0 + 0.5**k for k in range(40)]
    state = _state()
    reason = _run(ScriptedSolver(geometric, start=3.0), state, rule="window", tol=1e-4)
    gap = geometric[state.n_iter - 1] - 1.0
    assert reason == "converged" and gap <= 1e-6 and gap > 1e-8
    # A crawl: the loss falls by the same amount each epoch, so no limit is in sight.
    crawl = [100.0 - 1e-3 * k for k in range(30)]
    state = _state()
    reason = _run(ScriptedSolver(crawl, start=101.0), state, rule="window", max_iter=30)
    assert reason == "max_iter"


def test_partial_fit_never_stops_early():
    state = _state()
    assert _run(ScriptedSolver([5.0]), state, stop_on_stall=False, max_iter=1) == "partial_fit"


@pytest.mark.parametrize(
    "losses, controls, message",
    [
        ([5.0, float("nan")], {}, "became nan"),
        ([5.0, 2e5], {}, "rose to"),
        ([5.0, 4.0, 4.5], dict(monotone=True), "in one full-batch step"),
        ([11.0, 12.0, 13.0], dict(adaptive=False, tol=None, noise=0.1), "rose for 2 epochs in a row"),
    ],
)
def test_divergence_is_named_with_the_epoch_and_the_safe_step(losses, controls, message):
    with pytest.raises(DivergenceError, match=message) as error:
        _run(ScriptedSolver(losses), _state(), **controls)
    assert "largest safe step measured from the data is 0.125" in str(error.value)


def test_a_steady_rise_within_the_calls_noise_is_no_divergence_where_training_begins():
    # An sgd call that begins training near the optimum may rise for a window (its passes' noise) and settle.
    solver = ScriptedSolver([11.0, 12.0, 13.0, 9.0], start=10.0, end=9.0)
    assert _run(solver, _state(), noise=1.0, adaptive=False, tol=None, max_iter=4) == "max_iter"
    with pytest.raises(DivergenceError, match="rose for 2 epochs"):
        _run(ScriptedSolver([11.0, 12.0, 13.0, 9.0], start=10.0, end=9.0), _state(), noise=0.2)
    # A call that continues training: a steady rise is divergence, whatever the noise.
    continuing = _state()
    continuing.loss_curve = [20.0, 10.0]
    with pytest.raises(DivergenceError, match="rose for 2 epochs"):
        _run(ScriptedSolver([11.0, 12.0, 13.0, 9.0], start=10.0, end=9.0), continuing, noise=1.0)


def test_a_call_that_ends_above_its_start_raises():
    solver = ScriptedSolver([9.0, 8.0], start=10.0, end=10.0 * (1 + 1e-6))
    with pytest.raises(DivergenceError, match="ended at objective"):
        _run(solver, _state(), noise=1e-9, tol=None, max_iter=2)
    # Within the allowed noise it is not an error.
    solver = ScriptedSolver([9.0, 8.0], start=10.0, end=15.0)
    assert _run(solver, _state(), noise=1.0, tol=None, max_iter=2) == "max_iter"


def test_a_start_near_zero_is_no_false_alarm():
    # The objective starts at 1e-30 and falls: judged against the call's own
    # start, not an absolute scale, nothing is wrong.
    solver = ScriptedSolver([1e-30, 5e-31, 2e-31], start=1e-30, end=1e-31)
    assert _run(solver, _state(), tol=None, max_iter=3, monotone=True, noise=1e-9) == "max_iter"
