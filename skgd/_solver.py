"""What the estimator and the epoch loop ask of a solver: the declared interface.

A solver trains one problem, the data and settings of one training call
(``skgd._problem``): the estimator builds it (``skgd._solver_choice.make_solver``),
asks it for what ``learning_rate="auto"`` derives from the data, and hands it
to the epoch loop (``skgd._training.run_epochs``), which runs its epochs and
measures J with it. ``Solver`` names exactly what those two use; the batch
solvers add the continuation of a non-smooth loss through its smoothings
(``BatchSolver``).

The classes that satisfy them do not inherit from them (duck typing, checked
by ``tests/test_solver.py``): ``skgd._sgd.SGDSolver``,
``skgd._sgd_namespace.HostSGDSolver`` and ``NamespaceSGDSolver``,
``skgd._dask.DaskSGDSolver``, and the batch solvers
``skgd._batch.StreamingBatchSolver`` and ``GramBatchSolver`` and
``skgd._dask.DaskStreamingBatchSolver``. What a batch solver's steps read
from it besides (``objective``, ``rounding``) is ``skgd._batch``'s own.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class Solver(Protocol):
    """One training call's problem, as the estimator and the epoch loop use it.

    The estimator reads ``conditions``, ``moments`` and ``lipschitz`` before
    training (``learning_rate="auto"``); the epoch loop runs ``epoch`` and
    measures ``value`` at the call's start and end.

    Attributes
    ----------
    conditions : bool
        Whether the solver can take its steps in conditioned coordinates
        (``skgd._conditioning``): ``learning_rate="auto"`` conditions a
        problem only when it can, and a model trained in conditioned
        coordinates continues only on a solver that can.

    See Also
    --------
    BatchSolver : What the batch solvers add.
    skgd._solver_choice.make_solver : Builds the solver for a problem.
    """

    conditions: bool

    def epoch(self, state, eta):
        """Run one epoch on ``state``, in place; return the epoch's loss.

        Parameters
        ----------
        state : TrainingState
            Updated in place.
        eta : float
            Base step size (the schedule's step before its decay).

        Returns
        -------
        float
            The epoch's loss: J at the iterate a full-batch step was taken
            from, or for an sgd pass the weighted mean of each sample's loss
            just before its update, averaged over targets, plus the penalty
            at the end of the pass.
        """

    def value(self, coef, intercept):
        """J at ``(coef, intercept)`` on the training rows, averaged over targets.

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
            In the user's coordinates (not conditioned), in the state's
            namespace and on its device.
        intercept : array of shape (n_targets,)
            Likewise.

        Returns
        -------
        float
            The objective the epoch loop judges progress and divergence by.
        """

    def moments(self):
        """The training rows' weighted column moments, which a conditioning is made from.

        Returns
        -------
        ColumnMoments
            The weighted means and centred sums of squares of X's columns.
        """

    def begin_smoothing(self, state):
        """Measure a non-smooth loss's smoothing where training starts (one pass), and step by it.

        A batch solver then steps on the loss smoothed to that width
        (``BatchSolver``); an sgd solver sizes its automatic step by the
        smoothing's curvature. The estimator calls it for a loss with a
        smoothing (``Loss.smoothed``) under ``learning_rate="auto"``.

        Parameters
        ----------
        state : TrainingState
            Its ``smoothing_width`` is measured and set when None.
        """

    def lipschitz(self, conditioning):
        """The Lipschitz constant the automatic step is derived from.

        That of the full gradient for a batch solver, the largest per-sample
        one for sgd (``skgd._schedules.automatic_step``).

        Parameters
        ----------
        conditioning : Conditioning or None
            The coordinates the steps are taken in; None for the user's.

        Returns
        -------
        float
            A bound on the curvature the steps meet, in those coordinates.
        """


@runtime_checkable
class BatchSolver(Solver, Protocol):
    """A full-batch solver: a ``Solver`` that also continues a non-smooth loss through its smoothings.

    With ``Settings.smoothing`` the estimator calls ``begin_smoothing`` before
    training (the first smoothing), and the epoch loop's ``"continuation"``
    rule calls ``finer_smoothing`` at the end of each stage.

    See Also
    --------
    Solver : What every solver offers.
    """

    def finer_smoothing(self, state):
        """The factor of the continuation's next stage.

        Parameters
        ----------
        state : TrainingState
            At the end of a stage.

        Returns
        -------
        float
            The new ``eta_factor`` (the step and the smoothing shrink together).
        """
