"""What an algorithm works on: the validated data, and the decided settings, apart.

The settings travel (to dask workers, between row blocks) without the data;
an objective (``skgd._objective``) and the algorithm that asks it
(``skgd._algorithms``) are built from both.
"""

from dataclasses import dataclass

import numpy as np

from ._loss import Loss
from ._penalty import Penalty
from ._schedules import Schedule


@dataclass(frozen=True)
class Settings:
    """The decided settings of one training call.

    Parameters
    ----------
    loss : Loss
        With its parameters bound in.
    penalty : Penalty
    fit_intercept : bool
    schedule : Schedule
    power_t : float
    momentum : float
    nesterov : bool
    batch_size : int
    shuffle : bool
    average : int
        Update count (1-based) at which averaging begins; 0 for none.
    """

    loss: Loss
    penalty: Penalty
    fit_intercept: bool
    schedule: Schedule
    power_t: float
    momentum: float
    nesterov: bool
    batch_size: int
    shuffle: bool
    average: int


@dataclass
class TrainingData:
    """The validated data of one training call.

    Parameters
    ----------
    X : array or CSR matrix of shape (n_samples, n_features)
        Float32 or float64, C-ordered when a NumPy array; dense arrays may be
        of any array API namespace and device (or a dask array).
    Y : array of shape (n_samples, n_targets)
        Targets in X's dtype, namespace and device.
    sample_weight : array of shape (n_samples,)
        Non-negative weights in X's dtype, namespace and device.
    train_rows : ndarray of shape (n_train,) or None, default=None
        The positions in X of the rows to train on, in the order a pass
        without shuffling visits them (int32, intp from 2**31 rows; NumPy and
        sparse data only). The other rows are held out for early stopping and
        carry zero weight in ``sample_weight``. None trains on every row.
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray
    train_rows: np.ndarray = None
