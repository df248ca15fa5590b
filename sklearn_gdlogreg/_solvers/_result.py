"""What every solver returns: one result type, for one model or many."""

from dataclasses import dataclass

import numpy as np


@dataclass
class SolverResult:
    """What a solver returns.

    For one model (:mod:`._descent`) the entries are scalars; for the
    batched CV's models (:mod:`._batched`) they are per model: arrays of
    shape (n_models,), a list of cost histories, and ``theta`` with a models
    axis, ``(n_dof, n_models, n_out)``.

    Attributes
    ----------
    theta : ndarray of shape (n_dof, n_out)
        Final coefficients, in the objective's (solver) coordinates (for a
        diverged model: its lowest-cost iterate).
    cost_history : ndarray of shape (n_iter + 1,)
        ``J`` at the start and after every update.
    n_iter : int
        Number of updates performed.
    converged : bool
        Whether the (proximal) gradient max-norm reached ``tol``.
    diverged : bool
        Whether a fixed step made ``J`` rise above its starting value.
    step : float
        The step size finally used (``alpha_``).
    held_out_history : list of ndarray or None
        Batched CV only, when asked: each model's held-out cost at the
        iterates of ``cost_history`` (see
        :meth:`.._objective._batched.BatchedObjective.value_grad_held_out`).
    """

    theta: np.ndarray
    cost_history: np.ndarray
    n_iter: int
    converged: bool
    diverged: bool
    step: float
    held_out_history: list = None
