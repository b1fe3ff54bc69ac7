"""The algorithms that train a problem, and the one place the choice is made (``make_algorithm``).

Each algorithm owns its step, its part of the state (a
``skgd._state.StatePart``), its stopping rule (``skgd._algorithms._stopping``)
and its evidence, and asks its objective (``skgd._objective``) for J, its
gradient, the column moments and the curvature:

- ``GradientDescent`` (``_gradient``): plain (proximal) steps, with momentum
  when asked: a float ``learning_rate``, momentum, or a decaying schedule;
- ``FISTA`` and ``SmoothedFISTA`` (``_fista``): accelerated steps with
  ``learning_rate="auto"`` on a smooth loss, or on a non-smooth loss's
  smoothings, shrunk with the step (the continuation);
- ``ConjugateGradient`` (``_line_search``): the log link's losses with
  ``learning_rate="auto"``: conjugate directions, each searched along the
  rows' predictors held in memory (power at most 2, float64 X, no L1 part,
  no momentum, the adaptive schedule);
- ``Backtracking`` (``_backtracking``): steps searched for by halving, for the
  log link's other automatic fits (above power 2, an L1 part, momentum,
  float32 X, dask arrays);
- ``SGDSolver`` (``_sgd``): sgd passes through the compiled loop (NumPy and
  sparse data); ``skgd._sgd_namespace``'s for other array namespaces and
  ``skgd._dask.DaskSGDSolver`` for dask arrays.

``skgd._algorithms._protocol.Algorithm`` names what the estimator and the
epoch loop use of each.
"""

from dataclasses import replace

from .._array_api import _is_numpy_namespace, get_namespace_and_device, is_dask_array
from .._objective import StreamingObjective, choose_objective
from .._sgd_namespace import HostSGDSolver, NamespaceSGDSolver
from ._backtracking import Backtracking
from ._fista import FISTA, SmoothedFISTA, first_smoothing_width
from ._gradient import GradientDescent, has_smoothing
from ._line_search import ConjugateGradient
from ._sgd import SGDSolver, sized_by_smoothing


def make_algorithm(data, settings, state, *, solver, automatic, max_iter, one_epoch):
    """Build the algorithm, and the objective it asks, that train the problem at hand.

    The choice every ``fit`` and ``partial_fit`` call makes: the objective's
    form from the data (dask, the Gram statistics, or reads of X) and the
    algorithm from the ``solver`` family, the loss and the step. A
    non-smooth loss with a smoothing under ``learning_rate="auto"`` measures
    its first smoothing width here (one pass over X, kept on ``state``):
    batch steps descend the smoothing, sgd sizes its step by it.

    Parameters
    ----------
    data : TrainingData
        The validated data of the call (a dask array's included).
    settings : Settings
        The call's decided settings.
    state : TrainingState
        Where training starts (its ``smoothing_width`` may be set).
    solver : {"batch", "sgd"}
        The estimator's ``solver``.
    automatic : bool
        Whether ``learning_rate="auto"``.
    max_iter : int
        The estimator's ``max_iter`` (whether the Gram statistics' one pass pays).
    one_epoch : bool
        True for ``partial_fit``.

    Returns
    -------
    Algorithm

    See Also
    --------
    skgd._algorithms._protocol.Algorithm : What the algorithm offers the estimator and the epoch loop.
    """
    loss, schedule = settings.loss, settings.schedule
    smoothable = automatic and has_smoothing(loss)
    if is_dask_array(data.X):
        from .._dask import make_dask_objective  # dask is optional: imported for dask data only

        objective = make_dask_objective(data, settings, solver)
    elif solver == "batch":
        objective = choose_objective(loss, data.X, max_iter, one_epoch)(data, settings)
    else:
        objective = StreamingObjective(data, settings)
    if solver == "sgd":
        return _sgd_algorithm(data, settings, state, objective, automatic, smoothable)
    steady = automatic and settings.momentum == 0  # FISTA's own momentum takes the place of any other
    if automatic and not loss.global_curvature:  # no global curvature bound: the steps search for their size
        # Where the deviance is convex in the log link (power <= 2): above, J flattens towards a plateau
        # as mu grows, where a line's first point may land and look optimal.
        convex = getattr(loss, "power", 1.0) <= 2.0
        if steady and convex and schedule.adaptive and not settings.penalty.l1 and _searchable(data.X):
            return ConjugateGradient(objective, settings)  # along the rows' predictors, held in memory
        return Backtracking(objective, settings)
    if steady and smoothable and schedule.adaptive:
        return SmoothedFISTA(objective, settings, first_smoothing_width(objective, state))
    if steady and loss.smooth and not schedule.decays:
        return FISTA(objective, settings)
    return GradientDescent(objective, settings, automatic=automatic)


def _searchable(X):
    """Whether J along a line may be searched on X's predictors: held in memory, and in float64.

    Predictors formed in float32 round (on columns far from zero) by more than
    J's rounding allows between the line's J and the next pass's, which then
    sees a rise; such data, and dask arrays, backtrack on passes of their own.
    """
    if is_dask_array(X):
        return False
    xp = get_namespace_and_device(X)[0]
    return float(xp.finfo(X.dtype).eps) < 1e-10


def _sgd_algorithm(data, settings, state, objective, automatic, smoothable):
    """The sgd algorithm for the data's kind: the compiled loop, on a host copy, in the namespace, or on dask."""
    if smoothable:
        settings = replace(settings, loss=sized_by_smoothing(settings.loss, first_smoothing_width(objective, state)))
    if is_dask_array(data.X):
        from .._dask import DaskSGDSolver

        algorithm = DaskSGDSolver
    elif _is_numpy_namespace(get_namespace_and_device(data.X)[0]):
        algorithm = SGDSolver
    else:
        algorithm = HostSGDSolver if settings.batch_size == 1 else NamespaceSGDSolver
    return algorithm(data, settings, objective, automatic=automatic)


__all__ = ["make_algorithm"]
