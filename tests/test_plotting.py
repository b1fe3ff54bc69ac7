"""LossCurveDisplay draws the fitted curves themselves: loss, validation scores, overlays."""

import subprocess
import sys

import numpy as np
import pytest
from _helpers import make_problem
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor, LossCurveDisplay

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fits():
    """Two plain fits and two with early stopping, on one small problem."""
    X, y = make_problem(n=120, d=4)
    common = dict(max_iter=30, tol=None, random_state=0)
    return {
        "batch": GradientDescentRegressor(solver="batch", **common).fit(X, y),
        "sgd": GradientDescentRegressor(solver="sgd", **common).fit(X, y),
        "batch_es": GradientDescentRegressor(solver="batch", early_stopping=True, **common).fit(X, y),
        "sgd_es": GradientDescentRegressor(solver="sgd", early_stopping=True, **common).fit(X, y),
    }


def test_line_is_the_loss_curve_per_epoch(fits):
    reg = fits["sgd"]
    display = LossCurveDisplay.from_estimator(reg)
    assert display.line_.get_ydata().tolist() == reg.loss_curve_
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(reg.n_iter_))
    assert display.line_.get_label() == "GradientDescentRegressor"
    assert display.ax_ is display.line_.axes and display.figure_ is display.ax_.figure
    assert display.ax_.get_xlabel() == "epoch" and "loss_curve_" in display.ax_.get_ylabel()
    assert display.ax_.get_yscale() == "linear"
    assert display.validation_line_ is None and display.validation_ax_ is None
    assert len(display.figure_.axes) == 1


def test_validation_scores_go_on_a_second_axis_in_the_same_colour(fits):
    reg = fits["batch_es"]
    display = LossCurveDisplay.from_estimator(reg, name="es", color="tab:green")
    assert display.line_.get_ydata().tolist() == reg.loss_curve_
    assert display.validation_line_.get_ydata().tolist() == reg.validation_scores_
    assert display.validation_line_.axes is display.validation_ax_ is not display.ax_
    assert display.validation_ax_.get_shared_x_axes().joined(display.ax_, display.validation_ax_)
    assert display.line_.get_color() == display.validation_line_.get_color() == "tab:green"
    assert display.validation_line_.get_linestyle() == "--"
    assert "validation_scores_" in display.validation_ax_.get_ylabel()
    legend = display.validation_ax_.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["es", "es (validation score)"]


def test_overlays_share_the_axes_and_one_legend(fits):
    fig, ax = plt.subplots()
    displays = {
        name: LossCurveDisplay.from_estimator(fits[name], ax=ax, name=name, log_scale=True)
        for name in ("batch", "batch_es", "sgd_es")
    }
    assert [line.get_ydata().tolist() for line in ax.get_lines()] == [
        fits[name].loss_curve_ for name in ("batch", "batch_es", "sgd_es")
    ]
    # One second axis for every display that has validation scores.
    assert len(fig.axes) == 2
    twin = displays["batch_es"].validation_ax_
    assert displays["sgd_es"].validation_ax_ is twin
    assert [line.get_ydata().tolist() for line in twin.get_lines()] == [
        fits["batch_es"].validation_scores_,
        fits["sgd_es"].validation_scores_,
    ]
    assert ax.get_yscale() == "log" and ax.get_legend() is None
    texts = [t.get_text() for t in twin.get_legend().get_texts()]
    assert texts == ["batch", "batch_es", "sgd_es", "batch_es (validation score)", "sgd_es (validation score)"]
    assert all(d.ax_ is ax and d.figure_ is fig for d in displays.values())


def test_pipeline_draws_its_final_step():
    X, y = make_problem(n=120, d=4)
    pipe = make_pipeline(StandardScaler(), GradientDescentRegressor(max_iter=10, tol=None)).fit(X, y)
    display = LossCurveDisplay.from_estimator(pipe)
    assert display.line_.get_ydata().tolist() == pipe[-1].loss_curve_
    assert display.line_.get_label() == "GradientDescentRegressor"


def test_display_from_precomputed_values_draws_them():
    display = LossCurveDisplay(loss_curve=[4.0, 2.0, 1.0], validation_scores=[0.1, 0.5, 0.7]).plot()
    assert display.line_.get_ydata().tolist() == [4.0, 2.0, 1.0]
    assert display.validation_line_.get_ydata().tolist() == [0.1, 0.5, 0.7]
    assert display.line_.get_label().startswith("_")
    assert display.validation_ax_.get_legend() is not None


def test_unfitted_estimator_raises_not_fitted_error():
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GradientDescentRegressor())
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), GradientDescentRegressor()))


def test_estimator_without_a_loss_curve_is_refused():
    X, y = make_problem(n=30, d=2)
    with pytest.raises(TypeError, match="records no loss_curve_"):
        LossCurveDisplay.from_estimator(LinearRegression().fit(X, y))


def test_importing_skgd_does_not_import_matplotlib(tmp_path):
    code = "import sys, skgd; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


@pytest.mark.parametrize("loss", ["quantile", "poisson"])
def test_the_quantile_and_log_link_curves_are_drawn_with_their_scores(loss):
    # The pinball loss and the Poisson deviance per epoch, and the held-out score (R2, or D2 for the deviance).
    X, y = make_problem(n=150, d=3)
    y = np.exp(y / (2 * y.std())) if loss == "poisson" else y
    reg = GradientDescentRegressor(loss=loss, early_stopping=True, max_iter=20, tol=None, random_state=0).fit(X, y)
    display = LossCurveDisplay.from_estimator(reg)
    assert display.line_.get_ydata().tolist() == reg.loss_curve_
    assert display.validation_line_.get_ydata().tolist() == reg.validation_scores_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
