"""Fits on inputs other than one in-memory NumPy/SciPy array.

:func:`scale_out_preparation` picks, from X's type, the preparation of a dask
array (:mod:`._dask`) or of an array-API array (:mod:`._array_api`, with
``array_api_dispatch=True``); :func:`fit_scaled_out` then hands the objective it
built to the estimator's own solve step. NumPy, SciPy sparse and list input keep the
estimator's own path (the factory returns None).
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config

from .._compat import check_same_namespace


def scale_out_preparation(X):
    """``prepare(est, X, y, sample_weight) -> (objective, classes)`` or None."""
    if isinstance(X, (np.ndarray, list)) or sp.issparse(X):
        return None  # the estimator's own path: no other module to import
    from .._objective._dask import is_dask_array

    if is_dask_array(X):
        from ._dask import prepare_dask

        return prepare_dask
    from .._objective._array_api import is_array_api_input

    if is_array_api_input(X):
        from .._objective._array_api import prepare_array_api

        return prepare_array_api
    return None


def fit_scaled_out(est, prepare, X, y, sample_weight):
    """``est.fit`` on a dask or array-API X: same solvers, same attributes.

    The coefficients come back in the objective's output namespace
    (``objective.as_output``). Callbacks are not wired for these inputs.
    """
    objective, classes = prepare(est, X, y, sample_weight)
    return est._solve(objective, classes)


def scale_out_predict(est, method, X):
    """``est.<method>(X)`` for dask or array-API X, or None for NumPy X.

    ``method`` is "predict_proba" or "predict_log_proba": a lazy dask array
    for a dask X; the result in X's namespace and device for an array-API X
    (with ``array_api_dispatch=True``, which also checks that X matches the
    namespace and device of the fit).
    """
    from .._objective._dask import is_dask_array
    from ._dask import lazy_predict

    if is_dask_array(X):
        return lazy_predict(est, method, X)
    if get_config()["array_api_dispatch"]:
        check_same_namespace(X, est, attribute="coef_", method=method)
        from .._objective._array_api import is_array_api_input, predict_proba_xp

        if is_array_api_input(X):
            return predict_proba_xp(est, X, log=method == "predict_log_proba")
    return None
