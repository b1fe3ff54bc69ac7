"""Dask arrays on a real distributed.LocalCluster (processes): the same model as
in memory, the data read as often as promised, validation per block, the
ecosystem (joblib's dask backend, dask-ml's Incremental) and the examples."""

import collections
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import assert_same_model, make_problem, run_example, targets_for
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skgd import GradientDescentRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

CHUNK = 700  # rows per block: 3000 rows give blocks 700, 700, 700, 700, 200


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster of processes, one thread each, for the whole module."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _on_cluster(client, *arrays):
    """Persist in-memory arrays on the cluster as row-chunked dask arrays."""
    chunked = [da.from_array(a, chunks=(CHUNK,) + a.shape[1:]) for a in arrays]
    persisted = client.persist(chunked)
    distributed.wait(persisted)
    return persisted


@pytest.fixture(scope="module")
def data():
    X, y = make_problem(n=3000, d=6, noise=0.3)
    weights = np.random.RandomState(1).uniform(0.2, 2.0, X.shape[0])
    return X, y, weights


# --------------------------------------------------------- the same model
SAME_MODEL = {
    "batch-squared (Gram)": dict(),
    "batch-squared-l1": dict(penalty="l1", alpha=0.01, learning_rate=0.05, schedule="invscaling"),
    "batch-huber (streaming)": dict(loss="huber", epsilon=0.3, max_iter=40),
    "batch-epsilon-insensitive-momentum": dict(loss="epsilon_insensitive", momentum=0.5, max_iter=30),
    "sgd": dict(solver="sgd", shuffle=False, max_iter=10),
    "sgd-minibatch-across-blocks": dict(
        solver="sgd", shuffle=False, batch_size=64, momentum=0.3, penalty="elasticnet", alpha=0.01, max_iter=8
    ),
    "sgd-batch-larger-than-a-block": dict(solver="sgd", shuffle=False, batch_size=1000, average=True, max_iter=8),
}


@pytest.mark.parametrize("params", SAME_MODEL.values(), ids=SAME_MODEL.keys())
def test_fit_on_dask_equals_the_in_memory_fit(client, data, params):
    X, y, weights = data
    dask_model = GradientDescentRegressor(**params).fit(
        *_on_cluster(client, X, y), sample_weight=_on_cluster(client, weights)[0]
    )
    assert_same_model(dask_model, GradientDescentRegressor(**params).fit(X, y, sample_weight=weights), rtol=1e-9)


#: The quantile and log-link losses (positive targets for the latter): fixed steps and tol=None, then the
#: automatic step (the quantile's smoothing continued, the log link's backtracking: with an L1 part in
#: memory too), in both solvers.
NEW_LOSSES = {
    **{
        f"{solver}-{loss}-fixed": dict(solver=solver, loss=loss, learning_rate=0.01, tol=None, max_iter=6)
        for solver in ("batch", "sgd")
        for loss in ("quantile", "poisson", "gamma", "tweedie")
    },
    **{
        f"batch-{loss}-auto": dict(loss=loss, penalty="elasticnet", l1_ratio=0.5, max_iter=40)
        for loss in ("poisson", "gamma", "tweedie")
    },
    # The same steps: in memory the LP's evidence may jump to its optimal vertex, which dask arrays cannot measure.
    "batch-quantile-auto": dict(loss="quantile", max_iter=40, tol=None),
    "sgd-poisson-auto-l2": dict(solver="sgd", loss="poisson", penalty="l2", alpha=0.01, shuffle=False, max_iter=4),
}


@pytest.mark.parametrize("params", NEW_LOSSES.values(), ids=NEW_LOSSES.keys())
def test_quantile_and_log_link_fits_on_dask_equal_the_in_memory_fits(client, data, params):
    X, y, weights = data
    y = targets_for(params["loss"], y)
    params = {"quantile": 0.3, "shuffle": False, **params}
    dask_model = GradientDescentRegressor(**params).fit(
        *_on_cluster(client, X, y), sample_weight=_on_cluster(client, weights)[0]
    )
    assert_same_model(dask_model, GradientDescentRegressor(**params).fit(X, y, sample_weight=weights), rtol=1e-9)


