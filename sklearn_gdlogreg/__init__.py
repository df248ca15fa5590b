"""Logistic regression fitted by explicit gradient descent, for scikit-learn."""

from ._gd_logistic import GDLogisticRegression

__version__ = "0.1.0"

__all__ = ["GDLogisticRegression", "__version__"]
