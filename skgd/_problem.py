"""The problem a solver works on: validated data plus the decided settings."""

from dataclasses import dataclass

import numpy as np

from ._objective import Loss, Penalty


@dataclass
class Problem:
    """Data and settings of one training call, already validated.

    Parameters
    ----------
    X : array or CSR matrix of shape (n_samples, n_features)
        Float32 or float64, C-ordered when a NumPy array; dense arrays may be
        of any array API namespace and device.
    Y : array of shape (n_samples, n_targets)
        Targets in X's dtype, namespace and device.
    sample_weight : array of shape (n_samples,)
        Non-negative weights in X's dtype, namespace and device.
    loss : Loss
    epsilon : float
    penalty : Penalty
    fit_intercept : bool
    schedule : str
    power_t : float
    momentum : float
    nesterov : bool
    batch_size : int
    shuffle : bool
    average : int
        Update count (1-based) at which averaging begins; 0 for none.
    train_rows : ndarray of shape (n_train,) or None, default=None
        The positions in X of the rows to train on, in the order a pass
        without shuffling visits them (int32, intp from 2**31 rows; NumPy and
        sparse data only). The other rows are held out for early stopping and
        carry zero weight in ``sample_weight``. None trains on every row.
    accelerated : bool, default=False
        Whether batch epochs are FISTA steps (``skgd._batch.accelerated_step``).
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray
    loss: Loss
    epsilon: float
    penalty: Penalty
    fit_intercept: bool
    schedule: str
    power_t: float
    momentum: float
    nesterov: bool
    batch_size: int
    shuffle: bool
    average: int
    train_rows: np.ndarray = None
    accelerated: bool = False
