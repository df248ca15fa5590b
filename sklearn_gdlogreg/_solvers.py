"""Gradient-descent solvers: pure functions of an objective and a start.

Both solvers take the proximal gradient step of the lecture::

    w := w - alpha * dw,    b := b - alpha * db

(followed by soft-thresholding when there is an L1 penalty), record ``J``
before the first update and after every update, and stop when the max-norm of
the (proximal) gradient ``(theta - prox(theta - alpha * grad)) / alpha`` is at
most ``tol``. They know nothing of scikit-learn's estimator API.

Phases, as in scikit-learn's Newton solver: setup, loop (step, convergence
check, divergence check), finalize into a :class:`SolverResult`.
"""

from dataclasses import dataclass

import numpy as np

# An update is deemed to have raised J when it does so by more than rounding.
_RISE_RTOL = 1e-12
_MAX_HALVINGS = 60


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    theta : ndarray of shape (n_dof, n_out)
        Final coefficients, in the objective's (solver) coordinates.
    cost_history : ndarray of shape (n_iter + 1,)
        ``J`` at the start and after every update.
    n_iter : int
        Number of updates performed.
    converged : bool
        Whether the (proximal) gradient max-norm reached ``tol``.
    diverged : bool
        Whether a fixed step made ``J`` blow up (see :func:`gradient_descent`).
    step : float
        The step size finally used (``alpha_``).
    """

    theta: np.ndarray
    cost_history: np.ndarray
    n_iter: int
    converged: bool
    diverged: bool
    step: float


def _rose(J_new, J_ref):
    return not np.isfinite(J_new) or J_new > J_ref + _RISE_RTOL * max(1.0, abs(J_ref))


def _log(verbose, k, J, gnorm, step):
    if verbose:
        print(
            f"iter {k:5d}  J = {J:.10g}  |grad|_max = {gnorm:.3e}  alpha = {step:.4g}"
        )


def _stop_requested(on_iter, k, theta, J):
    return on_iter is not None and bool(on_iter(k, theta, J))


def gradient_descent(
    objective, theta0, *, step, adaptive, max_iter, tol, on_iter=None, verbose=0
):
    """Plain (proximal) gradient descent: the lecture's update.

    Parameters
    ----------
    objective : LogisticObjective
        Provides ``raw_prediction``, ``value_grad_from_raw`` and ``prox``.
    theta0 : ndarray of shape (n_dof, n_out)
        Starting point, in solver coordinates.
    step : float
        The learning rate ``alpha``.
    adaptive : bool
        True for ``alpha="auto"``: ``step`` is ``1/L``, and should an update
        ever raise ``J`` (only possible if ``L`` was underestimated) the step
        is halved and the update redone, so ``J`` never increases. False for
        a user's fixed alpha: the update is exactly the lecture's, and the
        fit stops as diverged once ``J`` is not finite or exceeds its
        starting value (a stable step can never do that).
    max_iter, tol : int, float
        Stopping rules.
    on_iter : callable, optional
        ``on_iter(k, theta, J) -> bool`` after update ``k``; True stops.
    verbose : int
        Print one line per iteration when > 0.

    Returns
    -------
    SolverResult
    """
    theta = theta0
    J, dtheta = objective.value_grad(theta)  # dtheta = (dw, db)
    history = [J]
    best = (J, theta)
    converged = diverged = False
    k = 0
    while k < max_iter:
        theta_new = objective.prox(theta - step * dtheta, step)
        gnorm = float(np.max(np.abs(theta - theta_new), initial=0.0)) / step
        if gnorm <= tol:
            converged = True
            break
        Z = objective.raw_prediction(theta_new)
        J_new, dtheta_new = objective.value_grad_from_raw(theta_new, Z)
        if adaptive and _rose(J_new, J):
            step /= 2.0  # L was underestimated: backtrack, redo the update
            if step < np.finfo(float).tiny * 2**_MAX_HALVINGS:
                break
            continue
        k += 1
        history.append(J_new)
        theta, J, dtheta = theta_new, J_new, dtheta_new
        _log(verbose, k, J, gnorm, step)
        if not adaptive and _rose(J, history[0]):
            diverged = True
            break
        if J < best[0]:
            best = (J, theta)
        if _stop_requested(on_iter, k, theta, J):
            break
    if diverged:
        theta = best[1]
    return SolverResult(
        theta, np.asarray(history, dtype=np.float64), k, converged, diverged, step
    )


def accelerated_gradient(
    objective, theta0, *, step, adaptive, max_iter, tol, on_iter=None, verbose=0
):
    """Nesterov's accelerated (proximal) gradient, FISTA for L1.

    Momentum ``y = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})`` with adaptive
    restart on the function value (O'Donoghue & Candes, 2015): an update that
    would raise ``J`` is rejected, the momentum is reset and the next update
    is a plain gradient step from the current point, so ``cost_history`` never
    increases. If even a plain step raises ``J``, the step is too large:
    halved when ``adaptive``, declared divergent for a fixed alpha.

    Each iteration costs two passes over X, as plain gradient descent: the raw
    predictions at ``y`` are extrapolated from those at the iterates
    (``X @ theta`` is linear), not recomputed.

    Parameters and returns are those of :func:`gradient_descent`.
    """
    x = theta0
    Zx = objective.raw_prediction(x)
    J, dy = objective.value_grad_from_raw(x, Zx)
    y, Zy, t = x, Zx, 1.0
    plain = True  # y == x: the next update is a plain gradient step
    history = [J]
    converged = diverged = False
    k = 0
    while k < max_iter:
        x_new = objective.prox(y - step * dy, step)
        gnorm = float(np.max(np.abs(y - x_new), initial=0.0)) / step
        if plain and gnorm <= tol:
            converged = True
            break
        Z_new = objective.raw_prediction(x_new)
        J_new = objective.value_from_raw(x_new, Z_new)
        if _rose(J_new, J):
            if plain:
                if not adaptive:
                    k += 1
                    history.append(J_new)
                    diverged = True
                    break
                step /= 2.0
                if step < np.finfo(float).tiny * 2**_MAX_HALVINGS:
                    break
                continue
            # Adaptive restart: drop the momentum, step plainly from x.
            y, Zy, t, plain = x, Zx, 1.0, True
            _, dy = objective.value_grad_from_raw(y, Zy)
            continue
        k += 1
        history.append(J_new)
        _log(verbose, k, J_new, gnorm, step)
        if plain is False and gnorm <= tol:
            x, J = x_new, J_new
            converged = True
            break
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_new
        y = x_new + beta * (x_new - x)
        Zy = Z_new + beta * (Z_new - Zx)
        x, Zx, J, t, plain = x_new, Z_new, J_new, t_new, False
        _, dy = objective.value_grad_from_raw(y, Zy)
        if _stop_requested(on_iter, k, x, J):
            break
    return SolverResult(
        x, np.asarray(history, dtype=np.float64), k, converged, diverged, step
    )


SOLVERS = {"gd": gradient_descent, "nesterov": accelerated_gradient}
