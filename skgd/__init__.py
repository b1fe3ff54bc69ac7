"""skgd: a scikit-learn linear regressor fitted by gradient descent."""

from ._regressor import GradientDescentRegressor

__all__ = ["GradientDescentRegressor"]
__version__ = "0.1.0"
