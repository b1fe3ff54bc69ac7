"""What the estimator and the epoch loop ask of an algorithm: the declared interface.

An algorithm trains one problem, the data and settings of one training call
(``skgd._problem``), asking its objective (``skgd._objective``): the factory
builds it (``skgd._algorithms.make_algorithm``), the estimator asks it for
what ``learning_rate="auto"`` derives from the data, and the epoch loop
(``skgd._training.run_epochs``) runs its epochs, measures J with it and asks
its stopping rule after each. ``Algorithm`` names exactly what those use.

The classes that satisfy it do not inherit from it (duck typing, checked by
``tests/test_solver.py``): ``GradientDescent``, ``FISTA``,
``SmoothedFISTA``, ``Backtracking`` and ``SGDSolver`` of
``skgd._algorithms``, ``skgd._sgd_namespace.HostSGDSolver`` and
``NamespaceSGDSolver``, and ``skgd._dask.DaskSGDSolver``.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class Algorithm(Protocol):
    """One training call's algorithm, as the estimator and the epoch loop use it.

    Attributes
    ----------
    can_condition : bool
        Whether the algorithm can take its steps in conditioned coordinates
        (``skgd._conditioning``): ``learning_rate="auto"`` conditions a
        problem only when it can, and a model trained in conditioned
        coordinates continues only on an algorithm that can.
    centres : bool
        Whether those coordinates centre the columns (the sgd loop keeps
        sparse rows uncentred).
    monotone : bool
        Whether every epoch must decrease the loss (plain full-batch steps on
        a smooth loss): any rise beyond rounding is divergence.
    retreats : bool
        Whether an epoch that leaves J above the call's start (beyond
        rounding) is undone and taken again at a smaller step
        (``skgd._training.RETREAT_FACTOR``, up to ``MAX_RETREATS`` times, in
        a whole fit with a ``tol``): sgd's automatic step under the adaptive
        schedule for a loss without a global curvature bound (the log
        link's), searched as the batch step is.

    See Also
    --------
    skgd._algorithms.make_algorithm : Builds the algorithm for a problem.
    """

    can_condition: bool
    centres: bool
    monotone: bool
    retreats: bool

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

    def lipschitz(self, conditioning):
        """The Lipschitz constant the automatic step is derived from.

        That of the full gradient for a batch algorithm, the largest
        per-sample one for sgd (``skgd._schedules.automatic_step``).

        Parameters
        ----------
        conditioning : Conditioning or None
            The coordinates the steps are taken in; None for the user's.

        Returns
        -------
        float
            A bound on the curvature the steps meet, in those coordinates.
        """

    def safe_step(self, state):
        """The largest safe step measured from the data, in the state's coordinates.

        Parameters
        ----------
        state : TrainingState

        Returns
        -------
        float
        """

    def allocate(self, state):
        """Give the state the parts (``skgd._state.StatePart``) the steps use, unless it has them.

        Parameters
        ----------
        state : TrainingState
        """

    def noise(self, rounding):
        """Relative rise of the objective over a whole call that is still noise, not divergence.

        Parameters
        ----------
        rounding : float
            The relative change of J that is rounding in X's dtype.

        Returns
        -------
        float
        """

    def measure(self, coef, intercept):
        """The evidence of convergence at ``(coef, intercept)`` (``skgd._certificate``).

        Parameters
        ----------
        coef : array of shape (n_targets, n_features)
        intercept : array of shape (n_targets,)

        Returns
        -------
        Evidence or None
            None where none can be measured.
        """

    def stopping_rule(self, controls):
        """A fresh stopping rule for one call (``skgd._algorithms._stopping``).

        Parameters
        ----------
        controls : Controls

        Returns
        -------
        WindowRule, ContinuationRule or ImprovementRule
        """