@pytest.mark.parametrize("loss, power", [("poisson", 1.0), ("gamma", 2.0), ("tweedie", 1.5)])
def test_a_default_log_link_fit_on_dask_reaches_the_in_memory_optimum(client, data, loss, power):
    # In memory the conjugate directions search along the rows' predictors, which a dask array's fit does
    # not hold (it backtracks): other steps to the same optimum, each silent only within tol of it.
    from sklearn.metrics import mean_tweedie_deviance

    X, y, weights = data
    y = targets_for(loss, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        on_dask = GradientDescentRegressor(loss=loss).fit(
            *_on_cluster(client, X, y), sample_weight=_on_cluster(client, weights)[0]
        )
        in_memory = GradientDescentRegressor(loss=loss).fit(X, y, sample_weight=weights)
    deviance = [
        mean_tweedie_deviance(y, model.predict(X), sample_weight=weights, power=power) for model in (on_dask, in_memory)
    ]
    assert abs(deviance[0] - deviance[1]) <= 1e-4 * deviance[1]


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_multi_output_float32_and_in_memory_weights(client, solver):
    X, Y = make_problem(n=2000, d=4, n_targets=3, dtype=np.float32)
    weights = np.arange(2000) % 3 + 1.0  # in memory: follows X's chunks
    params = dict(solver=solver, shuffle=False, max_iter=5, tol=None)
    dask_model = GradientDescentRegressor(**params).fit(*_on_cluster(client, X, Y), sample_weight=weights)
    memory_model = GradientDescentRegressor(**params).fit(X, Y, sample_weight=weights)
    assert dask_model.coef_.dtype == np.float32 and dask_model.coef_.shape == (3, 4)
    assert_same_model(dask_model, memory_model, rtol=1e-5)


def test_partial_fit_on_dask_equals_partial_fit_in_memory(client, data):
    X, y, _ = data
    Xd, yd = _on_cluster(client, X, y)
    dask_model = GradientDescentRegressor(solver="sgd", shuffle=False)
    memory_model = GradientDescentRegressor(solver="sgd", shuffle=False)
    for _ in range(3):
        dask_model.partial_fit(Xd, yd)
        memory_model.partial_fit(X, y)
    assert_same_model(dask_model, memory_model, rtol=1e-9)


def test_sgd_shuffles_blocks_reproducibly(client, data):
    X, y, _ = data
    Xd, yd = _on_cluster(client, X, y)
    params = dict(solver="sgd", max_iter=5, tol=None, random_state=0)
    first, again = GradientDescentRegressor(**params).fit(Xd, yd), GradientDescentRegressor(**params).fit(Xd, yd)
    assert_same_model(first, again)
    in_order = GradientDescentRegressor(**{**params, "shuffle": False}).fit(Xd, yd)
    assert not np.allclose(first.coef_, in_order.coef_, rtol=1e-9, atol=0)
    np.testing.assert_allclose(first.coef_, GradientDescentRegressor().fit(X, y).coef_, atol=0.05)


def test_predict_on_dask_is_lazy_and_equals_in_memory_predict(client, data):
    X, y, _ = data
    Xd, yd = _on_cluster(client, X, y)
    reg = GradientDescentRegressor().fit(X, y)
    prediction = reg.predict(Xd)
    assert isinstance(prediction, da.Array) and prediction.shape == (3000,) and prediction.dtype == np.float64
    np.testing.assert_allclose(prediction.compute(), reg.predict(X), rtol=1e-12)
    Y = np.column_stack([y, 2 * y])
    two = GradientDescentRegressor().fit(X, Y).predict(Xd)
    assert two.shape == (3000, 2) and two.compute().shape == (3000, 2)


# ----------------------------------------------------- reads of the data
def _counted(X, log):
    """X as a dask array whose blocks write their index to ``log`` whenever they are read."""

    def read(block, block_info=None):
        with open(log, "a") as f:
            f.write(f"{block_info[0]['chunk-location'][0]}\n")
        return block

    return da.from_array(X, chunks=(CHUNK, X.shape[1])).map_blocks(read, dtype=X.dtype)


def _reads(log):
    return collections.Counter(int(line) for line in Path(log).read_text().split())


@pytest.mark.parametrize(
    "params, passes",
    [
        (dict(), lambda reg: 1),  # the statistics, once
        # The survey, the objective at the call's start and end, and per epoch:
        # batch (accelerated) the gradient at the extrapolated point and J where
        # its step lands; sgd one pass, and the conditioned rows' largest norm
        # for the automatic step.
        (dict(loss="huber", max_iter=7, tol=None), lambda reg: 3 + 2 * reg.n_iter_),
        (dict(solver="sgd", max_iter=4, tol=None), lambda reg: 4 + reg.n_iter_),
    ],
    ids=["batch-squared", "batch-huber", "sgd"],
)
def test_each_block_is_read_once_per_pass(client, data, tmp_path, params, passes):
    X, y, _ = data
    log = tmp_path / "reads"
    reg = GradientDescentRegressor(**params).fit(_counted(X, log), da.from_array(y, chunks=CHUNK))
    assert _reads(log) == {block: passes(reg) for block in range(5)}
    if not params:
        assert_same_model(reg, GradientDescentRegressor(**params).fit(X, y), rtol=1e-9)


def test_a_y_computed_from_x_does_not_read_x_twice(client, data, tmp_path):
    X, _, _ = data
    log = tmp_path / "reads"
    Xd = _counted(X, log)
    GradientDescentRegressor().fit(Xd, Xd @ np.arange(6.0) + 1.0)
    assert _reads(log) == {block: 1 for block in range(5)}


def test_auto_steps_on_too_wide_dask_data_are_refused_before_any_pass(monkeypatch):
    from skgd import _dask

    computed = []
    monkeypatch.setattr(_dask.dask, "compute", lambda *a, **k: computed.append(a))
    X = da.zeros((20, 4097), chunks=(10, 4097))
    with pytest.raises(ValueError, match="needs at most 4096 features"):
        GradientDescentRegressor().fit(X, da.zeros(20, chunks=10))
    assert computed == []


def test_an_epoch_sends_the_coefficients_once_and_adds_blocks_as_a_tree(monkeypatch, data):
    from skgd import _dask

    X, y, _ = data
    Xd, yd = da.from_array(np.tile(X, (4, 1)), chunks=(CHUNK, 6)), da.from_array(np.tile(y, 4), chunks=CHUNK)
    graphs = []
    compute = _dask.dask.compute

    def spy(*args, **kwargs):
        graphs.append(dict(args[0].__dask_graph__()))
        return compute(*args, **kwargs)

    monkeypatch.setattr(_dask.dask, "compute", spy)
    GradientDescentRegressor(loss="huber", max_iter=1).fit(Xd, yd)
    # The survey, J at the start, the epoch's gradient pass and J where its step
    # lands, J at the end: every pass but the gradient's goes without the gradient.
    survey, start, epoch, landed, end = graphs
    assert all("_add_elementwise" not in str(key) for key in {**start, **landed, **end})
    names = collections.Counter(key.split("-")[0] for key in epoch if isinstance(key, str))
    assert names["_block_sums"] == Xd.numblocks[0] == 18
    assert names["tuple"] == 1  # (coef, intercept), once
    assert names["_add_elementwise"] == 3 + 1  # 18 -> 3 -> 1, FAN_IN = 8


# ------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda X, y, s: (_with(X, 1500, np.nan), y, s), "Input X contains NaN"),
        (lambda X, y, s: (X, _with(y, 2200, np.inf), s), "Input y contains infinity"),
        (lambda X, y, s: (X, y, _with(s, 10, -1.0)), "Negative values in data passed to sample_weight"),
        (lambda X, y, s: (X, y, np.zeros_like(s)), "at least one non-zero"),
        (lambda X, y, s: (X, y[:-1], s), "inconsistent numbers of samples"),
        (lambda X, y, s: (X[:, 0], y, s), "Expected a 2D dask array"),
    ],
    ids=["nan-in-X", "inf-in-y", "negative-weight", "zero-weights", "short-y", "1d-X"],
)
def test_invalid_dask_data_raises_and_leaves_the_estimator_unfitted(client, data, corrupt, message):
    X, y, weights = data
    X, y, weights = corrupt(X, y, weights)
    Xd = da.from_array(X, chunks=(CHUNK,) + X.shape[1:])
    reg = GradientDescentRegressor()
    with pytest.raises(ValueError, match=message):
        reg.fit(Xd, da.from_array(y, chunks=CHUNK), sample_weight=weights)
    with pytest.raises(NotFittedError):
        reg.predict(X)


