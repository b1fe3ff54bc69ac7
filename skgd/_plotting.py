"""LossCurveDisplay: the loss per epoch of fitted models, drawn scikit-learn's way.

matplotlib is an optional dependency (``pip install "skgd[plot]"``); it is
imported only when something is drawn.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted


class LossCurveDisplay:
    """Loss per epoch, with the validation score per epoch when early stopping ran.

    Draws ``loss_curve_`` against the epoch and, when the model held data out
    for early stopping, ``validation_scores_`` on a second y axis in the same
    colour, dashed. Several displays drawn on one ``ax`` overlay: they share the
    epoch axis, the loss axis and the validation axis, and one legend.

    Build it with :meth:`from_estimator`; all parameters are stored as
    attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The loss of each epoch, as in ``loss_curve_``.
    validation_scores : array-like of shape (n_epochs,) or None, default=None
        The held-out score of each epoch, as in ``validation_scores_``.
    name : str or None, default=None
        Label of the curve in the legend; no legend entry when None.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The loss curve.
    validation_line_ : matplotlib.lines.Line2D or None
        The validation scores, or None without them.
    ax_ : matplotlib.axes.Axes
        The axes of the loss (epoch on x, loss on y).
    validation_ax_ : matplotlib.axes.Axes or None
        The second y axis holding the validation scores, or None without them.
    figure_ : matplotlib.figure.Figure
        The figure holding ``ax_``.

    See Also
    --------
    LossCurveDisplay.from_estimator : Draw the loss curve of a fitted estimator.
    sklearn.model_selection.LearningCurveDisplay : Scores against training-set size.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GradientDescentRegressor, LossCurveDisplay
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> y = np.array([2.0, 4.0, 6.0])
    >>> reg = GradientDescentRegressor(learning_rate=0.01, max_iter=100, tol=None,
    ...                                fit_intercept=False).fit(X, y, coef_init=[1.0])
    >>> display = LossCurveDisplay.from_estimator(reg, log_scale=True)
    >>> display.line_.get_ydata()[:2]
    array([4.66666667, 3.83620741])
    """

    def __init__(self, *, loss_curve, validation_scores=None, name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.name = name

    def plot(self, ax=None, *, name=None, log_scale=False, **kwargs):
        """Draw the loss curve, and the validation scores if there are any.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure and axes when None. Drawing several
            displays on the same axes overlays them.
        name : str or None, default=None
            Legend label of the curve; ``self.name`` when None.
        log_scale : bool, default=False
            Draw the loss on a logarithmic scale, which keeps both the first
            epochs and the last ones readable.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the loss curve (``color``,
            ``linestyle``, ...). The validation curve takes the same colour.

        Returns
        -------
        display : LossCurveDisplay
            The display, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        check_matplotlib_support(f"{self.__class__.__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        name = self.name if name is None else name
        loss = np.asarray(self.loss_curve, dtype=np.float64)
        if name is not None:
            kwargs.setdefault("label", name)
        (self.line_,) = ax.plot(np.arange(loss.size), loss, **kwargs)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (loss_curve_)")
        if log_scale:
            ax.set_yscale("log")

        self.validation_ax_ = self.validation_line_ = None
        twin = _validation_axes(ax)
        if self.validation_scores is not None and len(self.validation_scores):
            scores = np.asarray(self.validation_scores, dtype=np.float64)
            twin = self.validation_ax_ = ax.twinx() if twin is None else twin
            (self.validation_line_,) = twin.plot(
                np.arange(scores.size),
                scores,
                color=self.line_.get_color(),
                linestyle="--",
                label="validation score" if name is None else f"{name} (validation score)",
            )
            twin.set_ylabel("validation score (validation_scores_), dashed")

        # One legend for both axes, on the second one when there is one: it is
        # drawn over the first and would hide a legend placed there.
        lines = [line for a in (ax, twin) if a is not None for line in a.get_lines()]
        labelled = [line for line in lines if not line.get_label().startswith("_")]
        if ax.get_legend() is not None and twin is not None:
            ax.get_legend().remove()
        if labelled:
            (ax if twin is None else twin).legend(labelled, [line.get_label() for line in labelled])
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, log_scale=False, **kwargs):
        """Draw the loss curve of a fitted estimator.

        Works with any fitted estimator that has ``loss_curve_`` (skgd's
        :class:`GradientDescentRegressor`, scikit-learn's ``MLPRegressor``),
        and with a :class:`~sklearn.pipeline.Pipeline` ending in one.

        Parameters
        ----------
        estimator : estimator instance or Pipeline
            A fitted estimator with ``loss_curve_`` (and ``validation_scores_``
            when it used early stopping), or a pipeline whose last step is one.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure and axes when None. Pass the same
            axes again to overlay several estimators.
        name : str or None, default=None
            Legend label; the class name of the estimator when None.
        log_scale : bool, default=False
            Draw the loss on a logarithmic scale.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the loss curve.

        Returns
        -------
        display : LossCurveDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If the fitted estimator records no ``loss_curve_``.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        model = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        if not hasattr(model, "loss_curve_"):
            raise TypeError(f"{model.__class__.__name__} records no loss_curve_; there is no loss curve to draw.")
        display = cls(
            loss_curve=model.loss_curve_,
            validation_scores=getattr(model, "validation_scores_", None),
            name=model.__class__.__name__ if name is None else name,
        )
        return display.plot(ax=ax, log_scale=log_scale, **kwargs)


def _validation_axes(ax):
    """The second y axis an earlier display made on ``ax``, or None."""
    for other in ax.figure.axes:
        if (
            other is not ax
            and other.get_shared_x_axes().joined(ax, other)
            and other.get_position().bounds == ax.get_position().bounds
        ):
            return other
    return None
