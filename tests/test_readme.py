"""The README's commands are the ones CI runs, and its quick start runs as written."""

import re
from pathlib import Path

import numpy as np
import pytest
from _helpers import make_problem

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _block_with(text):
    """The one Python block of the README that contains ``text``."""
    (block,) = [b for b in _blocks("python") if text in b]
    return block


def _setup_commands():
    install_and_run, install_and_test = [b.strip() for b in _blocks("bash")[:2]]
    return install_and_run, install_and_test


def test_readme_gives_two_setup_commands():
    install_and_run, install_and_test = _setup_commands()
    assert "examples/plot_note.py" in install_and_run and install_and_run.startswith("pip install")
    assert install_and_test.startswith("pip install") and install_and_test.endswith("pytest")


def test_ci_runs_the_readmes_test_command():
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip(".ci/run belongs to the repository; the sdist does not ship it")
    assert _setup_commands()[1] in ci.read_text().splitlines()


def test_quick_start_runs_and_says_what_the_code_does():
    namespace = {}
    exec(_blocks("python")[0], namespace)
    reg = namespace["reg"]
    assert reg.coef_[0] == 1.9999444396553017
    assert reg.loss_curve_[:2] == [4.666666666666667, 3.8362074074074086]
    assert np.array2string(reg.coef_) in README


def test_quick_start_raw_data_fit_is_least_squares_and_quiet():
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LinearRegression

    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        exec(_blocks("python")[0], namespace)
    raw, X, y = namespace["raw"], namespace["X_raw"], namespace["y_raw"]
    assert raw.stop_reason_ == "converged" and raw.n_iter_ < 20
    assert abs(raw.score(X, y) - LinearRegression().fit(X, y).score(X, y)) < 1e-9


def test_sgdregressors_default_translated_takes_its_steps():
    namespace = {}
    exec(_block_with("SGDRegressor(eta0=eta0"), namespace)
    X, y = make_problem(n=60, d=4)
    ours, peer = namespace["ours"].fit(X, y), namespace["peer"].fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, peer.intercept_[0], rtol=0, atol=1e-8)
    assert isinstance(ours.intercept_, float) and peer.intercept_.shape == (1,)


@pytest.mark.parametrize(
    "name, hint",
    [
        ("invscaling", "is schedule='invscaling' here, with learning_rate the step size: eta0 / 2"),
        ("constant", "is schedule='constant' here"),
        ("adaptive", "is schedule='adaptive' here"),
        ("optimal", "has no counterpart here; learning_rate='auto'"),
        ("pa1", "has no counterpart here"),
    ],
)
def test_sgdregressors_learning_rate_names_are_refused_with_where_they_go(note_data, name, hint):
    from skgd import GradientDescentRegressor

    for method in ("fit", "partial_fit"):
        with pytest.raises(
            ValueError, match=rf"^The 'learning_rate' parameter .* Got '{name}' instead\. .*{re.escape(hint)}"
        ):
            getattr(GradientDescentRegressor(learning_rate=name), method)(*note_data)


def test_sgdregressors_learning_rate_names_are_its_own_and_its_schedules_are_ours():
    # The hints above name SGDRegressor's values as its own constraint lists
    # them, and a schedule it names is one of ours (not every one of ours is its).
    from sklearn.linear_model import SGDRegressor

    from skgd._schedules import SCHEDULES
    from skgd._validation import SGDREGRESSOR_ONLY_RATES, SGDREGRESSOR_SCHEDULES

    # Its string options, hidden ones included (scikit-learn < 1.8 hides "pa1" and "pa2").
    constraints = [getattr(c, "constraint", c) for c in SGDRegressor._parameter_constraints["learning_rate"]]
    options = set().union(*(c.options for c in constraints if hasattr(c, "options")))
    assert set(SGDREGRESSOR_SCHEDULES) | set(SGDREGRESSOR_ONLY_RATES) == options
    assert set(SGDREGRESSOR_SCHEDULES) <= SCHEDULES.keys()
    assert not set(SGDREGRESSOR_ONLY_RATES) & SCHEDULES.keys()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # the array API checks without a GPU
def test_check_estimator_passes_sgd_with_the_two_expected_failures():
    from test_estimator_checks import SGD_EXPECTED_FAILURES

    namespace = {}
    exec(_block_with("check_estimator("), namespace)  # runs scikit-learn's checks; raises if another fails
    assert namespace["expected_failed_checks"].keys() == SGD_EXPECTED_FAILURES.keys()
    try:  # scikit-learn's own list for SGDRegressor (private; its place may move)
        from sklearn.linear_model import SGDRegressor
        from sklearn.utils._test_common.instance_generator import PER_ESTIMATOR_XFAIL_CHECKS
    except ImportError:
        return
    assert PER_ESTIMATOR_XFAIL_CHECKS[SGDRegressor].keys() == SGD_EXPECTED_FAILURES.keys()


def _section(title):
    """The README's text under the ``## title`` heading, up to the next one of its level."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_parameters_table_names_every_parameter_and_string_option():
    """A parameter, loss or schedule added to the estimator is missing from the README's table until it is added."""
    from sklearn.utils._param_validation import StrOptions

    from skgd import GradientDescentRegressor

    rows = {}
    for line in _section("Parameters").splitlines():
        if line.startswith("| `"):
            names, _, rest = line[2:].partition(" |")
            for name in re.findall(r"`(\w+)`", names):
                rows[name] = rows.get(name, "") + rest
    for name, constraints in GradientDescentRegressor._parameter_constraints.items():
        assert name in rows, f"add {name!r} to the README's Parameters table"
        for constraint in constraints:
            if isinstance(constraint, StrOptions):
                missing = sorted(o for o in constraint.options if f'"{o}"' not in rows[name])
                assert not missing, f"add {missing} to the README's Parameters row of {name!r}"


def test_the_layout_names_every_module_of_the_package():
    """A module added to skgd/ is missing from the README's Layout until it says what the module does."""
    layout = _section("Layout")
    sources = [p for p in (ROOT / "skgd").rglob("*") if p.suffix in (".py", ".pyx", ".pxd")]
    unnamed = sorted(
        str(p.relative_to(ROOT / "skgd")) for p in sources if p.name != "__init__.py" and p.name not in layout
    )
    assert not unnamed, f"say in the README's Layout what these modules do: {unnamed}"
