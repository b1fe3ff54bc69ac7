"""Full-batch gradient descent: one (proximal) gradient step per epoch.

Two ways to get ``J`` and its gradient at the current iterate, the same maths:

- ``StreamingBatch`` reads X each epoch (any loss): residuals, loss and
  gradient in one fused pass over row blocks, O(n * d) per epoch and nothing
  of the data's size allocated.
- ``GramBatch`` (squared error only) reads X once for the weighted sufficient
  statistics ``X^T S X, X^T S y, y^T S y`` and the column sums, in float64 and in
  row blocks (no copy of X); every epoch then costs O(d^2) per target.

Both read the data through ``skgd._reductions``, the sums a pass accumulates,
which the dask paths (``skgd._dask``) compute per chunk instead.

``choose_batch_path`` picks one (see its docstring for the rule). Both hand
the gradient to ``take_step``, the single place a batch step is taken.

Both run in the data's array namespace and on its device (``skgd._array_api``):
the same code fits NumPy arrays and, say, CUDA tensors.
"""

from ._array_api import get_namespace
from ._objective import batch_lipschitz, gram_lipschitz
from ._reductions import SufficientStatistics, loss_gradient_sums
from ._schedules import step_size

#: Below this many entries of X an epoch costs microseconds either way, and
#: the streaming loss is exact to the last bit (the Gram form of the loss loses
#: relative accuracy as the loss approaches zero), so small data streams.
GRAM_MIN_SIZE = 10_000

#: Largest number of features for which the d x d statistics are kept.
GRAM_MAX_FEATURES = 4096


def choose_batch_path(loss, X, max_iter, one_epoch):
    """Pick the batch path for the data at hand.

    The Gram path is taken when the loss is squared error, the call runs more
    than one epoch, X has more rows than columns, at least ``GRAM_MIN_SIZE``
    entries and at most ``GRAM_MAX_FEATURES`` columns, and its one O(n d^2)
    pass costs no more than the O(n d) epochs it replaces (``d <= 2 * max_iter``).
    Everything else streams.

    Parameters
    ----------
    loss : Loss
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    max_iter : int
    one_epoch : bool
        True for ``partial_fit``.

    Returns
    -------
    class
        ``GramBatch`` or ``StreamingBatch``.
    """
    n, d = X.shape
    gram = (
        loss.name == "squared_error"
        and not one_epoch
        and n > d
        and n * d >= GRAM_MIN_SIZE
        and d <= min(GRAM_MAX_FEATURES, 2 * max_iter)
    )
    return GramBatch if gram else StreamingBatch


def take_step(state, grad_coef, grad_intercept, eta, problem, xp):
    """One (proximal, optionally momentum) gradient step on ``state``, in place.

    Parameters
    ----------
    state : TrainingState
    grad_coef : array of shape (n_targets, n_features)
        Gradient of the data term, in the state's namespace.
    grad_intercept : array of shape (n_targets,)
    eta : float
        The step size of this update.
    problem : Problem
        Supplies ``penalty``, ``momentum``, ``nesterov`` and ``fit_intercept``.
    xp : array namespace
        The state's.
    """
    penalty = problem.penalty
    grad_coef = grad_coef + penalty.l2 * state.coef
    if not problem.fit_intercept:
        grad_intercept = xp.zeros_like(grad_intercept)
    if problem.momentum:
        mu = problem.momentum
        state.velocity *= mu
        state.velocity -= eta * grad_coef
        state.velocity_intercept *= mu
        state.velocity_intercept -= eta * grad_intercept
        if problem.nesterov:
            state.coef += mu * state.velocity - eta * grad_coef
            state.intercept += mu * state.velocity_intercept - eta * grad_intercept
        else:
            state.coef += state.velocity
            state.intercept += state.velocity_intercept
    else:
        state.coef -= eta * grad_coef
        state.intercept -= eta * grad_intercept
    penalty.prox(state.coef, eta, xp=xp)
    state.t += 1


