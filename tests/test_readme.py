"""The README's commands are the ones CI runs, and its quick start runs as written."""

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


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
