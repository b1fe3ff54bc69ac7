"""Every example runs, headless and at small size, and does what it says."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import EXAMPLES, run_example


def test_note_example_prints_the_note_and_saves_its_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_note.py", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "Predict (before training) 4 4.0" in out
    assert "[batch] Predict (after training) 4 7.999777758621207" in out
    assert "[sgd] Predict (after training) 4 7.99999999999969" in out
    for name in ("note_cost_vs_w.png", "note_loss_per_epoch.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def _rows(out, pattern):
    """The printed lines matching ``pattern``, as tuples of their groups."""
    return re.findall(pattern, out, flags=re.M)


def test_learning_rate_example_searches_draws_and_reports_the_divergence(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_learning_rate.py", "--out", str(tmp_path))
    out = capsys.readouterr().out
    scores = dict(_rows(out, r"^learning_rate=(\S+)\s+mean CV R2 = (\S+)"))
    assert list(scores) == ["0.001", "0.01", "0.1", "auto", "0.2", "0.3"]
    assert scores["0.3"] == "nan" and all(float(s) > 0.47 for k, s in scores.items() if k not in ("0.001", "0.3"))
    # Accelerated steps in conditioned coordinates beat every fixed rate.
    assert "best: {'gradientdescentregressor__learning_rate': 'auto'}" in out
    assert "GridSearchCV warned: 5 fits failed out of a total of 30." in out
    # A plain full-batch step that raises J is refused at once, naming the safe step.
    assert "learning_rate=0.3: Gradient descent diverged at epoch 2: the objective rose from" in out
    assert "The largest safe step measured from the data is 0.124248" in out
    assert "partial_fit kept the 1 epochs before the refusal" in out
    assert (tmp_path / "learning_rate.png").stat().st_size > 10_000


def test_solvers_example_matches_the_peers(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_solvers.py", "--out", str(tmp_path))
    out = capsys.readouterr().out
    rows = {
        name.strip(): (float(gap), float(r2))
        for name, gap, r2 in _rows(out, r"^(\S.{0,31}?)\s+(?:\d+|-)\s+(\S+)\s+(\S+)\s+\S+$")
        if name != "model"
    }
    assert len(rows) == 6
    least_squares_r2 = rows["LinearRegression"][1]
    # Mini-batches take 11 steps an epoch on these correlated columns: with the
    # relative stopping rule they stop within 0.015 of least squares (test R2).
    assert all(abs(r2 - least_squares_r2) < 0.01 for name, (_, r2) in rows.items() if not name.startswith("mini"))
    assert abs(rows["mini-batch SGD (batch_size=32)"][1] - least_squares_r2) < 0.015
    # Momentum gets closest to the least-squares loss, plain batch next.
    assert rows["batch + momentum 0.9"][0] < 1e-3 and rows["batch"][0] < 0.1
    assert (tmp_path / "solvers.png").stat().st_size > 10_000


def test_streaming_example_never_holds_more_than_a_chunk(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_streaming.py", "--out", str(tmp_path), "--n-chunks", "12", "--chunk-size", "200")
    out = capsys.readouterr().out
    assert "2400 rows seen, at most 200 in memory at once" in out
    excess = dict(_rows(out, r"^(.+): excess error (\S+), held-out R2"))
    assert len(excess) == 2 and all(float(e) < 0.05 for e in excess.values())
    assert (tmp_path / "streaming.png").stat().st_size > 10_000


def test_stream_example_tracks_the_change_point_and_the_poisson_optimum(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("stream_prequential.py", "--out", str(tmp_path))
    out = capsys.readouterr().out
    pattern = r"^  (\S+)\s+last 10 chunks before the change\s+(\S+)\s+after it\s+1:\s+\S+\s+5:\s+(\S+)\s+20:\s+(\S+)$"
    rows = [(name, *map(float, errors)) for name, *errors in _rows(out, pattern)]
    ours = [row for row in rows if row[0] == "skgd"]
    assert len(ours) == 2 and all(before < 1.3 and five < 1.5 and twenty < 1.3 for _, before, five, twenty in ours)
    assert [row[1] > 1e6 for row in rows if row[0] == "SGDRegressor"] == [False, True]  # it explodes on raw columns
    poisson = [
        (float(e), float(g), abs(float(b)))
        for e, g, b in _rows(
            out,
            r"pass\(es\): deviance excess (\S+)%, largest coefficient gap (\S+), "
            r"intercept gap (\S+)$",
        )
    ]
    assert len(poisson) == 3 and poisson[0][0] < 1.0 and max(poisson[0][1:]) < 0.1 and max(poisson[2][1:]) < 0.02
    assert (tmp_path / "stream_prequential.png").stat().st_size > 10_000


def test_penalties_example_finds_lassos_zeros(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_example("plot_penalties.py", "--out", str(tmp_path), "--n-alphas", "6")
    out = capsys.readouterr().out
    rows = _rows(out, r"^\s+(\S+)\s+(\d+)\s+(\d+)\s+(\S+)$")
    assert len(rows) == 6
    assert rows[0][1:3] == ("10", "10") and rows[-1][1:3] == ("0", "0")
    assert all(ours == theirs and float(diff) < 0.1 for _, ours, theirs, diff in rows)
    assert "the zeros agree at 6 of 6 alphas" in out
    assert (tmp_path / "penalties.png").stat().st_size > 10_000


def test_torch_example_fits_tensors_where_they_are(tmp_path, capsys):
    from skgd._array_api import ARRAY_API_SUPPORT

    if not ARRAY_API_SUPPORT:
        pytest.skip("array API input needs scikit-learn >= 1.9")
    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    size = ("--n-samples", "3000", "--n-features", "8", "--epochs", "40")
    run_example("torch_tensors.py", "--out", str(tmp_path), *size)
    out = capsys.readouterr().out
    device = "cuda" if torch.cuda.is_available() else "cpu"
    fits = _rows(
        out,
        r"^(\S.+?)\s+coef_: Tensor torch\.float32 on (\S+); predict: Tensor on (\S+); R2 = (\S+); "
        r"max \|coef - w\| = (\S+); max \|coef - NumPy fit\| = (\S+)$",
    )
    assert len(fits) == 3
    for _, coef_device, prediction_device, r2, error, gap in fits:
        assert coef_device.startswith(device) and prediction_device.startswith(device)
        assert float(r2) > 0.99 and float(error) < 0.01 and float(gap) < 1e-4
    ratios = _rows(out, r"^(\S.+?)\s+\S+s\s+\S+s\s+(\S+)x$")
    assert [name for name, _ in ratios] == [name for name, *_ in fits]
    assert (tmp_path / "torch_tensors.png").stat().st_size > 10_000


def test_readme_shows_figures_the_examples_write():
    readme = (EXAMPLES.parent / "README.md").read_text()
    shown = re.findall(r"\]\((examples/figures/[\w.]+\.png)\)", readme)
    assert len(shown) == 3
    sources = "".join(path.read_text() for path in EXAMPLES.glob("plot_*.py"))
    for figure in shown:
        assert (EXAMPLES.parent / figure).stat().st_size > 10_000
        assert f'"{Path(figure).name}"' in sources


def test_benchmark_example_times_every_peer_on_the_same_problem(capsys):
    # At its smallest size, each fit timed once. Times are not asserted (they
    # belong to the machine); what is: every scenario ran against its peers,
    # same-step peers land on our coefficients, and every batch fit reaches the
    # closed form's objective.
    run_example("benchmark_against_peers.py", "--tiny")
    out = capsys.readouterr().out
    rows = _rows(out, r"^(.{40}) (\S.{25})\s+(\S+)\s+(\S+)\s+(\S+)  ?(.*)$")
    names = {name.strip() for _, name, *_ in rows}
    expected = {
        "skgd sgd",
        "SGDRegressor",
        "MLPRegressor",
        "skgd batch",
        "NumPy two-pass loop",
        "Ridge(cholesky)",
        "LinearRegression",
        "skgd n_jobs=2 (threads)",
        "skgd n_jobs=1",
        "skgd sgd (latency)",
    }
    assert expected <= names
    gaps = [float(note.split()[-1]) for *_, note in rows if note.startswith("max |coef diff|")]
    assert len(gaps) == 3 and max(gaps) < 1e-6  # dense and CSR vs SGDRegressor, batch vs the NumPy loop
    batch = {name.strip(): float(value) for scenario, name, _, _, value, _ in rows if scenario.startswith("batch")}
    assert batch["skgd batch"] == pytest.approx(batch["LinearRegression"], rel=1e-5)
    wide = {name.strip(): float(value) for scenario, name, _, _, value, _ in rows if scenario.startswith("wide")}
    assert wide["skgd batch"] == pytest.approx(wide["Ridge(sparse_cg)"], rel=1e-4)  # the same penalised objective
    growth = _rows(out, r"^(skgd \S+(?: \(.*\))?)\s+\S+\s+\S+\s+\S+$")
    assert growth == ["skgd sgd", "skgd batch (Gram)", "skgd batch (streaming, huber)"]


def test_quantile_bands_example_covers_each_quantile_and_matches_the_peers(tmp_path, capsys):
    run_example("plot_quantile_bands.py", "--out", str(tmp_path), "--rows", "2000")
    out = capsys.readouterr().out
    rows = _rows(out, r"^\s+(0\.\d)\s+(\S+)\s+(\S+)\s+\S+$")
    assert [q for q, _, _ in rows] == ["0.1", "0.5", "0.9"]
    for q, coverage, gap in rows:
        assert abs(float(coverage) - float(q)) <= 0.03 and float(gap) <= 1e-4
    (gap,) = _rows(out, r"largest coefficient difference to PoissonRegressor (\S+) \(relative\)")
    assert float(gap) <= 1e-5
    assert "predict is exp(X w + b): True" in out
    if "saved" in out:
        assert (tmp_path / "quantile_bands.png").stat().st_size > 10_000


def test_time_to_accuracy_example_reaches_its_gaps_and_times_the_peer_to_them(capsys):
    # At a small size and without asserting times: every default fit lands
    # within 1e-6 of the optimum (the rows' targets), and each peer is timed
    # to a gap at least as small.
    sys.path.insert(0, str(EXAMPLES))
    try:
        import benchmark_time_to_accuracy as example
    finally:
        sys.path.remove(str(EXAMPLES))
    rows = [example.least_squares_row(2000), example.huber_row(2000, repeat=1), example.lasso_row(2000)]
    rows += [example.glm_row(2000, 50, family) for family in example.POWERS] + [example.glm_row(1000, 300, "poisson")]
    for row in rows:
        assert row["gap"] <= 1e-6 and row["peer_gap"] <= row["gap"] and np.isfinite(row["ratio"])
    quantile = example.quantile_row(2000)  # the linear program's solution is the optimum
    assert quantile["gap"] <= 1e-4 and quantile["peer_gap"] <= quantile["gap"] and np.isfinite(quantile["ratio"])
    assert len(capsys.readouterr().out.splitlines()) == 8
