"""scikit-learn's callbacks during training: a call is a task, each epoch a sub-task.

``sklearn.callback`` (experimental, scikit-learn >= 1.9) lets a user watch and
steer a fit: ``ProgressBar`` draws its progress, ``ScoringMonitor`` logs a
score per task, and a callback whose ``on_fit_task_end`` returns True asks the
iterations to stop. Every ``fit`` or ``partial_fit`` call is the root task and
every epoch, of either solver, one of its sub-tasks. The model handed to the
callbacks at the end of an epoch is the model the estimator would hold had
training stopped there (the best one so far under early stopping), so the last
epoch's score is the fitted model's score.

On scikit-learn versions without ``sklearn.callback`` the estimator has no
``set_callbacks`` and training calls nothing.
"""

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Stand-in for scikit-learn without ``sklearn.callback``: no callbacks to set."""

    def with_callbacks(method):
        """Stand-in for scikit-learn without ``sklearn.callback``: nothing to tear down.

        Parameters
        ----------
        method : callable

        Returns
        -------
        callable
            ``method`` itself.
        """
        return method


class TrainingTasks:
    """The callbacks of one training call, told when it and each epoch begin and end.

    Parameters
    ----------
    estimator : GradientDescentRegressor
        The estimator being trained.
    max_epochs : int
        Epochs the call may run: the root task's sub-tasks at most.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The call's training data, as the hooks receive it.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        The call's targets.
    sample_weight : ndarray of shape (n_samples,)
        The call's sample weights, passed to the hooks as metadata.
    fitted_model : callable
        ``fitted_model(state) -> (coef_, intercept_)``: the model the
        estimator would hold if training stopped at ``state``.
    """

    def __init__(self, estimator, *, max_epochs, X, y, sample_weight, fitted_model):
        self.estimator = estimator
        self.data = {"X": X, "y": y, "metadata": {"sample_weight": sample_weight}}
        self.fitted_model = fitted_model
        self.context = None
        self.epoch = None
        if hasattr(estimator, "_init_callback_context"):
            self.context = estimator._init_callback_context(max_subtasks=max_epochs)
            self.context.call_on_fit_task_begin(estimator=estimator, **self.data)
        # As scikit-learn's own estimators do, epochs become tasks only when
        # there is a callback to tell: an epoch can take microseconds.
        self.per_epoch = self.context is not None and hasattr(estimator, "_skl_callbacks")

    def begin_epoch(self):
        """Open the next epoch's task."""
        if self.per_epoch:
            self.epoch = self.context.subcontext(task_name="epoch")
            self.epoch.call_on_fit_task_begin(estimator=self.estimator, **self.data)

    def end_epoch(self, state):
        """Close the epoch's task; True when a callback asks training to stop.

        Parameters
        ----------
        state : TrainingState
            The state after the epoch.

        Returns
        -------
        bool
        """
        if not self.per_epoch:
            return False
        return self.epoch.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=lambda: dict(zip(("coef_", "intercept_"), self.fitted_model(state), strict=True)),
            **self.data,
        )

    def end(self):
        """Close the call's task, once the estimator holds its fitted attributes."""
        if self.context is not None:
            self.context.call_on_fit_task_end(estimator=self.estimator, reconstruction_attributes={}, **self.data)
