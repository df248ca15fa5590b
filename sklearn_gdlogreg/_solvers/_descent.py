"""Gradient-descent solvers: pure functions of an objective and a start.

Both solvers take the proximal gradient step of the lecture::

    w := w - alpha * dw,    b := b - alpha * db

(:func:`._update.lecture_update`, followed by the objective's soft-threshold
when there is an L1 penalty), record ``J``
before the first update and after every update, and stop when the max-norm of
the gradient of ``J`` in the user's coordinates ``(w, b)`` (the minimum-norm
subgradient with an L1 penalty; ``objective.gradient_norm``, whatever the
solver's coordinates) is at most ``tol``, as LogisticRegression's lbfgs. They
know nothing of scikit-learn's estimator API.

Phases, as in scikit-learn's Newton solver: setup, loop (step, convergence
check, divergence check), finalize into a :class:`SolverResult`.
"""

import math

import numpy as np

from .._objective._interface import Objective
from ._result import SolverResult
from ._rules import rise_rtol, rose
from ._update import lecture_update

# Halving the step stops below this: 60 halvings above the smallest float.
_MIN_STEP = np.finfo(float).tiny * 2**60
# With alpha="auto", the accelerated solver tries each step this much longer
# than the last accepted one (and halves it when the step test fails): 1/L
# comes from the loss's global curvature bound, and near the optimum the
# curvature is often far lower. Chosen by measurement: benchmarks/README.md,
# "Tuned constants".
_GROWTH = 1.1
# ... and this much until the step test first fails (or J first rises):
# where the curvature near the optimum is far below the bound (well
# separated classes), growing by _GROWTH alone spends much of the fit
# growing the step.
_GROWTH_START = 1.5


def learning_rate(alpha, objective: Objective):
    """The step ``alpha`` of the lecture's update: the number given, or
    ``1/L`` for ``"auto"``, ``L`` the objective's curvature bound.

    Parameters
    ----------
    alpha : float or "auto"
    objective : Objective
        Provides ``lipschitz()`` (one Lanczos estimate: a few passes over X).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``L`` overflows: no stable step exists.
    """
    if alpha != "auto":
        return float(alpha)
    L = objective.lipschitz()
    if not np.isfinite(L):
        raise ValueError(
            "The curvature bound of the cost overflows for this data "
            "(features too large in magnitude), so no stable step "
            "exists: rescale X (e.g. StandardScaler), convert it to "
            "float64, or pass a float alpha."
        )
    return 1.0 / L if L > 0 else 1.0


def _log(verbose, k, J, gnorm, step):
    if verbose:
        print(
            f"iter {k:5d}  J = {J:.10g}  |grad|_max = {gnorm:.3e}  alpha = {step:.4g}"
        )


def _step_test(objective, J_new, x_new, J_y, y, model, step, rtol):
    """Whether ``x_new = prox(y - step * dy)`` passes the step test.

    The test of proximal gradient methods with backtracking (Beck & Teboulle,
    2009): the smooth part ``f = J - l1 ||w||_1`` must lie below its
    quadratic model at ``y``::

        f(x_new) <= f(y) + <dy, d> + ||d||^2 / (2 step),   d = x_new - y,

    which holds for every ``step <= 1/L``. ``model`` is
    ``(<dy, d>, ||d||^2)``, taken by the solver before the pass over X (so
    that ``d`` is not alive through it); ``rtol`` is :func:`._rules.rise_rtol` of
    the objective's dtype.

    Returns
    -------
    {"fail", "pass", "unresolved"}
        ``"unresolved"`` when the model's quadratic term is below the
        rounding of J (as in :func:`._rules.rose`): near the optimum the test
        cannot tell, and the step is then kept, neither grown nor halved.
    """
    f_new, f_y = J_new, J_y
    if objective.l1:
        f_new -= objective.nonsmooth(x_new)
        f_y -= objective.nonsmooth(y)
    linear, squared = model
    quadratic = squared / (2.0 * step)
    if rose(f_new, f_y + linear + quadratic, rtol):
        return "fail"
    return "pass" if quadratic > rtol * max(1.0, abs(f_y)) else "unresolved"


def _stop_requested(on_iter, k, theta, J):
    return on_iter is not None and bool(on_iter(k, theta, J))


def _watch(held_out, k, theta):
    """Early stopping's record of iterate ``k``, right after its pass; True: stop."""
    return held_out is not None and held_out(k, theta)


