"""skgd: a scikit-learn linear regressor fitted by gradient descent."""

# The one version string: pyproject.toml reads it from here (setuptools' dynamic version).
__version__ = "0.1.0"

from ._plotting import LossCurveDisplay  # noqa: E402
from ._regressor import GradientDescentRegressor  # noqa: E402

__all__ = ["GradientDescentRegressor", "LossCurveDisplay"]
