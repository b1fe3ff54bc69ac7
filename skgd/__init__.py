"""skgd: a scikit-learn linear regressor fitted by gradient descent."""

from ._plotting import LossCurveDisplay
from ._regressor import GradientDescentRegressor

__all__ = ["GradientDescentRegressor", "LossCurveDisplay"]
__version__ = "0.1.0"
