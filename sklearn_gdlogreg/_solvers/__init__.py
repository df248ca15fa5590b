"""The solvers: the lecture's update, repeated until ``tol`` or ``max_iter``.

Pure functions of an objective (:mod:`.._objective`) and a starting point,
returning a :class:`SolverResult`. They know nothing of the estimator API.
"""
