"""Which path a fit's input takes: NumPy/SciPy, dask, or an array-API namespace.

NumPy arrays, SciPy sparse matrices, lists and anything else NumPy can read
(pandas, ...) take the in-memory path; a dask array its own (its passes run
where its blocks live); with ``sklearn.set_config(array_api_dispatch=True)``,
an array of another namespace (torch, CuPy, array-api-strict) is fitted in
that namespace, on its device.
"""

import sys

import numpy as np
import scipy.sparse as sp
from sklearn import get_config

from .._compat import get_namespace

_NUMPY_NAMES = ("numpy", "array_api_compat.numpy")


def is_dask_array(X):
    """Whether X is a dask array (without importing dask)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def is_array_api_input(X):
    """Whether X is to be fitted in its own (non-NumPy) array namespace."""
    if not get_config()["array_api_dispatch"]:
        return False
    return get_namespace(X)[0].__name__ not in _NUMPY_NAMES


def input_kind(X):
    """``"numpy"``, ``"dask"`` or ``"array-API"``: the path X takes."""
    if isinstance(X, (np.ndarray, list)) or sp.issparse(X):
        return "numpy"
    if is_dask_array(X):
        return "dask"
    if is_array_api_input(X):
        return "array-API"
    return "numpy"
