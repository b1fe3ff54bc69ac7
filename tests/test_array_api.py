"""Array API input: fits in the data's namespace and on its device equal the NumPy fit.

Every namespace and device here is optional: array-api-strict (from the test
extra; its "device1" stands for a second device), PyTorch on the CPU, and, on
a machine that has one, PyTorch on CUDA and CuPy. Those absent are skipped.
The reference is always the NumPy fit, whose numbers other test modules pin.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import make_problem, make_weights, targets_for
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skgd import GradientDescentRegressor
from skgd._array_api import ARRAY_API_SUPPORT
from skgd._loss import LOSSES
from skgd._objective import GramObjective, choose_objective
from skgd._schedules import SCHEDULES

if not ARRAY_API_SUPPORT:
    pytest.skip("array API input needs scikit-learn >= 1.9", allow_module_level=True)

from sklearn.utils._array_api import get_namespace_and_device, move_estimator_to, move_to  # noqa: E402
from sklearn.utils._testing import _array_api_for_tests  # noqa: E402
from sklearn.utils.estimator_checks import check_array_api_input_and_values  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

#: (namespace, device) pairs; each is skipped where it is not available.
NAMESPACES = [
    ("array_api_strict", None),
    ("array_api_strict", "device1"),
    ("torch", "cpu"),
    ("torch", "cuda"),
    ("cupy", None),
]
NAMESPACE_IDS = [f"{name}-{device}" if device else name for name, device in NAMESPACES]

#: The solvers: data small enough to stream, or large enough for the Gram solver.
SOLVERS = {
    "batch-streaming": dict(solver="batch"),
    "batch-gram": dict(solver="batch"),
    "sgd-per-sample": dict(solver="sgd"),
    "sgd-mini-batch": dict(solver="sgd", batch_size=7),
}
#: The data: make_problem(n=ROWS[solver], **PROBLEM), weighted by make_weights(n).
ROWS = {"batch-streaming": 60, "batch-gram": 2500, "sgd-per-sample": 60, "sgd-mini-batch": 60}
PROBLEM = dict(d=4, noise=0.3, seed=3)

#: What each solver is run with: every loss, penalty and schedule, and the options.
VARIANTS = [
    *({"loss": loss, "epsilon": 0.3} for loss in LOSSES),
    *({"penalty": penalty, "alpha": 0.05} for penalty in ("l2", "l1", "elasticnet")),
    *(
        {"schedule": name, "learning_rate": 0.01, "power_t": 0.7, "tol": 10.0, "n_iter_no_change": 1}
        for name in SCHEDULES
    ),
    {"momentum": 0.8},
    {"momentum": 0.8, "nesterov": True, "penalty": "l1", "alpha": 0.05},
    {"fit_intercept": False, "loss": "huber"},
    {"average": True},
    {"average": 20, "momentum": 0.5, "penalty": "elasticnet", "alpha": 0.1, "loss": "squared_epsilon_insensitive"},
]


def _cases():
    for solver, settings in SOLVERS.items():
        for variant in VARIANTS:
            if solver == "batch-gram" and (variant.get("loss", "squared_error") != "squared_error"):
                continue  # the Gram solver is squared error's
            if settings["solver"] == "batch" and "average" in variant:
                continue  # averaging is an sgd option
            name = "-".join(f"{k}={v}" for k, v in variant.items())
            yield pytest.param(solver, {**settings, **variant}, id=f"{solver}-{name}")


def _namespace(name, device):
    return _array_api_for_tests(name, device)


def _to(xp, device, *arrays):
    """The NumPy arrays in namespace ``xp`` on ``device``."""
    return tuple(xp.asarray(a, device=device) for a in arrays)


def _numpy(array):
    """Any array as a NumPy array (``move_to`` reads namespaces under dispatch only)."""
    with config_context(array_api_dispatch=True):
        return np.asarray(move_to(array, xp=np, device="cpu"))


def _assert_in(array, xp, device, dtype):
    """``array`` lives in ``xp`` on ``device`` with ``dtype``."""
    with config_context(array_api_dispatch=True):
        array_xp, _, array_device = get_namespace_and_device(array)
    assert array_xp.__name__ == xp.__name__
    assert array_device == device
    assert array.dtype == dtype


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
@pytest.mark.parametrize("solver, params", list(_cases()))
def test_fit_equals_the_numpy_fit(name, device, solver, params):
    xp, device = _namespace(name, device)
    X, y = make_problem(n=ROWS[solver], **PROBLEM)
    y = targets_for(params.get("loss", "squared_error"), y)
    weights = make_weights(ROWS[solver])
    params = {"max_iter": 8, "tol": None, "random_state": 0, **params}
    reference = GradientDescentRegressor(**params).fit(X, y, sample_weight=weights)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp, w_xp = _to(xp, device, X, y, weights)
        if solver == "batch-gram":
            assert choose_objective(LOSSES["squared_error"], X_xp, 8, False) is GramObjective
        est = GradientDescentRegressor(**params).fit(X_xp, y_xp, sample_weight=w_xp)
        prediction = est.predict(X_xp)
    for fitted in (est.coef_, est.intercept_, prediction):
        _assert_in(fitted, xp, X_xp.device, X_xp.dtype)
    assert_allclose(_numpy(est.coef_), reference.coef_, rtol=1e-8, atol=1e-12)
    assert_allclose(_numpy(est.intercept_), reference.intercept_, rtol=1e-8, atol=1e-12)
    assert_allclose(_numpy(prediction), reference.predict(X), rtol=1e-8, atol=1e-12)
    assert_allclose(est.loss_curve_, reference.loss_curve_, rtol=1e-8)
    assert (est.n_iter_, est.t_) == (reference.n_iter_, reference.t_)
    assert est.learning_rate_ == pytest.approx(reference.learning_rate_, rel=1e-8)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
@pytest.mark.parametrize("params", [{}, {"momentum": 0.5, "penalty": "elasticnet", "alpha": 0.05, "average": 3}])
def test_each_target_takes_its_own_step_as_in_the_compiled_loop(name, device, params):
    # Poisson targets of unequal means: the automatic step gives each target its own (relative_steps).
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    Y = np.column_stack([targets_for("poisson", y), 20.0 * targets_for("poisson", y)])
    params = {
        "solver": "sgd",
        "batch_size": 7,
        "loss": "poisson",
        "max_iter": 6,
        "tol": None,
        "random_state": 0,
        **params,
    }
    reference = GradientDescentRegressor(**params).fit(X, Y)
    with config_context(array_api_dispatch=True):
        est = GradientDescentRegressor(**params).fit(*_to(xp, device, X, Y))
    assert_allclose(_numpy(est.coef_), reference.coef_, rtol=1e-8, atol=1e-12)
    assert_allclose(_numpy(est.intercept_), reference.intercept_, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
@pytest.mark.parametrize(
    "params",
    [
        {"penalty": "l2", "alpha": 0.05},
        {"penalty": "l2", "alpha": 0.05, "momentum": 0.6, "average": 5},
        {"loss": "huber", "momentum": 0.6, "nesterov": True, "batch_size": 7},
        {"schedule": "invscaling", "learning_rate": 0.05, "penalty": "l2", "alpha": 0.05, "average": True},
    ],
)
def test_scaled_csr_rows_step_as_the_dense_reference(name, device, params):
    # The compiled loop's scaled CSR pass (lazy catch-up of the columns a batch does not store) against the
    # namespace loop on the same rows, dense; uncentred (no intercept), and without L1 (which CSR rows apply
    # to their stored columns only).
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    X[np.abs(X) < 0.6] = 0.0
    params = {"solver": "sgd", "fit_intercept": False, "max_iter": 5, "tol": None, "random_state": 0, **params}
    reference = GradientDescentRegressor(**params).fit(sp.csr_matrix(X), y)
    with config_context(array_api_dispatch=True):
        est = GradientDescentRegressor(**params).fit(*_to(xp, device, X, y))
    assert_allclose(_numpy(est.coef_), reference.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(est.loss_curve_, reference.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_float32_stays_float32_and_multi_output(name, device, solver):
    xp, device = _namespace(name, device)
    X, Y = make_problem(n=ROWS[solver], n_targets=2, dtype=np.float32, **PROBLEM)
    weights = make_weights(ROWS[solver], dtype=np.float32)
    params = {**SOLVERS[solver], "max_iter": 6, "tol": None, "random_state": 0, "momentum": 0.5, "penalty": "l1"}
    reference = GradientDescentRegressor(**params).fit(X, Y, sample_weight=weights)
    with config_context(array_api_dispatch=True):
        X_xp, Y_xp, w_xp = _to(xp, device, X, Y, weights)
        est = GradientDescentRegressor(**params).fit(X_xp, Y_xp, sample_weight=w_xp)
        prediction = est.predict(X_xp)
    assert tuple(est.coef_.shape) == (2, 4) and tuple(prediction.shape) == (X.shape[0], 2)
    for fitted in (est.coef_, est.intercept_, prediction):
        _assert_in(fitted, xp, X_xp.device, xp.float32)
    assert_allclose(_numpy(est.coef_), reference.coef_, rtol=1e-4, atol=1e-5)
    assert_allclose(_numpy(prediction), reference.predict(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
@pytest.mark.parametrize("solver, batch_size", [("batch", 1), ("sgd", 1), ("sgd", 5)])
def test_partial_fit_steps_equal_fit_and_follow_the_data(name, device, solver, batch_size):
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    params = dict(solver=solver, batch_size=batch_size, shuffle=False, learning_rate=0.01, average=solver == "sgd")
    params["tol"] = None  # with a tol, sgd's partial_fit is a stream of its own (skgd._stream)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = _to(xp, device, X, y)
        fitted = GradientDescentRegressor(max_iter=3, **params).fit(X_xp, y_xp)
        stepped = GradientDescentRegressor(**params)
        for _ in range(3):
            stepped.partial_fit(X_xp, y_xp)
        # A model trained on NumPy continues on the device, and the other way round.
        mixed = GradientDescentRegressor(**params).partial_fit(X, y).partial_fit(X_xp, y_xp)
        _assert_in(mixed.coef_, xp, X_xp.device, X_xp.dtype)
        mixed.partial_fit(X, y)
    reference = GradientDescentRegressor(max_iter=3, **params).fit(X, y)
    assert isinstance(mixed.coef_, np.ndarray)
    assert_allclose(mixed.coef_, reference.coef_, rtol=1e-12)
    assert_allclose(_numpy(stepped.coef_), _numpy(fitted.coef_), rtol=1e-12)
    assert_allclose(_numpy(fitted.coef_), reference.coef_, rtol=1e-10)
    assert stepped.loss_curve_ == pytest.approx(reference.loss_curve_, rel=1e-10)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
def test_early_stopping_warm_start_and_initial_values_on_the_device(name, device):
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    weights = make_weights(60)
    params = dict(solver="sgd", batch_size=4, early_stopping=True, validation_fraction=0.2, random_state=2)
    reference = GradientDescentRegressor(max_iter=12, tol=None, warm_start=True, **params)
    reference.fit(X, y, sample_weight=weights, coef_init=np.ones(4), intercept_init=0.5).fit(X, y)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp, w_xp, ones = _to(xp, device, X, y, weights, np.ones(4))
        est = GradientDescentRegressor(max_iter=12, tol=None, warm_start=True, **params)
        est.fit(X_xp, y_xp, sample_weight=w_xp, coef_init=ones, intercept_init=0.5).fit(X_xp, y_xp)
    assert est.validation_scores_ == pytest.approx(reference.validation_scores_, rel=1e-10)
    assert est.best_validation_score_ == pytest.approx(reference.best_validation_score_, rel=1e-10)
    assert_allclose(_numpy(est.coef_), reference.coef_, rtol=1e-10)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
def test_predict_refuses_another_namespace_until_the_model_is_moved(name, device):
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = _to(xp, device, X, y)
        est = GradientDescentRegressor(max_iter=5, tol=None).fit(X_xp, y_xp)
        with pytest.raises(ValueError, match="must use the same namespace"):
            est.predict(X)
        on_host = move_estimator_to(est, np, "cpu")
        assert_allclose(on_host.predict(X), _numpy(est.predict(X_xp)), rtol=1e-12)
        # The moved model trains on: its training state follows the data.
        on_host.partial_fit(X, y)
        est.partial_fit(X_xp, y_xp)
    assert_allclose(on_host.coef_, _numpy(est.coef_), rtol=1e-12)


@pytest.mark.parametrize("name, device", NAMESPACES, ids=NAMESPACE_IDS)
def test_divergence_is_refused_and_the_model_kept(name, device):
    xp, device = _namespace(name, device)
    X, y = make_problem(n=60, **PROBLEM)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = _to(xp, device, X, y)
        est = GradientDescentRegressor(solver="sgd", batch_size=10, learning_rate=0.1, max_iter=2, tol=None)
        est.partial_fit(X_xp, y_xp)
        before = _numpy(est.coef_)
        est.set_params(learning_rate=1e6)
        with pytest.raises(ValueError, match="diverged"):
            est.partial_fit(X_xp, y_xp)
    assert_array_equal(_numpy(est.coef_), before)
    assert est.n_iter_ == 1


def test_pickled_device_model_resumes_bit_for_bit():
    xp, device = _namespace("torch", "cpu")
    X, y = make_problem(n=60, **PROBLEM)
    with config_context(array_api_dispatch=True):
        X_xp, y_xp = _to(xp, device, X, y)
        est = GradientDescentRegressor(solver="sgd", batch_size=6, average=True, random_state=0)
        est.partial_fit(X_xp, y_xp)
        copy = pickle.loads(pickle.dumps(est))
        est.partial_fit(X_xp, y_xp)
        copy.partial_fit(X_xp, y_xp)
    assert_array_equal(_numpy(copy.coef_), _numpy(est.coef_))


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_numpy_and_sparse_input_under_dispatch_fit_exactly_as_without(solver):
    X, y = make_problem(n=2500, **PROBLEM)
    weights = make_weights(2500)
    params = dict(solver=solver, max_iter=5, tol=None, random_state=0, batch_size=3)
    for data in (X, sp.csr_matrix(X)):
        plain = GradientDescentRegressor(**params).fit(data, y, sample_weight=weights)
        with config_context(array_api_dispatch=True):
            dispatched = GradientDescentRegressor(**params).fit(data, y, sample_weight=weights)
            prediction = dispatched.predict(data)
        assert isinstance(dispatched.coef_, np.ndarray)
        assert_array_equal(dispatched.coef_, plain.coef_)
        assert dispatched.loss_curve_ == plain.loss_curve_
        assert_array_equal(prediction, plain.predict(data))


@pytest.mark.parametrize("name, device", NAMESPACES[1:4], ids=NAMESPACE_IDS[1:4])
@pytest.mark.parametrize(
    "estimator", [GradientDescentRegressor(), GradientDescentRegressor(solver="sgd", batch_size=8)]
)
def test_scikit_learn_values_check(name, device, estimator):
    # check_array_api_input_and_values is not among the checks scikit-learn
    # yields: it compares attributes and predictions with the NumPy fit.
    _namespace(name, device)
    check_array_api_input_and_values(
        type(estimator).__name__, clone(estimator), name, device_name=device, check_sample_weight=True
    )
