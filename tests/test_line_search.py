"""The conjugate directions' line search (``skgd._algorithms._line_search.line_search``) on lines of known minima."""

import math

import numpy as np
import pytest

from skgd._algorithms._line_search import MAX_GROWTH, SEARCH_TOLERANCE, line_search


def _lines(*functions):
    """``along`` of ``line_search`` for one line per target, each ``f(t) -> (phi, phi')``, counting its calls."""
    calls = []

    def along(steps):
        calls.append(list(steps))
        pairs = [f(t) for f, t in zip(functions, steps, strict=True)]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    return along, calls


def _quadratic(minimum, curvature=1.0):
    return lambda t: (0.5 * curvature * (t - minimum) ** 2, curvature * (t - minimum))


def _search(functions, starts, rounding=1e-12):
    along, calls = _lines(*functions)
    at_zero = [f(0.0) for f in functions]
    steps, values = line_search(along, starts, rounding, [v for v, _ in at_zero], [g for _, g in at_zero])
    return steps, values, calls


@pytest.mark.parametrize("start", [0.01, 0.7, 3.0, 50.0])
def test_each_target_finds_its_own_minimum_from_far_below_or_above_it(start):
    functions = [_quadratic(2.0), _quadratic(0.5, curvature=40.0)]
    steps, values, calls = _search(functions, [start, start])
    for f, t, value in zip(functions, steps, values, strict=True):
        assert abs(f(t)[1]) <= SEARCH_TOLERANCE * abs(f(0.0)[1])
        assert value == f(t)[0] < f(0.0)[0]
    assert len(calls) <= 12  # a secant: a few points, even from a start two decades off


def test_a_minimum_beyond_the_growth_cap_is_reached_by_the_next_search_from_the_cap():
    steps, _, _ = _search([_quadratic(2.0)], [1e-4])
    assert steps == [MAX_GROWTH * 1e-4]  # J fell all the way: the search keeps the cap
    steps, _, _ = _search([_quadratic(2.0 - steps[0])], steps)  # the next line starts where it left off
    assert steps[0] == pytest.approx(2.0 - MAX_GROWTH * 1e-4, rel=1e-3)


def test_a_convex_line_that_is_not_quadratic_is_searched_to_its_minimum():
    # phi(t) = exp(t) - 3 t, minimum at log 3: the shape of a log link's deviance along a line.
    steps, _, _ = _search([lambda t: (math.exp(t) - 3.0 * t, math.exp(t) - 3.0)], [0.01])
    assert steps[0] == pytest.approx(math.log(3.0), abs=1e-3)


def test_a_line_that_does_not_descend_takes_no_step_and_is_not_evaluated():
    steps, values, calls = _search([_quadratic(-1.0)], [1.0])
    assert steps == [0.0] and values == [0.5] and calls == []


def test_where_j_overflows_the_search_steps_back_to_where_it_is_finite():
    # Beyond t = 1 the loss overflows (an exp(p) past the float range): the minimum at 0.8 is still found.
    def overflowing(t):
        return (math.inf, math.nan) if t > 1.0 else _quadratic(0.8)(t)

    steps, _, _ = _search([overflowing], [64.0])
    assert steps[0] == pytest.approx(0.8, rel=1e-3)


def test_a_line_falling_without_end_stops_at_its_growth_cap():
    # J falls for ever along the line (a direction without an optimum): the step grows to its cap, no further.
    steps, values, _ = _search([lambda t: (-math.log1p(t), -1.0 / (1.0 + t))], [0.5])
    assert steps == [MAX_GROWTH * 0.5] and values[0] < 0.0


def test_a_fall_within_rounding_is_no_step():
    # Far along a flat line J's own rounding exceeds the line's change: no point counts as lower.
    flat = lambda t: (1.0 - 1e-13 * t / (1.0 + t), -1e-13 / (1.0 + t) ** 2)  # noqa: E731
    steps, values, _ = _search([flat], [1.0], rounding=1e-10)
    assert steps == [0.0] and values == [1.0]
