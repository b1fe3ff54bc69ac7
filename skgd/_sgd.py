"""Stochastic gradient descent: each epoch is one pass of (mini-)batch steps.

The compiled loop (``_sgd_fast.sgd_epoch``) runs a pass for one target; this
module prepares its inputs once per call, draws the sample order of each epoch
(the same order for every target) and moves the state in and out of it.

Weights enter each step as ``s_i / mean(s)``: unit weights give the note's
per-sample SGD, and integer weights act as repeated rows in expectation.
"""

import numpy as np

from ._objective import sample_lipschitz
from ._schedules import SCHEDULE_CODES
from ._sgd_fast import sgd_epoch

_EMPTY_INT = np.empty(0, dtype=np.int32)


class SGDPath:
    """Epochs of (mini-)batch SGD through the compiled loop.

    Parameters
    ----------
    problem : Problem
        The data and settings.
    """

    def __init__(self, problem):
        self.problem = problem
        X = problem.X
        dtype = X.dtype
        if hasattr(X, "indptr"):
            self.arrays = (X.data, X.indices, X.indptr)
        else:
            self.arrays = (X.reshape(-1), _EMPTY_INT, _EMPTY_INT)
        self.n_samples, self.n_features = X.shape
        self.targets = np.ascontiguousarray(problem.Y.T)
        s = np.asarray(problem.sample_weight, dtype=np.float64)
        self.weights = (s / s.mean()).astype(dtype)
        self.empty = np.empty(0, dtype=dtype)
        self.empty64 = np.empty(0)

    def lipschitz(self):
        """Largest per-sample Lipschitz constant, for the automatic step.

        Returns
        -------
        float
        """
        p = self.problem
        return sample_lipschitz(p.loss, p.penalty, p.X, self.weights, p.fit_intercept)

    def epoch(self, state, eta):
        """One pass over the samples; returns the epoch's loss.

        The loss is the weighted mean of each sample's loss just before its
        update, averaged over targets, plus the penalty at the end of the pass.

        Parameters
        ----------
        state : TrainingState
            Updated in place.
        eta : float
            Base step size.

        Returns
        -------
        float
        """
        p = self.problem
        order = state.rng.permutation(self.n_samples) if p.shuffle else np.arange(self.n_samples)
        total = 0.0
        scalars = np.zeros(6)
        for j in range(self.targets.shape[0]):
            scalars[:] = (
                state.intercept[j],
                state.velocity_intercept[j] if p.momentum else 0.0,
                state.intercept_average[j] if p.average else 0.0,
                state.l1_total[j] if p.penalty.l1 else 0.0,
                state.t,
                state.n_averaged,
            )
            total += sgd_epoch(
                *self.arrays,
                self.n_features,
                self.targets[j],
                self.weights,
                order,
                state.coef[j],
                scalars,
                state.velocity[j] if p.momentum else self.empty,
                state.coef_average[j] if p.average else self.empty,
                state.l1_applied[j] if p.penalty.l1 else self.empty64,
                loss_code=p.loss.code,
                epsilon=p.epsilon,
                eta0=eta,
                schedule_code=SCHEDULE_CODES[p.schedule],
                power_t=p.power_t,
                l2=p.penalty.l2,
                l1=p.penalty.l1,
                momentum=p.momentum,
                nesterov=p.nesterov,
                batch_size=p.batch_size,
                fit_intercept=p.fit_intercept,
                average_start=p.average,
            )
            if p.fit_intercept:
                state.intercept[j] = scalars[0]
            if p.momentum:
                state.velocity_intercept[j] = scalars[1]
            if p.average:
                state.intercept_average[j] = scalars[2]
            if p.penalty.l1:
                state.l1_total[j] = scalars[3]
        state.t = int(scalars[4])
        state.n_averaged = int(scalars[5])
        losses = total / (self.n_samples * self.targets.shape[0])
        return float(losses + np.mean(p.penalty.value(state.coef)))
