"""Stochastic gradient descent on data of any array API namespace.

The compiled loop (``skgd._sgd_fast``) reads NumPy memory, so NumPy and sparse
data keep it (``skgd._algorithms._sgd.SGDSolver``). Other namespaces (PyTorch, CuPy,
array-api-strict...) take one of two solvers, picked by
``skgd._algorithms.make_algorithm``:

- ``batch_size > 1``: ``NamespaceSGDSolver`` takes each mini-batch step in the
  data's namespace and on its device, all targets at once, with the matrix
  products on the device. It is the compiled loop's arithmetic, step for step:
  the same sample order, losses, schedules, momentum and Nesterov, the
  intercept, each weight multiplying its sample's step, the cumulative L1 penalty
  and iterate averaging; the lazy scalings the loop keeps for O(nnz) sparse
  steps are applied directly, which dense data does not need.
- ``batch_size=1``: a per-sample step is a few flops, so on a GPU each one
  would cost a kernel launch per operation. ``HostSGDSolver`` instead copies the
  data to the host once per call and runs the compiled loop there, moving the
  (small) state to the host and back around each epoch.

Either way the state, and so ``coef_`` and ``intercept_``, stays in the data's
namespace and on its device.

Early stopping hands these solvers copies of the training rows rather than
training positions in X (``skgd._training.hold_out``): the mini-batch solver
steps through its rows by slicing X, and the host solver copies X anyway.
"""

from dataclasses import replace

import numpy as np

from ._algorithms._sgd import SGDAlgorithm, SGDSolver, max_change, pass_loss, sample_order
from ._array_api import _max_precision_float_dtype, get_namespace_and_device, move_to
from ._step_size import sample_lipschitz


class HostSGDSolver(SGDAlgorithm):
    """Per-sample SGD on non-NumPy data: the compiled loop on a host copy.

    Parameters
    ----------
    data : TrainingData
        Copied to the host here, once.
    settings : Settings
    objective : StreamingObjective
        In the data's namespace.
    automatic : bool, default=False
    """

    def __init__(self, data, settings, objective, automatic=False):
        super().__init__(data, settings, objective, automatic)
        self.xp, _, self.device = get_namespace_and_device(data.X)
        X, Y, sample_weight = move_to(data.X, data.Y, data.sample_weight, xp=np, device="cpu")
        host = replace(data, X=np.ascontiguousarray(X), Y=Y, sample_weight=sample_weight)
        self.host = SGDSolver(host, settings, objective, automatic)
        self.can_condition = self.host.can_condition

    def lipschitz(self, conditioning):
        """Largest per-sample Lipschitz constant, for the automatic step.

        Parameters
        ----------
        conditioning : Conditioning
            The coordinates the loop steps in.

        Returns
        -------
        float
        """
        host = None if conditioning is None else conditioning.to_namespace(np, "cpu")
        return self.host.lipschitz(host)

    def epoch(self, state, eta):
        """One pass over the samples on the host; the state returns to the device.

        Parameters
        ----------
        state : TrainingState
            In the data's namespace and on its device; updated in place.
        eta : float
            Base step size.

        Returns
        -------
        float
            The epoch's loss, as ``SGDSolver.epoch``.
        """
        on_host = state.to(np, "cpu")
        loss = self.host.epoch(on_host, eta)
        back = on_host.to(self.xp, self.device)
        vars(state).update(back.loop_fields())
        return loss


