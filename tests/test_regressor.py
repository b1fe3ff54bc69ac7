"""The estimator as a scikit-learn user meets it: inputs, ecosystem, state, failure."""

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import assert_same_model, make_problem
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

SOLVERS = ["batch", "sgd"]


def _fitted_attributes(reg):
    return {k: v for k, v in vars(reg).items() if k.endswith("_") and not k.startswith("__")}


# ---------------------------------------------------------------- defaults
@pytest.mark.parametrize("solver, margin", [("batch", 0.002), ("sgd", 0.01)])
def test_defaults_match_linear_regression_on_diabetes(solver, margin):
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    reference = make_pipeline(StandardScaler(), LinearRegression()).fit(X_tr, y_tr).score(X_te, y_te)
    model = make_pipeline(StandardScaler(), GradientDescentRegressor(solver=solver, random_state=0))
    score = model.fit(X_tr, y_tr).score(X_te, y_te)
    assert abs(score - reference) <= margin


@pytest.mark.parametrize("solver", SOLVERS)
def test_auto_step_does_not_diverge_on_unscaled_data(solver):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 4)) * np.array([1e-2, 1.0, 1e2, 1e4]) + 50.0
    y = X @ np.array([3.0, -1.0, 0.02, 1e-4]) + rng.standard_normal(300)
    reg = GradientDescentRegressor(solver=solver, max_iter=50, tol=None, random_state=0).fit(X, y)
    assert np.all(np.isfinite(reg.coef_))
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_gives_the_dense_model(solver, fmt):
    X, y = make_problem(n=120, d=6)
    X[np.abs(X) < 0.8] = 0.0
    params = dict(solver=solver, learning_rate=0.01, max_iter=20, tol=None, shuffle=False)
    dense = GradientDescentRegressor(**params).fit(X, y)
    sparse = GradientDescentRegressor(**params).fit(fmt(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-10)
    np.testing.assert_allclose(sparse.predict(fmt(X)), dense.predict(X), rtol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_stays_float32_and_matches_float64(solver):
    X, y = make_problem(n=150, d=4, dtype=np.float32)
    params = dict(solver=solver, learning_rate=0.02, max_iter=30, tol=None, shuffle=False)
    reg32 = GradientDescentRegressor(**params).fit(X, y)
    reg64 = GradientDescentRegressor(**params).fit(X.astype(np.float64), y.astype(np.float64))
    assert reg32.coef_.dtype == np.float32 and reg32.predict(X).dtype == np.float32
    assert reg64.coef_.dtype == np.float64 and reg64.predict(X.astype(np.float64)).dtype == np.float64
    np.testing.assert_allclose(reg32.coef_, reg64.coef_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd"),
        dict(solver="sgd", batch_size=32, shuffle=False),
        dict(solver="batch"),  # the sufficient statistics
        dict(solver="batch", loss="huber"),  # a fused pass each epoch
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_allocates_at_most_a_tenth_of_x(params, dtype):
    # 50,000 x 40: what a fit needs per row (the sample order, the weights) and
    # per block, against 160 (float32) or 320 (float64) bytes of X a row.
    X, y = make_problem(n=50_000, d=40, dtype=dtype)
    reg = GradientDescentRegressor(max_iter=3, tol=None, **params)
    tracemalloc.start()
    reg.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 0.10 * X.nbytes


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_early_stopping_copies_only_the_validation_rows(solver, dtype):
    # On top of what any fit may allocate (0.10, as above): the held-out tenth
    # of X, copied, and under 0.05 for its targets and weights, the training
    # weights (zeros on the held-out rows) and positions. X is read in place;
    # copying the training rows would add 0.9.
    X, y = make_problem(n=50_000, d=40, dtype=dtype)
    reg = GradientDescentRegressor(max_iter=3, tol=None, solver=solver, early_stopping=True, validation_fraction=0.1)
    tracemalloc.start()
    reg.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= (0.10 + 0.10 + 0.05) * X.nbytes


@pytest.mark.parametrize("solver", SOLVERS)
def test_multi_output_is_one_problem_per_target(solver):
    X, Y = make_problem(n=100, d=3, n_targets=3)
    params = dict(solver=solver, learning_rate=0.02, max_iter=15, tol=None, shuffle=False)
    joint = GradientDescentRegressor(**params).fit(X, Y)
    assert joint.coef_.shape == (3, 3) and joint.intercept_.shape == (3,)
    curves = []
    for k in range(3):
        single = GradientDescentRegressor(**params).fit(X, Y[:, k])
        np.testing.assert_allclose(joint.coef_[k], single.coef_, rtol=1e-12)
        np.testing.assert_allclose(joint.intercept_[k], single.intercept_, rtol=1e-12)
        curves.append(single.loss_curve_)
    np.testing.assert_allclose(joint.loss_curve_, np.mean(curves, axis=0), rtol=1e-12)
    assert joint.predict(X).shape == (100, 3)


def test_integer_weights_equal_repeated_rows_for_batch():
    X, y = make_problem(n=60, d=3)
    w = np.random.RandomState(1).randint(0, 4, size=60)
    params = dict(solver="batch", learning_rate=0.05, max_iter=40, tol=None)
    weighted = GradientDescentRegressor(**params).fit(X, y, sample_weight=w)
    repeated = GradientDescentRegressor(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(X=np.array([[1.0], [np.nan], [3.0]])), "NaN"),
        (dict(y=np.array([1.0, np.inf, 3.0])), "infinity"),
        (dict(y=np.array([1.0, 2.0])), "inconsistent numbers of samples"),
        (dict(sample_weight=np.array([1.0, -1.0, 1.0])), "Negative values in data"),
        (dict(sample_weight=np.zeros(3)), "at least one non-zero"),
        (dict(coef_init=[1.0, 2.0]), "coef_init"),
    ],
)
def test_bad_input_gets_a_clear_error(note_data, bad, message):
    X, y = note_data
    args = {"X": X, "y": y, **bad}
    with pytest.raises(ValueError, match=message):
        GradientDescentRegressor().fit(args.pop("X"), args.pop("y"), **args)


@pytest.mark.parametrize(
    "params", [dict(learning_rate=-1.0), dict(solver="newton"), dict(max_iter=0), dict(momentum=1.0)]
)
def test_bad_parameters_get_sklearns_error(note_data, params):
    with pytest.raises(ValueError, match="parameter of GradientDescentRegressor must be"):
        GradientDescentRegressor(**params).fit(*note_data)


def test_batch_with_average_is_a_clear_error(note_data):
    with pytest.raises(ValueError, match="average is an option of solver='sgd'"):
        GradientDescentRegressor(solver="batch", average=True).fit(*note_data)


@pytest.mark.parametrize("solver", SOLVERS)
def test_partial_fit_rejects_a_new_feature_count(note_data, solver):
    X, y = note_data
    reg = GradientDescentRegressor(solver=solver).partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.partial_fit(np.hstack([X, X]), y)


def test_predict_before_fit_raises_not_fitted(note_data):
    with pytest.raises(NotFittedError):
        GradientDescentRegressor().predict(note_data[0])


# --------------------------------------------------------------- stopping
@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_ending_a_fit_warns_convergence(solver):
    X, y = make_problem()
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GradientDescentRegressor(solver=solver, max_iter=2, tol=1e-12, schedule="constant").fit(X, y)


def test_tol_stops_when_the_loss_stalls():
    X, y = make_problem(noise=0.0)
    reg = GradientDescentRegressor(tol=1e-3, n_iter_no_change=3, schedule="constant").fit(X, y)
    assert reg.n_iter_ < 1000 and len(reg.loss_curve_) == reg.n_iter_
    tail = np.array(reg.loss_curve_[-4:])
    assert np.all(tail[:-1] - tail[1:] <= 1e-3)


# ------------------------------------------------------------ partial_fit
# (k partial_fit calls equal fit(max_iter=k): test_properties.py, over random problems)
def test_partial_fit_honours_set_params_between_calls(note_data):
    X, y = note_data
    # tol=None: epochs as fit's (with a tol, sgd's partial_fit averages as a stream: tests/test_stream.py)
    reg = GradientDescentRegressor(solver="sgd", learning_rate=0.01, shuffle=False, fit_intercept=False, tol=None)
    reg.partial_fit(X, y)
    reg.set_params(learning_rate=0.02)
    reg.partial_fit(X, y)
    w = reg.coef_[0]
    ref = GradientDescentRegressor(
        solver="sgd", learning_rate=0.02, max_iter=1, tol=None, shuffle=False, fit_intercept=False
    )
    ref.fit(
        X,
        y,
        coef_init=GradientDescentRegressor(
            solver="sgd", learning_rate=0.01, shuffle=False, fit_intercept=False, tol=None
        )
        .partial_fit(X, y)
        .coef_,
    )
    assert w == ref.coef_[0] and reg.learning_rate_ == 0.02


@pytest.mark.parametrize("solver", SOLVERS)
def test_pickling_mid_partial_fit_resumes_bit_for_bit(solver):
    X, y = make_problem()
    params = dict(solver=solver, momentum=0.5, random_state=3, learning_rate=0.01)
    straight = GradientDescentRegressor(**params)
    for _ in range(6):
        straight.partial_fit(X, y)
    resumed = GradientDescentRegressor(**params)
    for _ in range(3):
        resumed.partial_fit(X, y)
    resumed = pickle.loads(pickle.dumps(resumed))
    for _ in range(3):
        resumed.partial_fit(X, y)
    assert_same_model(resumed, straight)


def test_warm_start_continues_from_the_previous_solution():
    X, y = make_problem()
    params = dict(learning_rate=0.01, max_iter=5, tol=None)
    warm = GradientDescentRegressor(warm_start=True, **params).fit(X, y).fit(X, y)
    cold = GradientDescentRegressor(**{**params, "max_iter": 10}).fit(X, y)
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-12)


