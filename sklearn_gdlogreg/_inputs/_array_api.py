"""An array-API fit's input: labels and weights encoded on the host, moved once.

X has been validated by the estimator (in its namespace and on its device);
``y`` and ``sample_weight`` may come from another namespace or device: they
are 1-D, encoded and checked on the host as NumPy input is, then moved to
X's device once.
"""

import numpy as np
from sklearn import config_context
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .._compat import get_namespace, get_namespace_and_device, to_numpy
from .._objective._array_api import ArrayAPIObjective
from ._checks import check_two_classes, sample_weights


def prepare_array_api(X, y, sample_weight, *, class_weight, cost):
    """The objective on X's device, and the classes.

    Parameters are those of :func:`._numpy.prepare_numpy`, X validated in
    its own namespace (float32 or float64).

    Returns
    -------
    objective : ArrayAPIObjective
    classes : ndarray of shape (n_classes,)
    """
    xp, _, device = get_namespace_and_device(X)
    y = column_or_1d(to_numpy(y, get_namespace(y)[0]), warn=True)
    if sample_weight is not None:  # to the host, from any namespace
        sample_weight = to_numpy(sample_weight, get_namespace(sample_weight)[0])
    check_consistent_length(X, y)
    check_classification_targets(y)
    classes, y_enc = np.unique(y, return_inverse=True)
    check_two_classes(classes)
    with config_context(array_api_dispatch=False):  # weights on the host
        s = sample_weights(
            np.empty((X.shape[0], 0)), y, y_enc, classes, sample_weight,
            class_weight=class_weight, C=cost["C"],
        )  # fmt: skip
    objective = ArrayAPIObjective(
        X,
        xp.asarray(y_enc, device=device),
        xp.asarray(s, dtype=X.dtype, device=device),
        n_classes=classes.size,
        **cost,
    )
    return objective, classes
