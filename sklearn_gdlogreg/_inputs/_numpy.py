"""A NumPy/SciPy fit's input: labels encoded, weights checked, the objective built.

X and y have been validated by the estimator (``validate_data``): X is a
float32 or float64 array or CSR/CSC matrix, y a 1-D array.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from .._objective._numpy import LogisticObjective
from ._checks import check_penalty, check_two_classes, check_weights, sample_weights
from ._split import validation_rows


def prepare_numpy(X, y, sample_weight, *, class_weight, cost, validation=None):
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
    validation : dict, optional
        ``validation_fraction`` and ``random_state`` of early stopping: rows
        of X are then held out (:func:`._split.validation_rows`), with weight
        zero in J and their own weights (sample weight times class weight,
        the class weights taken over all rows, as SGDClassifier does) in the
        held-out cost (the objective's ``held_out_rows`` says which).

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
    held_out = None if validation is None else validation_rows(y_enc, **validation)
    if sample_weight is None and class_weight is None and held_out is None:
        s = np.broadcast_to(1.0, y_enc.shape)  # equal: no n-vector of ones
        check_penalty(cost["C"], float(s.size))
    else:
        C = np.inf if held_out is not None else cost["C"]  # checked on s below
        s = sample_weights(
            X, y, y_enc, classes, sample_weight, class_weight=class_weight, C=C
        )
    if held_out is not None:
        s, held_out = _held_out(s, y_enc, held_out, cost["C"])
    if classes.size == 2:
        # 0/1 labels in a byte each (the kernels test y > 0): an n-vector
        # of float64 less, freed before the objective's.
        y_enc = (y_enc == 1).view(np.uint8)
    objective = LogisticObjective(
        X, y_enc, s, n_classes=classes.size, held_out=held_out, **cost
    )
    return objective, classes


def _held_out(s, y_enc, rows, C):
    """The training weights (zero on ``rows``) and the objective's
    ``held_out`` argument, both sides' weights checked."""
    v = s[rows]
    if not v.sum() > 0:
        raise ValueError(
            "The sample weights (times the class weights) of the rows held out "
            "for early stopping are all zero: their cost is undefined. Use "
            "another random_state or validation_fraction."
        )
    s = s.copy()
    s[rows] = 0.0
    check_weights(s, C)
    return s, (rows, y_enc[rows], v)
