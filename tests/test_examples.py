"""Every example runs, headless and at small size, and does what it says."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, tmp_path, *args):
    """Run ``examples/<name>`` as a script with ``--out tmp_path`` and extra args."""
    argv = sys.argv
    sys.argv = [name, "--out", str(tmp_path), *args]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = argv


def test_note_example_prints_the_note_and_saves_its_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_note.py", tmp_path)
    out = capsys.readouterr().out
    assert "Predict (before training) 4 4.0" in out
    assert "[batch] Predict (after training) 4 7.999777758621207" in out
    assert "[sgd] Predict (after training) 4 7.99999999999969" in out
    for name in ("note_cost_vs_w.png", "note_loss_per_epoch.png"):
        assert (tmp_path / name).stat().st_size > 10_000
