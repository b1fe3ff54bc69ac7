"""The loss interface: ``Loss`` and the residual losses' base ``ResidualLoss``."""

import abc
from dataclasses import fields

import numpy as np

from .._array_api import get_namespace
from .._sgd_fast import LOSS_CODES

#: Relative width of the central difference that measures a loss's curvature in ``p`` (``slope_and_curvature``).
CURVATURE_STEP = 1e-6


class Loss(abc.ABC):
    """A loss ``l(p, y)`` of the linear predictor ``p = x . w + b`` and the target ``y``.

    A loss is one object: its value and derivative in ``p``, a curvature
    bound, its own parameters bound in, and the inverse link ``predict``
    applies. Subclasses set the class attributes below and implement
    ``value_and_derivative``; ``from_params`` builds one from the
    estimator's parameters.

    Attributes
    ----------
    name : str
        The ``loss`` parameter value (the key in ``LOSSES``).
    code : int
        The loss's code in the compiled loop: its name's entry in
        ``_sgd_fast.LOSS_CODES`` (its compiled twin).
    curvature : float
        Upper bound on ``d^2 l / dp^2`` used for the automatic step (the
        subgradient losses use that of their squared counterpart).
    global_curvature : bool
        Whether ``curvature`` bounds ``d^2 l / dp^2`` everywhere; False for
        the log link's losses, whose curvature grows with ``exp(p)`` (theirs
        is measured at the targets' mean: the algorithms then search for the
        batch step and cap sgd's, ``skgd._algorithms``).
    smooth : bool
        Whether ``dl/dp`` is continuous, so full-batch steps of ``1 / L``
        decrease J and may be accelerated.
    quadratic : bool
        Whether J's data term is a quadratic in ``(w, b)`` that the weighted
        sufficient statistics determine (``skgd._objective.GramObjective``).
    squares : bool
        Whether each row's loss is a square (of its residual, or of its
        excess over ``epsilon``): J's rounding at an exact fit is then the
        residuals' last places squared (``skgd._algorithms._stopping``).
    targets : {None, "non-negative", "positive"}
        The targets the loss accepts (None: any finite value).
    relative_steps : sequence of float or None
        Each target's automatic step over the shared one, when the targets'
        curvatures differ (a loss whose curvature is measured from the
        targets, under ``learning_rate="auto"``); None: one step for all.
    score : {"r2", "d2"}
        What ``score`` and early stopping's validation measure: R^2 of the
        predictions, or D^2, the share of the loss the model explains
        against the best constant model (``null_predictor``): the log
        link's deviances against the weighted mean, as scikit-learn's GLMs'
        ``score``, and the pinball loss against the weighted quantile, as
        ``d2_pinball_score``.
    """

    name = None
    curvature = None
    smooth = None
    quadratic = False
    squares = False
    global_curvature = True
    targets = None
    score = "r2"
    relative_steps = None

    @classmethod
    def from_params(cls, params):
        """The loss with its parameters read from the estimator's.

        A loss's parameters are its dataclass fields (``epsilon``,
        ``quantile``, ...); each takes the estimator's value of that name, or
        its default when ``params`` lacks it.

        Parameters
        ----------
        params : dict
            The estimator's parameters (``get_params()``).

        Returns
        -------
        Loss
        """
        return cls(**{field.name: float(params[field.name]) for field in fields(cls) if field.name in params})

    @property
    def code(self):
        """The compiled twin's code: ``_sgd_fast.LOSS_CODES[name]``."""
        if self.name not in LOSS_CODES:
            module = next(c.__module__ for c in type(self).__mro__ if c.__module__.startswith("skgd._loss."))
            twin = f"skgd/_loss/{module.rsplit('.', 1)[-1]}.pxd"
            raise NotImplementedError(
                f"Loss {self.name!r} has no compiled twin: add 'cdef inline double {self.name}_loss(double p, "
                f"double y, double param) noexcept nogil' and its {self.name}_dloss to {twin}, next to its class, "
                "and rebuild (pip install ., or python setup.py build_ext --inplace in a clone)."
            )
        return LOSS_CODES[self.name]

    @property
    def parameter(self):
        """The one float the compiled loop receives with ``code`` (0 when none)."""
        return 0.0

    def for_targets(self, means):
        """The loss with what it measures from the targets bound in (itself: nothing).

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.

        Returns
        -------
        Loss
        """
        return self

    def initial_intercept(self, means):
        """Where a fit's intercept starts when none is given: None for 0.

        Parameters
        ----------
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.

        Returns
        -------
        ndarray of shape (n_targets,) or None
        """
        return None

    def check_targets(self, minimum, means, starting=True):
        """Raise ``ValueError`` when the targets are outside the loss's range.

        Parameters
        ----------
        minimum : float
            The smallest target.
        means : ndarray of shape (n_targets,)
            Weighted mean of each target.
        starting : bool, default=True
            Whether training starts from these targets (``fit``, a first
            ``partial_fit``): only then must each target's mean be positive
            (a later chunk of zero counts is a valid update).

        Raises
        ------
        ValueError
            If a target is negative (``targets="non-negative"``), non-positive
            (``"positive"``), or, when starting, a target's weighted mean is
            not positive.
        """
        if self.targets is None:
            return
        if minimum < 0.0 or (self.targets == "positive" and minimum <= 0.0):
            strict = ">" if self.targets == "positive" else ">="
            raise ValueError(
                f"loss={self.name!r} needs y {strict} 0 ({self.targets} targets); the smallest y is {minimum!r}."
            )
        if starting and not bool(np.all(np.asarray(means) > 0.0)):
            raise ValueError(
                f"loss={self.name!r} needs some y > 0 (with positive weight) in every target: its log link "
                "predicts exp(X w + b) > 0, and an all-zero target has no finite optimum."
            )

    def target_part(self, y, xp=None):
        """The loss's terms in ``y`` alone, for a caller that evaluates it at many predictors (None: it has none).

        ``value_and_derivative(p, y, part=target_part(y))`` is bitwise
        ``value_and_derivative(p, y)``; the objective forms the part once a
        fit, not once a read of X.

        Parameters
        ----------
        y : array
            Targets, of any array API namespace.
        xp : namespace, default=None
            The namespace of ``y`` (found from ``y`` when None).

        Returns
        -------
        array like ``y``, or None
        """
        return None

    @abc.abstractmethod
    def value_and_derivative(self, p, y, xp=None, part=None):
        """Elementwise loss and its derivative in ``p``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets, broadcastable against ``p``, in its namespace.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).
        part : array, default=None
            ``target_part(y)``, formed before; None forms it here where the loss has one.

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """

    def slope_and_curvature(self, p, y, xp=None, part=None):
        """Elementwise ``dl/dp`` and ``d^2 l / dp^2``: the curvature a second-order certificate weighs rows by.

        Squared error's constant where the loss is ``quadratic``, else a
        central difference of the derivative (``CURVATURE_STEP`` relative);
        a loss with a closed form gives it instead.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets, broadcastable against ``p``, in its namespace.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).
        part : array, default=None
            ``target_part(y)``, formed before; None forms it here where the loss has one.

        Returns
        -------
        slope, curvature : arrays
            In the namespace, device and dtype of ``p``; the curvature may be
            negative where the loss is not convex in ``p``.
        """
        xp, _ = get_namespace(p, xp=xp)
        slope = self.value_and_derivative(p, y, xp=xp, part=part)[1]
        if self.quadratic:
            return slope, xp.full_like(p, self.curvature)
        h = CURVATURE_STEP * (1.0 + xp.abs(p))
        upper = self.value_and_derivative(p + h, y, xp=xp, part=part)[1]
        lower = self.value_and_derivative(p - h, y, xp=xp, part=part)[1]
        return slope, (upper - lower) / (2.0 * h)

    def smoothed(self, width):
        """A smooth loss whose slope full-batch steps may descend in this loss's stead (None: no such loss).

        A non-smooth loss with a smoothing (``Quantile``) returns a loss
        whose value is this one's and whose derivative is that of a
        smoothing of ``width`` (in the units of ``y``), with curvature
        ``1 / width``: the batch solver shrinks ``width`` as it converges.

        Parameters
        ----------
        width : float or array of shape (n_targets,)

        Returns
        -------
        Loss or None
        """
        return None

    def null_predictor(self, Y, sample_weight, xp):
        """The linear predictor of the best constant model, per target (a loss scored by D^2 defines it).

        Parameters
        ----------
        Y : array of shape (n_samples, n_targets)
            In float64 (the widest float of ``xp``).
        sample_weight : array of shape (n_samples, 1)
            Likewise.
        xp : namespace

        Returns
        -------
        array of shape (n_targets,)
        """
        raise NotImplementedError(f"loss={self.name!r} is scored by R^2: it has no null model.")

    def inverse_link(self, p, xp=None):
        """The prediction at linear predictor ``p``: ``p`` itself (the identity link).

        Parameters
        ----------
        p : array
        xp : namespace, default=None

        Returns
        -------
        array
        """
        return p


class ResidualLoss(Loss):
    """A loss ``l(r)`` of the residual ``r = p - y``, with the identity link."""

    def value_and_derivative(self, p, y, xp=None, part=None):
        """Elementwise ``l(p - y)`` and its derivative ``l'(p - y)``.

        Parameters
        ----------
        p : array
            Linear predictors, of any array API namespace.
        y : array
            Targets, broadcastable against ``p``, in its namespace.
        xp : namespace, default=None
            The namespace of ``p`` (found from ``p`` when None).
        part : None
            A residual loss has no terms in ``y`` alone (``target_part``).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``p``.
        """
        return self.of_residual(p - y, xp)

    @abc.abstractmethod
    def of_residual(self, r, xp=None):
        """Elementwise ``l(r)`` and ``l'(r)``.

        Parameters
        ----------
        r : array
            Residuals, of any array API namespace.
        xp : namespace, default=None
            The namespace of ``r`` (found from ``r`` when None).

        Returns
        -------
        value, derivative : arrays
            In the namespace, device and dtype of ``r``.
        """
