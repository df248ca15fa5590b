"""The cost J: what gradient descent minimises, one implementation per array world.

``J(w, b) = (1/S) sum_i s_i L(z_i, y_i) + l2/2 ||w||^2 + l1 ||w||_1`` with the
cross-entropy ``L`` (:mod:`._loss`), the penalty (:mod:`._penalty`), the
solver's coordinates (:mod:`._coordinates`: plain, diagonal, Cholesky) and
the step bound ``L`` (:mod:`._step_bound`). Each array world has one
objective over the same interface (:class:`._interface.Objective`):
NumPy/SciPy (:mod:`._numpy`), dask (:mod:`._dask`), the array API
(:mod:`._array_api`) and many models at once for the CV (:mod:`._batched`).
Their passes over X are the compiled kernels' (:mod:`.._numerics`), except
where the array library is not NumPy: the array-API objective multiplies by
X with its namespace's own products, and the dask objective's column
moments are dask expressions.
"""
