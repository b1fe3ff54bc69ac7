"""skgd: a scikit-learn linear regressor fitted by gradient descent."""

# The one version string: pyproject.toml reads it from here (setuptools' dynamic version).
__version__ = "0.1.0"

import importlib as _importlib

try:  # the compiled loop first, to explain its absence
    _importlib.import_module(f"{__name__}._sgd_fast")
except ModuleNotFoundError as error:
    if error.name != f"{__name__}._sgd_fast":
        raise
    from pathlib import Path as _Path

    raise ImportError(
        f"skgd's compiled extension skgd._sgd_fast is not in {_Path(__file__).parent}.\n"
        "If that is skgd's source folder (a clone or an unpacked sdist, which Python imports skgd from when it "
        "is the current folder), either run Python from another folder, so that the installed skgd is imported "
        "(`pip install .` installs it), or build the extension in place: `pip install -e .`.\n"
        "Otherwise this installation of skgd is incomplete: reinstall it."
    ) from error

from ._estimator import GradientDescentRegressor  # noqa: E402
from ._plotting import LossCurveDisplay  # noqa: E402

__all__ = ["GradientDescentRegressor", "LossCurveDisplay"]
