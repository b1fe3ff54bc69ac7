"""The algorithm interface (``skgd._algorithms._protocol``): declared once, kept by every algorithm, built once.

- ``Algorithm`` names what the estimator and the epoch loop use of an
  algorithm; no more, no less.
- Each of the eight algorithm classes defines the protocol's methods with its
  signatures, and an algorithm class the package adds is not left out of the list.
- ``make_algorithm`` builds each of them, on the objective its data and
  parameters pick, and what it builds satisfies the protocol at run time.
- Each algorithm's own part of the state (``skgd._state.StatePart``) names its
  arrays, so the state moves, casts and converts all of them, and has its
  field on the state.
"""

import dataclasses
import importlib
import inspect

import numpy as np
import pytest
from _helpers import make_problem
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning

import skgd._build
from skgd import GradientDescentRegressor
from skgd._algorithms import make_algorithm
from skgd._algorithms._protocol import Algorithm
from skgd._array_api import ARRAY_API_SUPPORT
from skgd._state import PARTS, StatePart, TrainingState

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

#: Every algorithm class.
ALGORITHMS = [
    "skgd._algorithms._gradient.GradientDescent",
    "skgd._algorithms._fista.FISTA",
    "skgd._algorithms._fista.SmoothedFISTA",
    "skgd._algorithms._backtracking.Backtracking",
    "skgd._algorithms._line_search.ConjugateGradient",
    "skgd._algorithms._sgd.SGDSolver",
    "skgd._sgd_namespace.HostSGDSolver",
    "skgd._sgd_namespace.NamespaceSGDSolver",
    "skgd._dask.DaskSGDSolver",
]

#: The modules that define algorithm classes.
MODULES = sorted({name.rpartition(".")[0] for name in ALGORITHMS})


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


def test_the_protocol_names_what_training_uses():
    assert _methods(Algorithm) == [
        "allocate",
        "epoch",
        "lipschitz",
        "measure",
        "moments",
        "noise",
        "safe_step",
        "stopping_rule",
        "value",
    ]
    assert _attributes(Algorithm) == ["can_condition", "centres", "monotone", "retreats"]


@pytest.mark.parametrize("name", ALGORITHMS, ids=lambda name: name.rpartition(".")[2])
def test_each_algorithm_class_defines_the_protocols_methods_with_their_signatures(name):
    cls = _class(name)
    for method in _methods(Algorithm):
        assert inspect.signature(getattr(cls, method)) == inspect.signature(getattr(Algorithm, method)), method


@pytest.mark.parametrize("module", MODULES)
def test_no_algorithm_class_is_left_out(module):
    defined = {
        f"{module}.{name}"
        for name, cls in vars(_module(module)).items()
        if inspect.isclass(cls) and cls.__module__ == module and not name.startswith("_") and hasattr(cls, "epoch")
    }
    assert defined == {name for name in ALGORITHMS if name.startswith(f"{module}.")}


def _numpy(X, y):
    return X, y


def _float32(X, y):
    return X.astype(np.float32), y


def _array_api_strict(X, y):
    if not ARRAY_API_SUPPORT:
        pytest.skip("array API input needs scikit-learn >= 1.9")
    xp = pytest.importorskip("array_api_strict")
    return xp.asarray(X), xp.asarray(y)


def _dask(X, y):
    da = pytest.importorskip("dask.array")
    return da.from_array(X, chunks=(100, X.shape[1])), da.from_array(y, chunks=100)


_STREAMING = "skgd._objective._streaming.StreamingObjective"
_GRAM = "skgd._objective._gram.GramObjective"
_DASK = "skgd._dask.DaskStreamingObjective"