def gradient_descent(
    objective: Objective,
    theta0,
    *,
    step,
    adaptive,
    max_iter,
    tol,
    on_iter=None,
    held_out=None,
    verbose=0,
):
    """Plain (proximal) gradient descent: the lecture's update.

    Parameters
    ----------
    objective : Objective
        Provides ``new_raw``, ``value_grad_pass`` and ``prox``.
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
    held_out : HeldOutMonitor, optional
        Early stopping (:mod:`._early_stopping`): called at the start and
        after every update, right after the pass at the new iterate; True
        stops.
    verbose : int
        Print one line per iteration when > 0.

    Returns
    -------
    SolverResult
    """
    theta = theta0
    del theta0  # the caller's only reference: free it after the first update
    Z = objective.new_raw()  # raw predictions, reused by every pass
    J, dtheta = objective.value_grad_pass(theta, Z)  # dtheta = (dw, db)
    _watch(held_out, 0, theta)
    rtol = rise_rtol(objective.dtype)
    history = [J]
    best = (J, theta)
    converged = diverged = False
    k = 0
    gnorm = objective.gradient_norm(theta, dtheta)
    while k < max_iter:
        if gnorm <= tol:
            converged = True
            break
        theta_new = objective.prox(lecture_update(theta, dtheta, step), step)
        # One pass over X: J and the gradient at theta_new together.
        J_new, dtheta_new = objective.value_grad_pass(theta_new, Z)
        if adaptive and rose(J_new, J, rtol):
            step /= 2.0  # L was underestimated: backtrack, redo the update
            if step < _MIN_STEP:
                break
            continue
        k += 1
        history.append(J_new)
        theta, J, dtheta = theta_new, J_new, dtheta_new
        gnorm = objective.gradient_norm(theta, dtheta)
        _log(verbose, k, J, gnorm, step)
        stop = _watch(held_out, k, theta)
        if not adaptive and rose(J, history[0], rtol):
            diverged = True
            break
        if stop:
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
    objective: Objective,
    theta0,
    *,
    step,
    adaptive,
    max_iter,
    tol,
    on_iter=None,
    held_out=None,
    verbose=0,
):
    """Nesterov's accelerated (proximal) gradient, FISTA for L1.

    Momentum ``y = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})`` with adaptive
    restart on the function value (O'Donoghue & Candes, 2015): an update that
    would raise ``J`` is rejected, the momentum is reset and the next update
    is a plain gradient step from the current point, so ``cost_history`` never
    increases. If even a plain step raises ``J``, the step is too large:
    declared divergent for a fixed alpha, halved when ``adaptive`` (which
    the step test below nearly always catches first).

    With ``adaptive`` (``alpha="auto"``) the step adapts to the local
    curvature, as in FISTA with backtracking (Beck & Teboulle, 2009) whose
    step may also grow (Scheinberg, Goldfarb & Bai, 2014): every update first
    tries a step :data:`_GROWTH` times the last one (:data:`_GROWTH_START`
    times until the first halving), with
    ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2 alpha_k / alpha_{k+1})) / 2``, and
    halves it while the update fails the step test of
    :func:`_step_test` (each halving costs one pass over X).

    Each iteration costs one pass over X, as plain gradient descent: the
    raw predictions at ``y`` are extrapolated from those at the iterates
    (``X @ theta`` is linear; for CSR X, binary, each row's two products
    are made from one read of it instead, and no raw predictions are kept),
    so ``J(x_{k+1})``, ``J(y_{k+1})`` and the gradient at ``y_{k+1}`` come
    out of the same pass. A restart costs one more pass.

    Parameters and returns are those of :func:`gradient_descent`; ``step``
    is the first step (``1/L`` for ``alpha="auto"``).
    """
    x = theta0
    del theta0  # as in gradient_descent
    Zx, Z_new = objective.new_raw(), objective.new_raw()
    J, dy = objective.value_grad_pass(x, Zx)
    _watch(held_out, 0, x)
    rtol = rise_rtol(objective.dtype)
    y, J_y, t = x, J, 1.0
    plain = True  # y == x: the next update is a plain gradient step
    growth = _GROWTH_START if adaptive else 1.0
    used = step  # the step of the last accepted update
    history = [J]
    converged = diverged = False
    k = 0
    while k < max_iter:
        gnorm = objective.gradient_norm(y, dy)  # at y: at x after a plain step
        if plain and gnorm <= tol:
            converged = True
            break
        x_new = objective.prox(lecture_update(y, dy, step), step)
        d = x_new - y
        # The step test's inner products, now: d need not live through the
        # pass (on sparse data such as D3 each such vector is 0.7% of X).
        model = (objective.vdot(dy, d), objective.vdot(d, d)) if adaptive else None
        del d
        # The next update may try step * growth: theta = 1/growth.
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t / growth))
        beta = (t - 1.0) / t_new  # a Python float: keeps float32 float32
        y_new = x_new + beta * (x_new - x)
        # J(x_new), and J and the gradient at y_new, in one pass.
        J_new, dy_new, J_y_new = objective.value_grad_pass(
            x_new, Z_new, momentum=(beta, y_new, Zx)
        )
        test = "unresolved"  # a fixed alpha is never tested
        if adaptive:
            test = _step_test(objective, J_new, x_new, J_y, y, model, step, rtol)
        rose_ = rose(J_new, J, rtol)
        if plain and rose_ and not adaptive:  # a fixed alpha too large
            k += 1
            history.append(J_new)
            _watch(held_out, k, x_new)
            diverged = True
            break
        if test == "fail" or (plain and rose_):
            step /= 2.0  # too long for the local curvature: redo from y
            growth = _GROWTH  # the start's fast growth ends
            if step < _MIN_STEP:
                break
            continue
        if rose_:
            # Adaptive restart: drop the momentum, step plainly from x (the
            # gradient at x: one more pass, which rewrites Zx = X @ x as is).
            y, J_y, t, plain = x, J, 1.0, True
            _, dy = objective.value_grad_pass(y, Zx)
            continue
        k += 1
        history.append(J_new)
        _log(verbose, k, J_new, gnorm, step)
        x, y, J, t, plain = x_new, y_new, J_new, t_new, False
        dy, J_y = dy_new, J_y_new
        Zx, Z_new = Z_new, Zx  # Z_new now holds X @ x: keep it, reuse the other
        used = step
        if test == "pass":
            step *= growth
        if _watch(held_out, k, x) or _stop_requested(on_iter, k, x, J):
            break
        if gnorm <= tol:
            # Small at y, the point before this update: check it at x, which
            # is returned (one more pass, into the free buffer); if not, the
            # descent goes on as it would have.
            _, dx = objective.value_grad_pass(x, Z_new)
            if objective.gradient_norm(x, dx) <= tol:
                converged = True
                break
    return SolverResult(
        x, np.asarray(history, dtype=np.float64), k, converged, diverged, used
    )


SOLVERS = {"gd": gradient_descent, "nesterov": accelerated_gradient}