# ----------------------------------------------------------------- failure
def _snapshot(reg):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(reg).items()}, pickle.dumps(
        getattr(reg, "_state", None)
    )


def _assert_unchanged(reg, snapshot):
    attributes, state = snapshot
    assert vars(reg).keys() == attributes.keys()
    for name, value in attributes.items():
        if name != "_state":
            np.testing.assert_array_equal(getattr(reg, name), value, err_msg=name)
    assert pickle.dumps(getattr(reg, "_state", None)) == state


@pytest.mark.parametrize("solver", SOLVERS)
def test_divergence_names_epoch_and_rate_and_keeps_the_previous_model(solver):
    X, y = make_problem()
    reg = GradientDescentRegressor(solver=solver, learning_rate=0.001, max_iter=3, tol=None).fit(X, y)
    reg.set_params(learning_rate=10.0, max_iter=200)
    snapshot = _snapshot(reg)
    with pytest.raises(ValueError, match=r"diverged at epoch \d+.*learning rate 10\.0.*smaller learning_rate"):
        reg.fit(X, y)
    _assert_unchanged(reg, snapshot)
    for _ in range(200):
        snapshot = _snapshot(reg)
        try:
            reg.partial_fit(X, y)
        except ValueError as error:
            assert "diverged" in str(error)
            break
    else:
        pytest.fail("partial_fit with learning_rate=10 never reported divergence")
    _assert_unchanged(reg, snapshot)


