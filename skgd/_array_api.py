"""Array API support: the scikit-learn helpers the solvers and the estimator use.

With ``sklearn.set_config(array_api_dispatch=True)`` an input's namespace (NumPy,
PyTorch, CuPy, array-api-strict...) and device carry through training: the
maths is written once against the namespace ``xp`` of the data, found with
``get_namespace`` as scikit-learn's own estimators do, and arrays move with
``move_to``. NumPy and sparse input keep NumPy and the compiled loop.

Non-NumPy input needs scikit-learn >= 1.9 (``move_to`` and
``check_same_namespace``). On older versions everything is NumPy, nothing
ever moves, and the estimator does not declare array API support.
"""

import sys

import numpy as np
from sklearn.utils._array_api import (  # noqa: F401 (re-exported)
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
)

try:
    from sklearn.utils._array_api import check_same_namespace, move_to
except ImportError:  # scikit-learn < 1.9: NumPy input only
    ARRAY_API_SUPPORT = False

    def move_to(*arrays, xp, device):
        """Return ``arrays`` as they are: without array API support they are NumPy's."""
        return arrays[0] if len(arrays) == 1 else arrays

    def check_same_namespace(X, estimator, *, attribute, method):
        """Check nothing: without array API support fit and predict both use NumPy."""

else:
    ARRAY_API_SUPPORT = True


def is_dask_array(X):
    """Whether X is a dask array, found without importing dask."""
    array = sys.modules.get("dask.array")
    return array is not None and isinstance(X, array.Array)


def widest_float(xp, array):
    """The float dtype sums over ``array`` are accumulated in.

    float64, or float32 on a device without float64 (Apple's MPS). Found
    without inspecting ``array`` for NumPy, so it costs nothing per epoch.

    Parameters
    ----------
    xp : array namespace
        ``array``'s.
    array : array

    Returns
    -------
    dtype of ``xp``
    """
    if _is_numpy_namespace(xp):
        return xp.float64
    return _max_precision_float_dtype(xp, array.device)


def to_numpy(value):
    """``value`` as a NumPy array on the host.

    Arrays of any namespace and device are moved with ``move_to``; anything
    else (a list, a float) goes through ``numpy.asarray``.

    Parameters
    ----------
    value : array or array-like

    Returns
    -------
    ndarray
    """
    return np.asarray(move_to(value, xp=np, device="cpu") if hasattr(value, "__dlpack__") else value)


#: Units in the last place of X's dtype that ``rounding`` takes for a sum's rounding.
ROUNDING_ULPS = 64.0


def rounding(xp, dtype):
    """Relative change of a sum over data of ``dtype`` that is rounding.

    ``ROUNDING_ULPS`` units in the last place of ``dtype``, and never under 1e-10: what a
    loss formed in X's dtype and summed in float64 may move by without a step
    having changed anything.

    Parameters
    ----------
    xp : array namespace
    dtype : dtype of ``xp``

    Returns
    -------
    float
    """
    return max(1e-10, ROUNDING_ULPS * float(xp.finfo(dtype).eps))


def clip(x, bound, xp):
    """``x`` clipped to ``[-bound, bound]`` elementwise, in the namespace ``xp`` of ``x``.

    Parameters
    ----------
    x : array
    bound : float
    xp : namespace

    Returns
    -------
    array
    """
    return clip_between(x, -bound, bound, xp)


def clip_between(x, low, high, xp):
    """``x`` clipped to ``[low, high]`` elementwise, in the namespace ``xp`` of ``x``.

    Parameters
    ----------
    x : array
    low, high : float
    xp : namespace

    Returns
    -------
    array
    """
    if _is_numpy_namespace(xp):
        return np.clip(x, low, high)  # a NumPy ufunc: many times faster than the namespace's clip
    return xp.clip(x, min=low, max=high)


def training_namespace(X):
    """The array namespace and device a fit on X keeps its state in.

    X's own; NumPy's for a dask array, whose blocks are NumPy arrays.
    """
    xp, _, device = get_namespace_and_device(np.empty(0) if is_dask_array(X) else X)
    return xp, device
