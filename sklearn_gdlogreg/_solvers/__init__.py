"""The solvers: the lecture's update, repeated until ``tol`` or ``max_iter``.

The update ``w := w - alpha * dw``, ``b := b - alpha * db`` is written once,
in :mod:`._update`; plain gradient descent and Nesterov's method
(:mod:`._descent`) and the batched CV's descent (:mod:`._batched`) all take
their steps there, and share one test of a rising ``J`` (:mod:`._rules`).
They are functions of an objective (:mod:`.._objective`) and a starting
point, and know nothing of the estimator API.
"""
