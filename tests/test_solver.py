"""The solver interface (``skgd._solver``): declared once, kept by every solver class, built by one factory.

- ``Solver`` names what the estimator and the epoch loop use of a solver, and
  ``BatchSolver`` what the batch solvers add; no more, no less.
- Each of the seven solver classes defines the protocol's methods with its
  signatures, and a solver class the package adds is not left out of the list.
- ``make_solver`` builds each of them for the data and parameters that pick
  it, and what it builds satisfies its protocol at run time.
"""

import importlib
import inspect

import pytest
from _helpers import make_problem
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning

import skgd._regressor
from skgd import GradientDescentRegressor
from skgd._array_api import ARRAY_API_SUPPORT
from skgd._solver import BatchSolver, Solver
from skgd._solver_choice import make_solver

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

#: Every solver class, and the protocol it satisfies.
SOLVERS = {
    "skgd._sgd.SGDSolver": Solver,
    "skgd._sgd_namespace.HostSGDSolver": Solver,
    "skgd._sgd_namespace.NamespaceSGDSolver": Solver,
    "skgd._dask.DaskSGDSolver": Solver,
    "skgd._batch.StreamingBatchSolver": BatchSolver,
    "skgd._batch.GramBatchSolver": BatchSolver,
    "skgd._dask.DaskStreamingBatchSolver": BatchSolver,
}

#: The modules that define solver classes.
MODULES = sorted({name.rpartition(".")[0] for name in SOLVERS})


def _module(name):
    if name == "skgd._dask":
        pytest.importorskip("dask.array")
    return importlib.import_module(name)


def _class(name):
    module, _, cls = name.rpartition(".")
    return getattr(_module(module), cls)


def _methods(protocol):
    return sorted(name for name in dir(protocol) if not name.startswith("_") and callable(getattr(protocol, name)))


def _attributes(protocol):
    return sorted(name for cls in protocol.__mro__ for name in vars(cls).get("__annotations__", {}))


def test_the_protocols_name_what_training_uses():
    assert _methods(Solver) == ["begin_smoothing", "epoch", "lipschitz", "moments", "value"]
    assert _methods(BatchSolver) == ["begin_smoothing", "epoch", "finer_smoothing", "lipschitz", "moments", "value"]
    assert _attributes(Solver) == _attributes(BatchSolver) == ["conditions"]


@pytest.mark.parametrize("name", SOLVERS, ids=lambda name: name.rpartition(".")[2])
def test_each_solver_class_defines_the_protocols_methods_with_their_signatures(name):
    cls, protocol = _class(name), SOLVERS[name]
    for method in _methods(protocol):
        assert inspect.signature(getattr(cls, method)) == inspect.signature(getattr(protocol, method)), method


@pytest.mark.parametrize("module", MODULES)
def test_no_solver_class_is_left_out(module):
    defined = {
        f"{module}.{name}"
        for name, cls in vars(_module(module)).items()
        if inspect.isclass(cls) and cls.__module__ == module and not name.startswith("_") and hasattr(cls, "epoch")
    }
    assert defined == {name for name in SOLVERS if name.startswith(f"{module}.")}


def _numpy(X, y):
    return X, y


def _array_api_strict(X, y):
    if not ARRAY_API_SUPPORT:
        pytest.skip("array API input needs scikit-learn >= 1.9")
    xp = pytest.importorskip("array_api_strict")
    return xp.asarray(X), xp.asarray(y)


def _dask(X, y):
    da = pytest.importorskip("dask.array")
    return da.from_array(X, chunks=(100, X.shape[1])), da.from_array(y, chunks=100)


#: (the class built, how the data is held, rows, the estimator's parameters).
FACTORY_CASES = [
    ("skgd._sgd.SGDSolver", _numpy, 60, dict(solver="sgd")),
    ("skgd._batch.StreamingBatchSolver", _numpy, 60, dict(solver="batch")),
    ("skgd._batch.GramBatchSolver", _numpy, 2500, dict(solver="batch")),
    ("skgd._sgd_namespace.HostSGDSolver", _array_api_strict, 60, dict(solver="sgd")),
    ("skgd._sgd_namespace.NamespaceSGDSolver", _array_api_strict, 60, dict(solver="sgd", batch_size=7)),
    ("skgd._dask.DaskSGDSolver", _dask, 300, dict(solver="sgd")),
    ("skgd._dask.DaskStreamingBatchSolver", _dask, 300, dict(solver="batch", loss="huber")),
    ("skgd._batch.GramBatchSolver", _dask, 300, dict(solver="batch")),
]


@pytest.mark.parametrize(
    "name, hold, n, params",
    FACTORY_CASES,
    ids=[f"{name.rpartition('.')[2]}-{hold.__name__.strip('_')}" for name, hold, _, _ in FACTORY_CASES],
)
def test_the_factory_builds_each_solver_and_it_satisfies_its_protocol(monkeypatch, name, hold, n, params):
    made = []

    def recording(*args, **kwargs):
        made.append(make_solver(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(skgd._regressor, "make_solver", recording)
    X, y = make_problem(n=n, d=4, seed=3)
    data = hold(X, y)
    with config_context(array_api_dispatch=hold is _array_api_strict):
        GradientDescentRegressor(max_iter=2, tol=None, random_state=0, **params).fit(*data)
    (solver,) = made
    assert type(solver) is _class(name)
    assert isinstance(solver, SOLVERS[name])
    assert isinstance(solver.conditions, bool)
