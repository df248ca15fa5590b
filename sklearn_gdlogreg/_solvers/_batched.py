"""Gradient descent for many logistic models on the same rows, all at once.

The models are the columns of one coefficient array ``theta`` of shape
``(n_dof, n_models, n_out)``, the solver coordinates of a
:class:`.._objective._batched.BatchedObjective`, whose ``value_grad`` costs
two matrix products over X per iteration whatever the number of models
(:mod:`.._numerics._batched_passes`).

Each model has its own step ``alpha_j`` (and the objective its own penalty),
and stops on its own: when its gradient max-norm reaches ``tol``, or when
``J`` rises above its starting value (divergence). A stopped model leaves
the batch (the objective is cut down to the others: ``subset``).

Per model this is exactly :func:`._descent.gradient_descent` with a fixed
step (the lecture's update), so each column's iterates, cost history and
iteration count are those of ``GDLogisticRegression`` fitted on that model's
rows alone, up to floating-point summation order. When the objective records
held-out costs, each model's is kept at the same iterates as ``J``.
"""

import numpy as np

from ._result import SolverResult
from ._rules import rise_limits, rise_rtol
from ._update import lecture_update


class _Active:
    """Mutable state of the models still descending (compacted on removal)."""

    def __init__(self, objective, theta, step):
        self.objective = objective
        self.cols = np.arange(theta.shape[1])
        self.theta = theta
        self.step = np.asarray(step, dtype=np.float64)
        self.step_b = self.step.astype(theta.dtype)[:, None]
        self.J, self.dtheta, self.J0_held_out = objective.value_grad_held_out(theta)
        # J has risen (divergence) when above this: J0 plus rounding.
        self.J_limit = rise_limits(self.J, rise_rtol(theta.dtype))
        self.best_J, self.best_theta = self.J.copy(), theta.copy()

    def keep_only(self, keep):
        self.objective = self.objective.subset(keep)
        for name in (
            "cols",
            "theta",
            "step",
            "step_b",
            "J",
            "dtheta",
            "J_limit",
            "best_J",
        ):
            value = getattr(self, name)
            setattr(self, name, value[:, keep] if value.ndim == 3 else value[keep])
        self.best_theta = self.best_theta[:, keep]


def batched_gradient_descent(objective, theta0, *, step, max_iter, tol):
    """The lecture's update ``w := w - alpha_j dw``, ``b := b - alpha_j db``.

    Parameters
    ----------
    objective : BatchedObjective
    theta0 : ndarray of shape (n_dof, n_models, n_out)
        Starting points.
    step : ndarray of shape (n_models,)
        Each model's fixed learning rate ``alpha_j``.
    max_iter : int
    tol : float
        A model stops when the max-norm of its gradient in the user's
        coordinates is <= tol (the objective's ``gradient_norms``).

    Returns
    -------
    SolverResult
        Per model (see :class:`._result.SolverResult`); ``held_out_history``
        where the objective records held-out costs.
    """
    n_models = theta0.shape[1]
    out = SolverResult(
        theta0.copy(),
        [None] * n_models,
        np.zeros(n_models, dtype=int),
        np.zeros(n_models, dtype=bool),
        np.zeros(n_models, dtype=bool),
        np.asarray(step, dtype=np.float64),
    )
    state = _Active(objective, theta0, step)
    histories = np.full((max_iter + 1, n_models), np.nan)
    histories[0] = state.J
    # The held-out costs, where the objective records them.
    held_out = None if state.J0_held_out is None else histories.copy()
    if held_out is not None:
        held_out[0] = state.J0_held_out
    k = 0
    while k < max_iter and state.cols.size:
        done = state.objective.gradient_norms(state.theta, state.dtheta) <= tol
        if done.any():
            out.converged[state.cols[done]] = True
            _finish(out, state, done, state.theta, k)
            if not state.cols.size:
                break
        theta_new = state.objective.prox(
            lecture_update(state.theta, state.dtheta, state.step_b), state.step
        )
        J, dtheta, J_held_out = state.objective.value_grad_held_out(theta_new)
        k += 1
        histories[k, state.cols] = J
        if held_out is not None:
            held_out[k, state.cols] = J_held_out
        state.theta, state.J, state.dtheta = theta_new, J, dtheta
        rose = ~(J <= state.J_limit)  # NaN included
        better = ~rose & (J < state.best_J)
        np.copyto(state.best_J, J, where=better)
        np.copyto(state.best_theta, theta_new, where=better[:, None])
        if rose.any():
            out.diverged[state.cols[rose]] = True
            _finish(out, state, rose, state.best_theta, k)
    _finish(out, state, np.ones(state.cols.size, dtype=bool), state.theta, k)
    out.cost_history = [histories[: n + 1, j].copy() for j, n in enumerate(out.n_iter)]
    if held_out is not None:
        out.held_out_history = [
            held_out[: n + 1, j].copy() for j, n in enumerate(out.n_iter)
        ]
    return out


def _finish(out, state, mask, theta, k):
    """Record the models ``mask`` of the active set as stopped at ``k``."""
    if not mask.any():
        return
    cols = state.cols[mask]
    out.theta[:, cols] = theta[:, mask]
    out.n_iter[cols] = k
    if not mask.all():
        state.keep_only(~mask)
    else:
        state.cols = state.cols[:0]
