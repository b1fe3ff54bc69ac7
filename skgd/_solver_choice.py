"""Which solver trains a problem: the one place the choice is made.

The ``solver`` parameter names the family (full-batch steps or sgd passes);
the data's kind and the problem pick the member that trains it:

- dask data: ``skgd._dask.make_dask_solver`` surveys it (one pass) and picks
  from what it found; dask is imported only here, for dask data;
- sgd on NumPy or sparse data: the compiled loop (``SGDSolver``); on data of
  another array namespace, the compiled loop on a host copy for per-sample
  steps (``HostSGDSolver``) and steps in the namespace for mini-batches
  (``NamespaceSGDSolver``);
- batch: the sufficient statistics or a read of X per epoch
  (``skgd._batch.choose_batch_solver`` gives the rule).
"""

from ._array_api import _is_numpy_namespace, get_namespace_and_device, is_dask_array
from ._batch import choose_batch_solver
from ._sgd import SGDSolver
from ._sgd_namespace import HostSGDSolver, NamespaceSGDSolver


def make_solver(data, settings, solver, *, max_iter, one_epoch):
    """Build the solver that trains the problem at hand.

    The three-way choice (dask, sgd, batch) the estimator's training makes
    for every ``fit`` and ``partial_fit`` call.

    Parameters
    ----------
    data : TrainingData
        The validated data of the call (a dask array's included).
    settings : Settings
        The call's decided settings.
    solver : {"batch", "sgd"}
        The estimator's ``solver``.
    max_iter : int
        The estimator's ``max_iter`` (whether the Gram solver's one pass pays).
    one_epoch : bool
        True for ``partial_fit``.

    Returns
    -------
    Solver
        A ``BatchSolver`` for ``solver="batch"``.

    See Also
    --------
    skgd._solver.Solver : What the solver offers the estimator and the epoch loop.
    """
    if is_dask_array(data.X):
        from ._dask import make_dask_solver  # dask is optional: imported for dask data only

        return make_dask_solver(data, settings, solver)
    if solver == "batch":
        return choose_batch_solver(settings.loss, data.X, max_iter, one_epoch)(data, settings)
    xp, _, _ = get_namespace_and_device(data.X)
    if _is_numpy_namespace(xp):
        return SGDSolver(data, settings)
    if settings.batch_size == 1:
        return HostSGDSolver(data, settings)
    return NamespaceSGDSolver(data, settings)
