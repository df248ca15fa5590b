"""The compiled kernels and their Python drivers: the code that reads NumPy, SciPy
and dask X (an array-API X is read by its own namespace: ``_objective``).

The kernels are built at install from Cython (``*.pyx``, OpenMP ``prange``
over row ranges, ``nogil``); nothing compiles at import or at fit. Their
drivers: :mod:`._passes` for one model on X in memory (:class:`FusedPass`),
:mod:`._batched_passes` for the many models of the batched CV
(:class:`BatchedPass`), :mod:`._dask_blocks` for a dask X's row blocks (the
kernels run on each block where it lives).
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
