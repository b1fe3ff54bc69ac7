"""Every check of a training call's parameters and data, run before any pass over the data.

``_parameter_constraints`` checks each parameter alone (scikit-learn's
``_validate_params``); this module checks what it cannot: parameters that
exclude each other, the data and its targets against the loss, the starting
model, a continued model's shape and the early-stopping split. A check fails
with a ``ValueError`` that names the cause and the way out.
"""

import numpy as np
from sklearn.model_selection import ShuffleSplit
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._array_api import (
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    is_dask_array,
    move_to,
    to_numpy,
)
from ._objective import GRAM_MAX_FEATURES
from ._reductions import target_summary


def int32_indices(X):
    """X with int32 ``indices`` and ``indptr``, the index type the compiled loop reads.

    Wider indices (``scipy.sparse`` gives int64 ones to some constructions)
    are cast once; the data is shared, not copied.

    Parameters
    ----------
    X : CSR matrix or array

    Returns
    -------
    CSR matrix or array
        Of X's type; X itself when its indices are already int32.

    Raises
    ------
    ValueError
        If X has 2**31 columns or stored entries or more, which int32 cannot index.
    """
    if X.indices.dtype == np.int32 and X.indptr.dtype == np.int32:
        return X
    limit = np.iinfo(np.int32).max
    if X.shape[1] > limit or X.nnz > limit:
        raise ValueError(
            f"X has {X.shape[1]} columns and {X.nnz} stored entries; skgd indexes sparse X "
            f"with int32, so both must be at most {limit}."
        )
    indices, indptr = X.indices.astype(np.int32, copy=False), X.indptr.astype(np.int32, copy=False)
    return type(X)((X.data, indices, indptr), shape=X.shape, copy=False)


def index_dtype(n_samples):
    """The smallest index dtype the compiled loop reads for ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int

    Returns
    -------
    numpy dtype
        int32, intp from 2**31 rows on.
    """
    return np.dtype(np.int32 if n_samples < 2**31 else np.intp)


#: SGDRegressor's ``learning_rate`` values: each schedule it names is that ``schedule`` here; the others have none.
SGDREGRESSOR_SCHEDULES = ("constant", "invscaling", "adaptive")
SGDREGRESSOR_ONLY_RATES = ("optimal", "pa1", "pa2")


def learning_rate_hint(error, name):
    """``error``'s message with where SGDRegressor's ``learning_rate=name`` goes here, or None for another error.

    SGDRegressor's learning_rate names a schedule; here it is the step size.
    """
    hints = {
        **dict.fromkeys(
            SGDREGRESSOR_SCHEDULES,
            f"is schedule={name!r} here, with learning_rate the step size: eta0 / 2 for squared error "
            "and huber, eta0 for the epsilon-insensitive losses",
        ),
        **dict.fromkeys(
            SGDREGRESSOR_ONLY_RATES,
            "has no counterpart here; learning_rate='auto' derives a safe step from the data",
        ),
    }
    if not (str(error).startswith("The 'learning_rate'") and isinstance(name, str) and name in hints):
        return None
    return f"{error} SGDRegressor's learning_rate={name!r} {hints[name]}."


def check_settings(estimator):
    """Refuse parameters that exclude each other."""
    if estimator.solver == "batch" and estimator.average:
        raise ValueError("average is an option of solver='sgd'; the batch solver's iterates are not noisy.")


def check_training_data(estimator, X, y, sample_weight, reset):
    """``(X, Y, sample_weight, one_d)`` validated for training: Y 2-D in X's dtype, the weights checked."""
    if is_dask_array(X):
        if estimator.early_stopping:
            raise ValueError(
                "early_stopping=True is not supported with dask arrays; hold out a validation "
                "set (for example with dask_ml.model_selection.train_test_split) and score it."
            )
        from ._dask import check_training_data as check_dask_data  # dask is imported only for dask input

        validate_data(estimator, X, y, reset=reset, skip_check_array=True)
        checked = check_dask_data(X, y, sample_weight)  # lazily: the values are checked as blocks are read
        wide = checked[0].shape[1] > GRAM_MAX_FEATURES
        if wide and estimator.solver == "batch" and estimator.learning_rate == "auto":
            raise too_wide_for_dask(checked[0].shape[1])
        return checked
    xp, _, device = get_namespace_and_device(X)
    y, sample_weight = move_to(y, sample_weight, xp=xp, device=device)
    X, y = validate_data(
        estimator,
        X,
        y,
        reset=reset,
        accept_sparse=["csr", "csc"],
        dtype=[xp.float64, xp.float32],
        order="C",
        multi_output=True,
        y_numeric=True,
    )
    if hasattr(X, "tocsr"):
        X = int32_indices(X.tocsr())
    with np.errstate(over="ignore"):  # an overflow is reported just below
        Y = xp.astype(y, X.dtype, copy=False)
    if not bool(xp.all(xp.isfinite(Y))):
        raise ValueError(
            f"y holds values too large for X's dtype {X.dtype} (largest |y| is "
            f"{float(xp.max(xp.abs(xp.astype(y, _max_precision_float_dtype(xp, device))))):.3g}); "
            "pass X as float64 or rescale y."
        )
    one_d = Y.ndim == 1
    Y = xp.reshape(Y, (Y.shape[0], -1))
    sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
    if not bool(xp.any(sample_weight)):  # scikit-learn < 1.8 lets all-zero weights through
        raise ValueError("Sample weights must contain at least one non-zero number.")
    total = float(xp.sum(xp.astype(sample_weight, _max_precision_float_dtype(xp, device))))
    if total > float(xp.finfo(X.dtype).max) / 1e3:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, too close to the largest {X.dtype} for the weighted sums "
            "of a pass; rescale the weights (only their ratios matter to the objective) or pass X as float64."
        )
    return X, Y, sample_weight, one_d