def test_failed_first_fit_leaves_the_estimator_unfitted():
    X, y = make_problem()
    reg = GradientDescentRegressor(learning_rate=100.0, max_iter=100)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y)
    assert not _fitted_attributes(reg) and not hasattr(reg, "_state")
    with pytest.raises(NotFittedError):
        reg.predict(X)


# --------------------------------------------------------------- ecosystem
def test_pipeline_grid_search_over_learning_rate_and_solver():
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), GradientDescentRegressor(random_state=0, max_iter=200))
    grid = GridSearchCV(
        pipe,
        {
            "gradientdescentregressor__learning_rate": [0.001, 0.01, "auto"],
            "gradientdescentregressor__solver": ["batch", "sgd"],
        },
        n_jobs=2,
        cv=3,
    )
    grid.fit(X, y)
    assert grid.best_score_ > 0.45
    assert set(grid.cv_results_["param_gradientdescentregressor__solver"]) == {"batch", "sgd"}


def test_cross_val_score_and_clone():
    X, y = make_problem(noise=0.01)
    reg = GradientDescentRegressor(solver="sgd", random_state=0)
    scores = cross_val_score(reg, X, y, cv=3)
    assert scores.min() > 0.99
    copy = clone(reg)
    assert copy.get_params() == reg.get_params() and not hasattr(copy, "coef_")