class _BatchPath:
    """What both batch paths share: an epoch is one step from ``objective``."""

    def epoch(self, state, eta):
        """One full-gradient step; returns J before it.

        Parameters
        ----------
        state : TrainingState
        eta : float
            Base step size.

        Returns
        -------
        float
        """
        value, grad_coef, grad_intercept = self.objective(state.coef, state.intercept)
        p = self.problem
        take_step(state, grad_coef, grad_intercept, step_size(p.schedule, eta, state.t, p.power_t), p, self.xp)
        return value


class StreamingBatch(_BatchPath):
    """Full-gradient epochs that read X each time (any loss).

    Parameters
    ----------
    problem : Problem
        The data and settings.
    """

    def __init__(self, problem):
        self.problem = problem
        self.xp, _ = get_namespace(problem.X, problem.sample_weight)
        self.weight_sum = float(self.xp.sum(problem.sample_weight))

    def lipschitz(self):
        """Lipschitz constant of the smooth part's gradient.

        Returns
        -------
        float
        """
        p = self.problem
        return batch_lipschitz(p.loss, p.penalty, p.X, p.sample_weight, p.fit_intercept)

    def objective(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        value : float
            J averaged over targets.
        grad_coef : ndarray of shape (n_targets, n_features)
        grad_intercept : ndarray of shape (n_targets,)
        """
        loss_sums, grad_coef, grad_intercept = self.sums(coef, intercept)
        penalty = self.problem.penalty.value(coef, xp=self.xp)
        value = float(self.xp.mean(loss_sums / self.weight_sum + penalty))
        return value, grad_coef / self.weight_sum, grad_intercept / self.weight_sum

    def sums(self, coef, intercept):
        """Weighted loss and gradient sums over the data (one read of X).

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        loss_sums, grad_coef, grad_intercept : ndarrays
            As ``skgd._reductions.loss_gradient_sums``.
        """
        p = self.problem
        return loss_gradient_sums(p.loss, p.epsilon, p.X, p.Y, p.sample_weight, coef, intercept, xp=self.xp)


class GramBatch(_BatchPath):
    """Squared-error epochs from the weighted sufficient statistics, O(d^2) each.

    Parameters
    ----------
    problem : Problem
        The data and settings; its loss must be squared error.
    statistics : SufficientStatistics, default=None
        The data's statistics when already computed (by a dask pass); None
        accumulates them from ``problem`` here.
    """

    def __init__(self, problem, statistics=None):
        self.problem = problem
        if statistics is None:
            statistics = SufficientStatistics.of(problem.X, problem.Y, problem.sample_weight)
        self.statistics = statistics
        self.xp, _ = get_namespace(statistics.gram)
        total = statistics.weight_sum
        self.gram = statistics.gram / total
        self.cross = statistics.cross.T / total
        self.mean_x = statistics.column_sums / total
        self.mean_y = statistics.target_sums / total
        self.mean_yy = statistics.target_squares / total

    def lipschitz(self):
        """Lipschitz constant of the smooth part's gradient, from the statistics.

        Returns
        -------
        float
        """
        p = self.problem
        return gram_lipschitz(p.loss, p.penalty, self.statistics.augmented_gram(p.fit_intercept))

    def objective(self, coef, intercept):
        """J at ``(coef, intercept)`` and its data-term gradient, in O(d^2) per target.

        Parameters
        ----------
        coef : ndarray of shape (n_targets, n_features)
        intercept : ndarray of shape (n_targets,)

        Returns
        -------
        value : float
        grad_coef : ndarray of shape (n_targets, n_features)
        grad_intercept : ndarray of shape (n_targets,)
        """
        p, xp = self.problem, self.xp
        b = intercept
        gram_coef = coef @ self.gram
        coef_mean_x = coef @ self.mean_x
        losses = (
            xp.sum(coef * gram_coef, axis=1)
            + 2.0 * b * coef_mean_x
            + b * b
            - 2.0 * xp.sum(coef * self.cross, axis=1)
            - 2.0 * b * self.mean_y
            + self.mean_yy
        )
        grad_coef = 2.0 * (gram_coef + b[:, None] * self.mean_x - self.cross)
        grad_intercept = 2.0 * (coef_mean_x + b - self.mean_y)
        value = float(xp.mean(losses + p.penalty.value(coef, xp=xp)))
        return value, grad_coef, grad_intercept