def too_wide_for_dask(n_features):
    """The error of ``learning_rate="auto"`` on dask X too wide for the survey's statistics (its curvature)."""
    return ValueError(
        f"learning_rate='auto' on dask arrays needs at most {GRAM_MAX_FEATURES} features "
        f"(X has {n_features}); pass a float learning_rate."
    )


def check_targets(loss, X, Y, sample_weight, starting=True):
    """``(minimum, means, maxima)`` of the targets for a loss that has a range (None for the others); checks it."""
    if loss.targets is None:
        return None
    if is_dask_array(X):
        from ._dask import target_summary as dask_target_summary

        summary = dask_target_summary(Y, sample_weight)
    else:
        summary = target_summary(Y, sample_weight)
    loss.check_targets(*summary[:2], starting=starting)
    return summary


def check_init(value, shape, name):
    """A starting ``coef_init`` or ``intercept_init`` as a finite float64 array of ``shape`` (None stays None)."""
    if value is None:
        return None
    array = np.asarray(to_numpy(value), dtype=np.float64)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{name} has shape {array.shape}; expected {shape} (or its 1-D form).")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite.")
    return array.reshape(shape)


def check_warm_start(state, n_targets, n_features):
    """Refuse to continue a previous fit on data of another shape."""
    if state.coef.shape != (n_targets, n_features):
        raise ValueError(
            f"warm_start=True continues from the previous fit, which had {state.coef.shape[1]} "
            f"feature(s) and {state.coef.shape[0]} target(s); this X has {n_features} and y "
            f"{n_targets}. Set warm_start=False to start afresh."
        )


def check_continued_targets(state, n_targets):
    """Refuse a ``partial_fit`` chunk with another number of targets than the model's."""
    if n_targets != state.coef.shape[0]:
        raise ValueError(f"y has {n_targets} target(s); this model was trained on {state.coef.shape[0]}.")


def check_coordinates(state, can_condition, centre):
    """Refuse a call whose solver cannot step in the conditioned coordinates the model trains in."""
    if state.conditioning is not None and not (can_condition and (centre or not state.conditioning.centred)):
        raise ValueError(
            "This model trains in conditioned coordinates (learning_rate='auto' when training began); this "
            "call's data cannot be stepped in them (sparse X with solver='sgd' after dense X with an intercept, "
            "mini-batches of another array namespace, or dask). Continue with data like the first call's, "
            "or refit."
        )


def hold_out(X, Y, sample_weight, n_val, seed):
    """Hold out ``n_val`` rows for early stopping, copying only those.

    The rows are the ones ``train_test_split(X, test_size=n_val,
    random_state=seed)`` holds out (its ``ShuffleSplit``), and the training
    rows keep its order. NumPy and sparse data are not copied: training reads
    all of X, with zero weight on the held-out rows and the training positions
    in ``train_rows``, which is the objective, gradient and step bound of the
    training rows alone. Other array namespaces get a copy of the training
    rows instead, as the namespace mini-batch algorithm steps through its rows by
    slicing X.

    Parameters
    ----------
    X : array or CSR matrix of shape (n_samples, n_features)
    Y : array of shape (n_samples, n_targets)
    sample_weight : array of shape (n_samples,)
    n_val : int
        Rows to hold out, at least one fewer than ``n_samples``.
    seed : int
        The split's ``random_state``.

    Returns
    -------
    X, Y : arrays
        The data to train on: the same X and Y, or copies of the training rows.
    sample_weight : array
        The training weights: a copy with zeros on the held-out rows, or those
        of the training rows.
    train_rows : ndarray of shape (n_samples - n_val,) or None
        The training positions in X (of ``index_dtype(n_samples)``), or None
        when X holds only the training rows.
    validation : tuple
        ``(X_val, Y_val, sample_weight_val)``, copies of the held-out rows.
    """
    split = ShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(split.split(X))
    xp, _, device = get_namespace_and_device(X)
    if not _is_numpy_namespace(xp):
        train, val = xp.asarray(train, device=device), xp.asarray(val, device=device)
        (X, Y, sample_weight), validation = (
            tuple(xp.take(a, rows, axis=0) for a in (X, Y, sample_weight)) for rows in (train, val)
        )
        return X, Y, sample_weight, None, validation
    dtype = index_dtype(X.shape[0])
    train, val = train.astype(dtype), val.astype(dtype)  # frees the int64 permutation
    validation = (X[val], Y[val], sample_weight[val])
    sample_weight = sample_weight.copy()
    sample_weight[val] = 0
    return X, Y, sample_weight, train, validation


def split_validation(validation_fraction, X, Y, sample_weight, rng):
    """Early stopping's split (``hold_out``), refused where either side has nothing to train or score on."""
    n_val = int(np.ceil(validation_fraction * X.shape[0]))
    if X.shape[0] - n_val < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no sample to train on of "
            f"n_samples={X.shape[0]}; early stopping needs one to train on and one to validate."
        )
    X, Y, train_weight, train_rows, validation = hold_out(
        X, Y, sample_weight, n_val, rng.randint(np.iinfo(np.int32).max)
    )
    xp, _ = get_namespace(train_weight)
    if not bool(xp.any(train_weight > 0)):
        raise ValueError(
            "early_stopping=True: every sample with positive weight fell in the held-out validation split, "
            "so the training split has zero total weight. Use a smaller validation_fraction, another "
            "random_state, or early_stopping=False."
        )
    if not bool(xp.any(validation[2] > 0)):
        raise ValueError(
            "early_stopping=True: the held-out validation split has zero total weight, so it cannot be "
            "scored. Use a larger validation_fraction, another random_state, or early_stopping=False."
        )
    return X, Y, train_weight, train_rows, validation
