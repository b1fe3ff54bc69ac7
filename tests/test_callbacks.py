"""scikit-learn's callbacks (sklearn.callback, scikit-learn >= 1.9) and the verbose report.

Each fit or partial_fit call is one task and each epoch one of its sub-tasks;
the monitored scores are checked against independently fitted models.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _helpers import make_problem
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor

try:
    from sklearn import callback
except ImportError:  # scikit-learn < 1.9
    callback = None

needs_callbacks = pytest.mark.skipif(callback is None, reason="scikit-learn < 1.9 has no sklearn.callback")

SOLVERS = ["batch", "sgd"]


class StopAfter:
    """Asks training to stop at the end of epoch ``n_epochs``; records every hook."""

    def __init__(self, n_epochs=None):
        self.n_epochs = n_epochs
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.task_name))
        return context.task_name == "epoch" and context.task_id + 1 == self.n_epochs


def _epoch_scores(monitor):
    rows = monitor.get_logs().data
    return [row["r2"] for row in rows if row["task_name"] == "epoch"], [
        row["r2"] for row in rows if row["task_name"] == "fit"
    ]


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_scoring_monitor_scores_every_epoch_model(solver):
    X, y = make_problem(n=100, d=3)
    params = dict(solver=solver, tol=None, random_state=0)
    monitor = callback.ScoringMonitor(scoring="r2")
    reg = GradientDescentRegressor(max_iter=6, **params).set_callbacks(monitor).fit(X, y)
    epochs, root = _epoch_scores(monitor)
    assert len(epochs) == reg.n_iter_ == 6
    # Epoch k's score is that of the model fit would return after k + 1 epochs.
    expected = [GradientDescentRegressor(max_iter=k, **params).fit(X, y).score(X, y) for k in range(1, 7)]
    np.testing.assert_allclose(epochs, expected, rtol=1e-12)
    assert epochs[-1] == root[0] == reg.score(X, y)


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_early_stopping_epochs_score_the_model_fit_would_keep(solver):
    X, y = make_problem(n=150, d=4, noise=1.0)
    monitor = callback.ScoringMonitor(scoring="r2")
    reg = GradientDescentRegressor(solver=solver, early_stopping=True, random_state=0).set_callbacks(monitor)
    reg.fit(X, y)
    epochs, root = _epoch_scores(monitor)
    assert len(epochs) == reg.n_iter_ == len(reg.validation_scores_)
    assert epochs[-1] == root[0] == reg.score(X, y)


@needs_callbacks
def test_sample_weight_reaches_the_scorer():
    X, y = make_problem(n=80, d=3)
    weights = np.random.RandomState(1).uniform(0.1, 3.0, size=len(y))
    monitor = callback.ScoringMonitor(scoring="r2")
    reg = GradientDescentRegressor(max_iter=5, tol=None).set_callbacks(monitor).fit(X, y, sample_weight=weights)
    epochs, _ = _epoch_scores(monitor)
    assert epochs[-1] == reg.score(X, y, sample_weight=weights) != reg.score(X, y)


@needs_callbacks
def test_each_partial_fit_call_is_a_task_with_one_epoch():
    X, y = make_problem(n=60, d=3)
    monitor = callback.ScoringMonitor(scoring="r2")
    reg = GradientDescentRegressor(solver="sgd", random_state=0).set_callbacks(monitor)
    for _ in range(3):
        reg.partial_fit(X, y)
        epochs, root = _epoch_scores(monitor)
        assert len(epochs) == 1 and epochs[0] == root[0] == reg.score(X, y)
    assert len(monitor.get_logs(select="all")) == 3


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_epoch_is_a_sub_task_of_the_fit(solver):
    X, y = make_problem(n=50, d=2)
    recorder = StopAfter()
    reg = GradientDescentRegressor(solver=solver, max_iter=4, tol=None).set_callbacks(recorder).fit(X, y)
    assert reg.n_iter_ == 4
    assert recorder.calls == [("setup", "fit"), ("begin", "fit")] + [("begin", "epoch"), ("end", "epoch")] * 4 + [
        ("end", "fit"),
        ("teardown", "fit"),
    ]


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")  # a requested stop is no failure
def test_a_callback_asking_to_stop_leaves_a_consistent_model(solver, early_stopping):
    X, y = make_problem(n=100, d=3)
    params = dict(solver=solver, early_stopping=early_stopping, random_state=0)
    reg = GradientDescentRegressor(max_iter=1000, **params).set_callbacks(StopAfter(3)).fit(X, y)
    same = GradientDescentRegressor(max_iter=3, tol=None, **params).fit(X, y)
    assert reg.n_iter_ == 3 and reg.loss_curve_ == same.loss_curve_ and reg.t_ == same.t_
    np.testing.assert_array_equal(reg.coef_, same.coef_)
    assert reg.intercept_ == same.intercept_
    if early_stopping:
        assert reg.validation_scores_ == same.validation_scores_
    if not early_stopping:  # the stopped model goes on training as any fitted one does
        assert reg.partial_fit(X, y).n_iter_ == 4


@needs_callbacks
def test_a_failed_fit_tears_callbacks_down_and_keeps_the_model():
    X, y = make_problem(n=50, d=2)
    recorder = StopAfter()
    reg = GradientDescentRegressor(learning_rate=0.01, max_iter=3, tol=None).set_callbacks(recorder).fit(X, y)
    before = reg.coef_.copy()
    recorder.calls.clear()
    with pytest.raises(ValueError, match="diverged"):
        reg.set_params(learning_rate=50.0, max_iter=1000).fit(X, y)
    assert recorder.calls[0] == ("setup", "fit") and recorder.calls[-1] == ("teardown", "fit")
    assert ("end", "fit") not in recorder.calls
    np.testing.assert_array_equal(reg.coef_, before)
    assert not hasattr(reg, "_callback_fit_ctx") and reg._skl_callbacks == [recorder]


@needs_callbacks
def test_callbacks_follow_the_estimator_into_a_pipeline():
    X, y = make_problem(n=80, d=3)
    monitor = callback.ScoringMonitor(scoring="r2")
    pipe = make_pipeline(StandardScaler(), GradientDescentRegressor(max_iter=5, tol=None).set_callbacks(monitor))
    pipe.fit(X, y)
    epochs, _ = _epoch_scores(monitor)
    assert len(epochs) == 5 and epochs[-1] == pipe[-1].score(pipe[0].transform(X), y)


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_progress_bar_shows_the_fit(solver, capsys):
    pytest.importorskip("rich")
    X, y = make_problem(n=50, d=2)
    reg = GradientDescentRegressor(solver=solver, max_iter=20, tol=None).set_callbacks(callback.ProgressBar())
    assert reg.fit(X, y).n_iter_ == 20
    out = capsys.readouterr().out
    assert "GradientDescentRegressor - fit" in out and "100%" in out


def test_without_sklearn_callback_skgd_trains_and_offers_no_callbacks(tmp_path):
    """scikit-learn < 1.9 has no sklearn.callback: simulated by hiding it from skgd's modules."""
    code = textwrap.dedent(
        """
        import importlib, sys
        import numpy as np
        import skgd._callbacks, skgd._estimator
        real = sys.modules.get("sklearn.callback")
        sys.modules["sklearn.callback"] = None
        importlib.reload(skgd._callbacks)
        GradientDescentRegressor = importlib.reload(skgd._estimator).GradientDescentRegressor
        if real is None:
            del sys.modules["sklearn.callback"]
        else:
            sys.modules["sklearn.callback"] = real
        assert not hasattr(GradientDescentRegressor(), "set_callbacks")
        X = np.arange(20.0).reshape(10, 2); y = X @ [1.0, -2.0] + 0.5
        for solver in ("batch", "sgd"):
            reg = GradientDescentRegressor(solver=solver, max_iter=5, tol=None, random_state=0).fit(X, y)
            assert reg.n_iter_ == 5 and not hasattr(reg, "_callback_fit_ctx")
            reg.partial_fit(X, y)
        print(reg.coef_.tolist())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    X = np.arange(20.0).reshape(10, 2)
    reg = GradientDescentRegressor(solver="sgd", max_iter=5, tol=None, random_state=0).fit(X, X @ [1.0, -2.0] + 0.5)
    assert out.strip() == str(reg.partial_fit(X, X @ [1.0, -2.0] + 0.5).coef_.tolist())


def test_verbose_two_adds_validation_score_and_update_norm(note_data, capsys):
    X, y = note_data
    GradientDescentRegressor(learning_rate=0.01, max_iter=2, tol=None, fit_intercept=False, verbose=2).fit(
        X, y, coef_init=[1.0]
    )
    first = capsys.readouterr().out.splitlines()[0]
    # The note's first step: w goes from 1.0 to 1.0933333..., an update of 0.0933333.
    assert first.startswith("Epoch 0: loss=4.666666666666667, w=1.0933333333333333, step=0.01, time=")
    assert ", |w|=1.09333, |update|=0.0933333, t=1" in first
    X, y = make_problem(n=60, d=2)
    GradientDescentRegressor(max_iter=2, tol=None, early_stopping=True, random_state=0, verbose=2).fit(X, y)
    *epochs, last = capsys.readouterr().out.splitlines()
    assert len(epochs) == 2 and all("validation R2=" in line and "|update|=" in line for line in epochs)
    assert last.startswith("Stopped after epoch 1: max_iter (objective ")
