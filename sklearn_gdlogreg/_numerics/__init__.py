"""The compiled kernels and their thin wrappers: the only code that reads X.

Built at install from Cython (``*.pyx``, OpenMP ``prange`` over row ranges,
``nogil``); nothing compiles at import or at fit. :mod:`._passes` drives
them for one model (:class:`FusedPass`), :mod:`._batched_passes` for the
many models of the batched CV (:class:`BatchedPass`).
"""

from ._batched_passes import BatchedPass, batched_column_moments
from ._passes import (
    FusedPass,
    single_threaded_blas,
    weighted_column_moments,
    weighted_gram,
)

__all__ = [
    "BatchedPass",
    "FusedPass",
    "batched_column_moments",
    "single_threaded_blas",
    "weighted_column_moments",
    "weighted_gram",
]
