"""Early stopping: the held-out side of a descent.

:class:`HeldOutMonitor` records, at the start and after every update, the
held-out cost (the objective's :meth:`held_out_cost`, from the raw
predictions of the pass that just ran: no pass over X of its own) and,
when a score is given, the held-out score; it keeps the best iterate and
tells the solver to stop once ``n_iter_no_change`` updates in a row have not
improved on it, as scikit-learn's ``MLPClassifier`` and ``SGDClassifier``
do with ``early_stopping=True``.
"""

import numpy as np

from ._rules import rise_rtol, rose


class HeldOutMonitor:
    """What early stopping watches, and when it says stop.

    Parameters
    ----------
    objective : Objective
        Provides ``held_out_cost()`` (after a pass) and ``dtype``.
    n_iter_no_change : int
        Stop after this many updates without improvement.
    score : callable, optional
        ``score(theta) -> float``, higher is better: it then decides what
        is best. Without it, the held-out cost does (lower is better; an
        improvement must exceed float rounding, as in :func:`._rules.rose`).

    Attributes
    ----------
    costs, scores : list of float
        The held-out cost (and score) at the start and after every update.
    best_iter : int
        The update after which the best iterate was reached (0: the start).
    best_theta : ndarray
        That iterate, in solver coordinates.
    """

    def __init__(self, objective, *, n_iter_no_change, score=None):
        self._objective = objective
        self._n_iter_no_change = n_iter_no_change
        self._score = score
        self._rtol = rise_rtol(objective.dtype)
        self.costs, self.scores = [], []
        self.best_iter, self.best_theta, self._best = 0, None, None
        self.stopped = False  # True once it has said stop

    def __call__(self, k, theta):
        """Record iterate ``k`` (right after the pass at ``theta``); True: stop.

        Parameters
        ----------
        k : int
            Updates done (0 at the start point).
        theta : ndarray
            The iterate, in solver coordinates (kept, not copied, when best:
            the solvers never write into an iterate).

        Returns
        -------
        stop : bool
        """
        self.costs.append(self._objective.held_out_cost())
        if self._score is None:
            value = self.costs[-1]
            # Lower beyond rounding: the best "rose" above it.
            better = self._best is None or rose(self._best, value, self._rtol)
        else:
            self.scores.append(float(self._score(theta)))
            value = self.scores[-1]
            better = self._best is None or value > self._best
        if better:
            self._best, self.best_iter, self.best_theta = value, k, theta
        self.stopped = k - self.best_iter >= self._n_iter_no_change
        return self.stopped

    @property
    def best_value(self):
        """The best held-out score (or cost, without a score)."""
        return self._best

    def histories(self):
        """``(costs, scores)`` as float64 arrays (scores None without a score)."""
        scores = None if self._score is None else np.asarray(self.scores)
        return np.asarray(self.costs, dtype=np.float64), scores
