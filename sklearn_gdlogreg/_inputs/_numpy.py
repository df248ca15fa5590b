"""A NumPy/SciPy fit's input: labels encoded, weights checked, the objective built.

X and y have been validated by the estimator (``validate_data``): X is a
float32 or float64 array or CSR/CSC matrix, y a 1-D array.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from .._objective._numpy import LogisticObjective
from ._checks import check_penalty, check_two_classes, sample_weights


def prepare_numpy(X, y, sample_weight, *, class_weight, cost):
    """The objective of an in-memory fit, and the classes.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Validated; never modified (a sparse matrix with duplicate entries
        is copied before they are summed).
    y : ndarray of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,) or None
    class_weight : dict, "balanced" or None
    cost : dict
        ``C``, ``l1_ratio``, ``fit_intercept`` and ``preconditioner`` (resolved)
        of the objective.

    Returns
    -------
    objective : LogisticObjective
        Its ``X`` is the matrix the fit reads (X, or its canonical copy).
    classes : ndarray of shape (n_classes,)
    """
    if sp.issparse(X) and not X.has_canonical_format:
        X = X.copy()  # summing duplicate entries must not modify the input
        X.sum_duplicates()
    check_classification_targets(y)
    # fit, then transform: fit_transform's np.unique(return_inverse=True)
    # holds five n-sized arrays at once.
    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    if y.dtype.kind in "biuf":
        # transform() would first look for labels unseen by fit() (an
        # np.unique of y again): none can be, y is what it was fit on.
        # Numeric y is finite (validate_data), so classes_ is sorted and
        # searchsorted is its exact index.
        y_enc = np.searchsorted(classes, y)
    else:
        y_enc = encoder.transform(y)
    check_two_classes(classes)
    if sample_weight is None and class_weight is None:
        s = np.broadcast_to(1.0, y_enc.shape)  # equal: no n-vector of ones
        check_penalty(cost["C"], float(s.size))
    else:
        s = sample_weights(
            X, y, y_enc, classes, sample_weight, class_weight=class_weight, C=cost["C"]
        )
    if classes.size == 2:
        # 0/1 labels in a byte each (the kernels test y > 0): an n-vector
        # of float64 less, freed before the objective's.
        y_enc = (y_enc == 1).view(np.uint8)
    return LogisticObjective(X, y_enc, s, n_classes=classes.size, **cost), classes
