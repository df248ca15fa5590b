"""Every private or version-dependent scikit-learn import, in one place.

Each entry says from which scikit-learn version it can be imported from a
public location (or dropped) so that this module can shrink over time.
"""

import sklearn
from sklearn.base import _fit_context  # private; public API pending upstream
from sklearn.utils._param_validation import (  # private; stable since 1.2
    Hidden,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_sample_weight,  # private; `ensure_non_negative` since 1.6
    validate_data,  # public since 1.6 (our minimum)
)

from sklearn.utils.multiclass import (  # private; stable since 0.16
    _check_partial_fit_first_call,
)

SKLEARN_VERSION = tuple(int(p) for p in sklearn.__version__.split(".")[:2])


def compute_class_weight(class_weight, *, classes, y, sample_weight):
    """``sklearn.utils.class_weight.compute_class_weight`` with sample weights.

    scikit-learn >= 1.7 weighs the class counts of "balanced" by
    ``sample_weight``; on 1.6 the same formula, ``S / (n_classes * S_k)``
    with ``S_k`` the weight of class k, is applied here (drop at 1.7).
    """
    from sklearn.utils.class_weight import compute_class_weight as _ccw

    if SKLEARN_VERSION >= (1, 7):
        return _ccw(class_weight, classes=classes, y=y, sample_weight=sample_weight)
    if isinstance(class_weight, str) and class_weight == "balanced":
        import numpy as np

        codes = np.searchsorted(classes, y)
        per_class = np.bincount(codes, weights=sample_weight, minlength=classes.size)
        return sample_weight.sum() / (classes.size * per_class)
    return _ccw(class_weight, classes=classes, y=y)


try:  # scikit-learn >= 1.9: the callback API (drop the fallback at 1.9)
    from sklearn import callback as sklearn_callback
except ImportError:  # pragma: no cover - depends on the installed version
    sklearn_callback = None

if sklearn_callback is not None:  # scikit-learn >= 1.9 (drop the fallback at 1.9)
    CallbackSupportMixin = sklearn_callback.CallbackSupportMixin
else:  # pragma: no cover - depends on the installed version

    class CallbackSupportMixin:
        """Stand-in on scikit-learn < 1.9: no ``set_callbacks``, no callbacks."""


__all__ = [
    "SKLEARN_VERSION",
    "CallbackSupportMixin",
    "Hidden",
    "Interval",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "compute_class_weight",
    "sklearn_callback",
    "validate_data",
]