class NamespaceSGDSolver(SGDAlgorithm):
    """Mini-batch SGD in the data's array namespace and on its device.

    Parameters
    ----------
    data : TrainingData
        X must be dense.
    settings : Settings
    objective : StreamingObjective
        In the data's namespace.
    automatic : bool, default=False
    """

    def __init__(self, data, settings, objective, automatic=False):
        super().__init__(data, settings, objective, automatic)
        self.data = data
        self.xp, _, self.device = get_namespace_and_device(data.X)
        xp = self.xp
        self.float64 = _max_precision_float_dtype(xp, self.device)
        self.weights = xp.astype(data.sample_weight, data.X.dtype)
        self.weight_sum = float(xp.sum(xp.astype(data.sample_weight, self.float64)))

    #: Mini-batches can step in conditioned coordinates.
    can_condition = True

    def lipschitz(self, conditioning):
        """Largest per-sample Lipschitz constant, for the automatic step.

        Parameters
        ----------
        conditioning : Conditioning or None
            The coordinates the steps are taken in.

        Returns
        -------
        float
        """
        p = self.settings
        return sample_lipschitz(p.loss, p.penalty, self.data.X, self.weights, p.fit_intercept, conditioning)

    def epoch(self, state, eta):
        """One pass over the samples in mini-batches; returns the epoch's loss.

        The sample order is drawn from ``state.rng`` exactly as the compiled
        loop's solver draws it.

        Parameters
        ----------
        state : TrainingState
            In the data's namespace and on its device; updated in place.
        eta : float
            Base step size.

        Returns
        -------
        float
            The weighted mean of each sample's loss just before its update,
            averaged over targets, plus the penalty at the end of the pass.
        """
        p, xp, conditioning, data = self.settings, self.xp, state.conditioning, self.data
        n = data.X.shape[0]
        steps = p.schedule.steps(eta, state.t, -(-n // p.batch_size), p.power_t)
        order = xp.asarray(sample_order(n, state.rng), device=self.device) if p.shuffle else None
        relative = p.loss.relative_steps  # each target's own step, as the compiled loop's ``steps * relative[j]``
        if relative is not None:
            relative = xp.asarray(relative, dtype=data.X.dtype, device=self.device)
        total = xp.zeros(state.coef.shape[0], dtype=self.float64, device=self.device)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=True)
            shift, scale = (xp.astype(a, data.X.dtype) for a in (conditioning.shift, conditioning.scale))
        for update, start in enumerate(range(0, n, p.batch_size)):
            stop = min(start + p.batch_size, n)
            if order is None:
                rows = [data.X[start:stop, :], data.Y[start:stop, :], self.weights[start:stop]]
            else:
                batch = order[start:stop]
                rows = [xp.take(a, batch, axis=0) for a in (data.X, data.Y, self.weights)]
            if conditioning is not None:
                rows[0] = (rows[0] - shift) * scale  # the batch's conditioned rows z
            eta_update = float(steps[update])
            total += self.step(state, *rows, eta_update if relative is None else eta_update * relative)
        if conditioning is not None:
            conditioning.convert(state, to_conditioned=False)
        return pass_loss(p, state, float(xp.sum(total)), self.weight_sum, xp=xp)

    def step(self, state, X, Y, weights, eta):
        """One mini-batch update of every target, in place.

        Parameters
        ----------
        state : TrainingState
        X : array of shape (batch_size, n_features)
        Y : array of shape (batch_size, n_targets)
        weights : array of shape (batch_size,)
            Each multiplies its sample's share of the step.
        eta : float or array of shape (n_targets,)
            This update's step size (``Schedule.steps``), or each target's.

        Returns
        -------
        array of shape (n_targets,)
            ``sum_i weight_i * loss_i`` over the batch, before the update.
        """
        p, xp = self.settings, self.xp
        # The penalty takes the batch's mean weight as its share of the step (as
        # the compiled loop): the steps' fixed point is then J's optimum. In
        # conditioned coordinates its L2 part weighs coordinate j by scale_j**2.
        share = xp.mean(weights)
        rate = eta if isinstance(eta, float) else eta[:, None]  # the step of each coefficient
        l2 = p.penalty.l2 * share * self._scale2(state)
        predictor = X @ state.coef.T + xp.astype(state.intercept, X.dtype)
        values, derivatives = p.loss.value_and_derivative(predictor, Y, xp=xp)
        loss_sums = weights @ values
        scaled = cap_steps(weights[:, None] * derivatives, X, eta, p, xp) / X.shape[0]
        grad_intercept = xp.sum(scaled, axis=0)
        grad_coef = scaled.T @ X
        if p.momentum:
            self._momentum_step(state, grad_coef + l2 * state.coef, grad_intercept, eta, rate)
        else:
            if p.penalty.l2 > 0.0:
                state.coef *= xp.clip(1.0 - rate * l2, min=0.0)
            state.coef -= rate * grad_coef
            if p.fit_intercept:
                state.intercept -= eta * grad_intercept
        if p.penalty.l1 > 0.0:
            self._cumulative_l1(state, eta * float(share))
        state.t += 1
        if p.average and state.t >= p.average:
            self._average(state)
        return xp.astype(loss_sums, self.float64)

    def _scale2(self, state):
        """``scale**2`` of the conditioned coordinates in X's dtype (1 in the user's)."""
        if state.conditioning is None:
            return 1.0
        return self.xp.astype(state.conditioning.scale * state.conditioning.scale, self.data.X.dtype)

    def _momentum_step(self, state, grad_coef, grad_intercept, eta, rate):
        # Heavy-ball / Nesterov momentum; grad_coef holds the L2 part, rate is eta for each coefficient.
        p = self.settings
        mu, v = p.momentum, state.momentum
        v.velocity *= mu
        v.velocity -= rate * grad_coef
        if p.nesterov:
            state.coef += mu * v.velocity - rate * grad_coef
        else:
            state.coef += v.velocity
        if p.fit_intercept:
            v.velocity_intercept *= mu
            v.velocity_intercept -= eta * grad_intercept
            if p.nesterov:
                state.intercept += mu * v.velocity_intercept - eta * grad_intercept
            else:
                state.intercept += v.velocity_intercept

    def _cumulative_l1(self, state, eta):
        # Tsuruoka et al.'s cumulative L1 penalty over every feature: each
        # weight is pulled towards zero, without crossing it, by the total
        # penalty so far less what it already received.
        xp, own = self.xp, state.sgd
        own.l1_total += eta * self.settings.penalty.l1
        total = own.l1_total[:, None]
        if state.conditioning is not None:  # coordinate j's threshold is the total times |scale_j|
            total = total * xp.abs(xp.astype(state.conditioning.scale, self.float64))[None, :]
        before = xp.astype(state.coef, self.float64)
        applied = own.l1_applied
        shrunk = xp.where(
            before > 0.0,
            xp.clip(before - (total + applied), min=0.0),
            xp.where(before < 0.0, xp.clip(before + (total - applied), max=0.0), before),
        )
        state.coef = xp.astype(shrunk, state.coef.dtype)
        own.l1_applied += xp.astype(state.coef, self.float64) - before

    def _average(self, state):
        # The running mean of the iterates since averaging began.
        xp, own = self.xp, state.sgd
        own.n_averaged += 1
        k = own.n_averaged
        coef = xp.astype(state.coef, self.float64)
        if k == 1:
            own.coef_average = coef
        else:
            own.coef_average += (coef - own.coef_average) / k
        own.intercept_average += (state.intercept - own.intercept_average) / k


def cap_steps(derivatives, X, eta, settings, xp):
    """Each sample's weighted derivative, shrunk so its own step moves its predictor by at most ``max_change(loss)``.

    The compiled loop's cap (``_sgd_rule._capped``): a sample's step moves its
    linear predictor by ``eta * d * (||z||^2 + fit_intercept)``; the loss's
    ``max_change`` bounds that (0: no cap, ``derivatives`` as given).

    Parameters
    ----------
    derivatives : array of shape (batch_size, n_targets)
        ``weight * dl/dp`` of each sample and target.
    X : array of shape (batch_size, n_features)
        The batch's rows ``z`` (conditioned when the steps are).
    eta : float
    settings : Settings
    xp : array namespace

    Returns
    -------
    array of shape (batch_size, n_targets)
    """
    cap = max_change(settings.loss)
    if not cap > 0.0:
        return derivatives
    reach = eta * (xp.sum(X * X, axis=1) + float(settings.fit_intercept))[:, None]
    too_far = reach * xp.abs(derivatives) > cap
    limit = cap / xp.where(too_far, reach, xp.ones_like(reach))
    return xp.where(too_far, xp.sign(derivatives) * limit, derivatives)