def _with(a, index, value):
    a = a.copy()
    a.flat[index * (a.shape[1] if a.ndim == 2 else 1)] = value
    return a


def test_predict_checks_features_at_once_and_values_per_block(client, data):
    X, y, _ = data
    reg = GradientDescentRegressor().fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        reg.predict(da.from_array(X[:, :5], chunks=CHUNK))
    prediction = reg.predict(da.from_array(_with(X, 2500, np.nan), chunks=CHUNK))  # lazy: no error yet
    with pytest.raises(ValueError, match="Input X contains NaN"):
        prediction.compute()


def test_early_stopping_on_dask_says_what_to_do_instead(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="early_stopping=True is not supported with dask arrays"):
        GradientDescentRegressor(early_stopping=True).fit(da.from_array(X, chunks=CHUNK), y)


def test_integer_and_column_chunked_x_are_accepted(client, data):
    X, y, _ = data
    Xi = np.round(X * 10).astype(np.int64)
    Xd = da.from_array(Xi, chunks=(CHUNK, 2))  # three column chunks: joined per block
    reg = GradientDescentRegressor().fit(Xd, y)
    assert reg.coef_.dtype == np.float64
    assert_same_model(reg, GradientDescentRegressor().fit(Xi, y), rtol=1e-9)


def test_dask_is_imported_only_for_dask_input(tmp_path):
    code = (
        "import sys, numpy as np; from skgd import GradientDescentRegressor as G; "
        "G().fit(np.eye(3), np.ones(3)).predict(np.eye(3)); print(any(m.startswith('dask') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.strip() == "False"


# -------------------------------------------------------------- ecosystem
def test_grid_search_under_joblibs_dask_backend_equals_the_local_search(client, data):
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV

    X, y, _ = data
    grid = {"solver": ["batch", "sgd"], "alpha": [1e-4, 1e-1], "penalty": ["l2"]}
    search = GridSearchCV(GradientDescentRegressor(random_state=0), grid, cv=3)
    with parallel_backend("dask"), distributed.get_task_stream(client) as tasks:
        search.fit(X, y)
    assert {task["worker"] for task in tasks.data} <= set(client.scheduler_info()["workers"]) and tasks.data
    local = GridSearchCV(GradientDescentRegressor(random_state=0), grid, cv=3).fit(X, y)
    assert search.best_params_ == local.best_params_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # dask-ml's own deprecations
def test_dask_ml_incremental_streams_blocks_through_partial_fit(client, data):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, _ = data
    Xd, yd = _on_cluster(client, X, y)
    params = dict(solver="sgd", shuffle=False)
    inc = wrappers.Incremental(GradientDescentRegressor(**params), shuffle_blocks=False).fit(Xd, yd)
    reference = GradientDescentRegressor(**params)
    for start in range(0, X.shape[0], CHUNK):
        reference.partial_fit(X[start : start + CHUNK], y[start : start + CHUNK])
    assert_same_model(inc.estimator_, reference, rtol=1e-9)
    np.testing.assert_allclose(inc.predict(Xd).compute(), reference.predict(X), rtol=1e-12)


# --------------------------------------------------------------- examples
def _run_example(name, capsys, *args):
    run_example(name, *args)
    return capsys.readouterr().out


def test_benchmark_example_compares_with_dask_ml_in_one_run(client, capsys):
    pytest.importorskip("dask_ml")
    address = client.scheduler.address
    out = _run_example("benchmark_dask.py", capsys, "--n-samples", "20000", "--repeat", "1", "--peers", "lbfgs",
                       "--scheduler", address)  # fmt: skip
    assert "skgd batch" in out and "dask-ml lbfgs" in out
    assert "same or better accuracy: True" in out  # a claim about accuracy; times are the benchmark's to report


def test_out_of_core_example_reads_a_lazy_array_once(client, capsys):
    out = _run_example("out_of_core.py", capsys, "--rows", "400000", "--chunk-rows", "100000",
                       "--scheduler", client.scheduler.address)  # fmt: skip
    assert "rows per second" in out and "peak cluster memory" in out
    error = float(out.split("max |coef - w|:")[1].split(";")[0])
    assert error < 1e-3


def test_grid_search_example_matches_the_local_search(client, capsys):
    out = _run_example("grid_search_dask.py", capsys, "--n-samples", "600", "--scheduler", client.scheduler.address)
    assert "same as the local search: True" in out


# ------------------------------------------------- never worse than the start
@pytest.mark.parametrize(
    "params, diverges",
    [
        (dict(solver="batch"), False),
        (dict(solver="batch", loss="huber", momentum=0.9, max_iter=20), False),
        (dict(solver="batch", learning_rate=5.0, max_iter=5), True),
        (dict(solver="sgd", max_iter=5), False),
        (dict(solver="sgd", penalty="l1", alpha=0.1, average=True, max_iter=5), False),
        (dict(solver="sgd", learning_rate=10.0, max_iter=3), True),
    ],
    ids=["batch", "batch-huber-momentum", "batch-diverging", "sgd", "sgd-l1-average", "sgd-diverging"],
)
def test_a_dask_call_never_leaves_a_model_worse_than_it_found_it(client, data, params, diverges):
    # Each call (a fit, then a partial_fit continuing it) lowers J from where it
    # started (an sgd call may end up to four times its start, momentum by its
    # factor and the kinetic energy it carried in), or raises ValueError and
    # leaves the model exactly as it was.
    from test_properties import _kinetic_energy

    from skgd._loss import make_loss
    from skgd._penalty import Penalty

    X, y, _ = data
    Xd, yd = da.from_array(X, chunks=(CHUNK, 6)), da.from_array(y, chunks=CHUNK)
    reg = GradientDescentRegressor(random_state=0, **params)
    settings = reg.get_params()
    loss = make_loss(settings["loss"], epsilon=settings["epsilon"])
    penalty = Penalty.from_params(settings["penalty"], settings["alpha"], 0.15)
    allowed = (1.0 + (1e-9 if settings["solver"] == "batch" else 3.0)) / (1.0 - settings["momentum"]) ** 2

    def objective():
        coef = np.zeros(X.shape[1]) if not hasattr(reg, "coef_") else reg.coef_
        intercept = 0.0 if not hasattr(reg, "coef_") else reg.intercept_
        values, _ = loss.value_and_derivative(X @ coef + intercept, y)
        return float(np.mean(values) + penalty.value(coef[None, :])[0])

    for method in ("fit", "partial_fit"):
        fitted = hasattr(reg, "coef_")
        before, kinetic = objective(), _kinetic_energy(reg) if fitted else 0.0
        snapshot = (np.copy(reg.coef_), reg.intercept_) if fitted else None
        try:
            getattr(reg, method)(Xd, yd)
        except ValueError as error:
            assert diverges and "diverged" in str(error)
            if snapshot is not None:
                np.testing.assert_array_equal(reg.coef_, snapshot[0])
                assert reg.intercept_ == snapshot[1]
            else:
                assert not hasattr(reg, "coef_")
            return
        assert objective() <= (before + kinetic) * allowed * (1 + 1e-9) + 1e-12
    assert not diverges
