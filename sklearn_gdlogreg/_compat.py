"""Every private or version-dependent scikit-learn import, in one place.

Each entry says from which scikit-learn version it can be imported from a
public location (or dropped) so that this module can shrink over time.
"""

import numpy as np
import sklearn
from sklearn.base import _fit_context  # private; public API pending upstream
from sklearn.utils._array_api import (  # private; all in 1.6 (our minimum)
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
)
from sklearn.utils._param_validation import (  # private; stable since 1.2
    Hidden,
    Interval,
    StrOptions,
)
from sklearn.utils.multiclass import (  # private; stable since 0.16
    _check_partial_fit_first_call,
)
from sklearn.utils.validation import (
    _check_sample_weight,  # private; `ensure_non_negative` since 1.6
    validate_data,  # public since 1.6 (our minimum)
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


def to_numpy(array, xp):
    """``array`` (of namespace ``xp``) as a NumPy array on the host.

    ``sklearn.utils._array_api.move_to`` (private) where it exists,
    ``_convert_to_numpy`` on older versions such as 1.6.
    """
    if xp.__name__ in ("numpy", "array_api_compat.numpy"):
        return np.asarray(array)
    try:
        from sklearn.utils._array_api import move_to
    except ImportError:  # pragma: no cover - scikit-learn < 1.8
        from sklearn.utils._array_api import _convert_to_numpy

        return _convert_to_numpy(array, xp)
    return move_to(array, xp=np, device="cpu")


def check_same_namespace(X, estimator, *, attribute, method):
    """scikit-learn >= 1.9's check that X matches the fit's namespace/device.

    A no-op on older versions (drop the fallback at 1.9).
    """
    try:
        from sklearn.utils._array_api import check_same_namespace as check
    except ImportError:  # pragma: no cover - scikit-learn < 1.9
        return
    check(X, estimator, attribute=attribute, method=method)


__all__ = [
    "SKLEARN_VERSION",
    "CallbackSupportMixin",
    "Hidden",
    "Interval",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_max_precision_float_dtype",
    "check_same_namespace",
    "compute_class_weight",
    "get_namespace",
    "get_namespace_and_device",
    "sklearn_callback",
    "to_numpy",
    "validate_data",
]
