"""Logistic regression fitted by explicit gradient descent, for scikit-learn."""

from ._cv import GDLogisticRegressionCV
from ._gd_logistic import GDLogisticRegression
from ._plot import CostHistoryDisplay

__version__ = "0.1.0"

__all__ = [
    "CostHistoryDisplay",
    "GDLogisticRegression",
    "GDLogisticRegressionCV",
    "__version__",
]
