"""The compiled kernels and their thin wrappers: the only code that reads X.

Built at install from Cython (``*.pyx``, OpenMP ``prange`` over row ranges,
``nogil``); nothing compiles at import or at fit.
"""

from ._passes import (
    FusedPass,
    single_threaded_blas,
    weighted_column_moments,
    weighted_gram,
)

__all__ = [
    "FusedPass",
    "single_threaded_blas",
    "weighted_column_moments",
    "weighted_gram",
]