#: (the algorithm built, the objective it asks, how the data is held, rows, the estimator's parameters).
FACTORY_CASES = [
    ("skgd._algorithms._sgd.SGDSolver", _STREAMING, _numpy, 60, dict(solver="sgd")),
    ("skgd._algorithms._fista.FISTA", _STREAMING, _numpy, 60, dict(solver="batch")),
    ("skgd._algorithms._fista.FISTA", _GRAM, _numpy, 2500, dict(solver="batch")),
    ("skgd._algorithms._fista.SmoothedFISTA", _STREAMING, _numpy, 60, dict(loss="quantile")),
    ("skgd._algorithms._line_search.ConjugateGradient", _STREAMING, _numpy, 60, dict(loss="poisson")),
    ("skgd._algorithms._line_search.ConjugateGradient", _STREAMING, _array_api_strict, 60, dict(loss="poisson")),
    ("skgd._algorithms._backtracking.Backtracking", _STREAMING, _numpy, 60, dict(loss="poisson", penalty="l1")),
    ("skgd._algorithms._backtracking.Backtracking", _DASK, _dask, 300, dict(loss="poisson")),
    ("skgd._algorithms._backtracking.Backtracking", _STREAMING, _float32, 60, dict(loss="poisson")),
    ("skgd._algorithms._gradient.GradientDescent", _GRAM, _numpy, 2500, dict(learning_rate=0.01)),
    ("skgd._algorithms._gradient.GradientDescent", _STREAMING, _numpy, 60, dict(loss="huber", momentum=0.5)),
    ("skgd._sgd_namespace.HostSGDSolver", _STREAMING, _array_api_strict, 60, dict(solver="sgd")),
    ("skgd._sgd_namespace.NamespaceSGDSolver", _STREAMING, _array_api_strict, 60, dict(solver="sgd", batch_size=7)),
    ("skgd._dask.DaskSGDSolver", _DASK, _dask, 300, dict(solver="sgd")),
    ("skgd._algorithms._fista.FISTA", _DASK, _dask, 300, dict(solver="batch", loss="huber")),
    ("skgd._algorithms._fista.FISTA", _GRAM, _dask, 300, dict(solver="batch")),
]


@pytest.mark.parametrize(
    "name, objective, hold, n, params",
    FACTORY_CASES,
    ids=[
        f"{name.rpartition('.')[2]}-{objective.rpartition('.')[2]}-{hold.__name__.strip('_')}-{i}"
        for i, (name, objective, hold, _, _) in enumerate(FACTORY_CASES)
    ],
)
def test_the_factory_builds_each_algorithm_and_it_satisfies_the_protocol(monkeypatch, name, objective, hold, n, params):
    made = []

    def recording(*args, **kwargs):
        made.append(make_algorithm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(skgd._build, "make_algorithm", recording)
    X, y = make_problem(n=n, d=4, seed=3)
    data = hold(X, abs(y) if params.get("loss") == "poisson" else y)
    with config_context(array_api_dispatch=hold is _array_api_strict):
        GradientDescentRegressor(max_iter=2, tol=None, random_state=0, **params).fit(*data)
    (algorithm,) = made
    assert type(algorithm) is _class(name)
    assert type(algorithm.objective) is _class(objective)
    assert isinstance(algorithm, Algorithm)
    assert isinstance(algorithm.can_condition, bool)


#: Fits that leave every part of the state with all its arrays allocated.
PART_FITS = [
    dict(solver="sgd", momentum=0.5, average=True, penalty="l1"),
    dict(solver="batch", momentum=0.5, loss="poisson"),
    dict(solver="batch"),
    dict(solver="batch", loss="gamma"),
]


def test_each_state_part_names_its_arrays_and_has_its_field_on_the_state():
    X, y = make_problem(n=60, d=4, seed=3)
    found = {}
    for params in PART_FITS:
        target = abs(y) + 0.5 if params.get("loss") in ("poisson", "gamma") else y
        state = GradientDescentRegressor(max_iter=3, tol=None, random_state=0, **params).fit(X, target)._state
        found.update({name: getattr(state, name) for name in PARTS if getattr(state, name) is not None})
    assert sorted(found) == sorted(PARTS)
    assert {f.name for f in dataclasses.fields(TrainingState) if f.type is StatePart} == set(PARTS)
    for name, part in found.items():
        assert isinstance(part, StatePart)
        arrays = {f.name for f in dataclasses.fields(part) if isinstance(getattr(part, f.name), np.ndarray)}
        assert arrays == set(part.ARRAYS), name
        assert set(part.ITERATE) <= arrays and {a for pair in part.PAIRS for a in pair} <= arrays, name
