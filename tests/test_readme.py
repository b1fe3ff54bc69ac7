"""The README's commands are the ones CI runs, and its quick start runs as written."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_gives_two_setup_commands_and_ci_runs_the_test_one():
    install_and_run, install_and_test = [b.strip() for b in _blocks("bash")[:2]]
    assert "examples/plot_note.py" in install_and_run and install_and_run.startswith("pip install")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


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
