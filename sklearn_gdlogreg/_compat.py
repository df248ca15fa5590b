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

SKLEARN_VERSION = tuple(int(p) for p in sklearn.__version__.split(".")[:2])

try:  # scikit-learn >= 1.9: the callback API (drop the fallback at 1.9)
    from sklearn import callback as sklearn_callback
except ImportError:  # pragma: no cover - depends on the installed version
    sklearn_callback = None

__all__ = [
    "SKLEARN_VERSION",
    "Hidden",
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "sklearn_callback",
    "validate_data",
]
