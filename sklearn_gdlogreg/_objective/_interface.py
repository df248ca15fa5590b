"""The interface every objective offers the solvers and the estimator, and
what every objective sets up the same way (:class:`ObjectiveBase`).

One implementation per array world: :class:`~._numpy.LogisticObjective`
(NumPy/SciPy), :class:`~._dask.DaskLogisticObjective` and
:class:`~._array_api.ArrayAPIObjective`. The solvers
(:mod:`.._solvers._descent`) are written against this protocol only. The
batched CV's :class:`~._batched.BatchedObjective` is the same cost for many
models at once, with per-model values (its own solver).

Layout: ``theta`` has shape ``(n_dof, n_out)``, the weights ``w`` in rows
``0 .. n_features - 1`` and, when ``fit_intercept``, the intercept ``b`` in
the last row, in the objective's coordinates (:mod:`._coordinates`).
"""

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._loss import CURVATURE_BOUND
from ._penalty import strengths


@runtime_checkable
class Objective(Protocol):
    """The cost ``J`` of one model, in the solver's coordinates."""

    dtype: Any  # NumPy dtype of theta (float32 or float64)
    n_features: int
    n_out: int  # 1 (binary) or n_classes (multinomial)
    fit_intercept: bool
    l1: float  # the L1 strength: a proximal step is needed when > 0
    preconditioner: Any  # the coordinates' name: None, "diagonal", "cholesky"
    xp: Any  # namespace of theta and of the fitted attributes

    # -- what the solvers use
    def new_raw(self) -> Any:
        """A buffer for raw predictions ``X @ w + b``, reused by every pass."""

    def value_grad_pass(self, theta, Z, momentum=None) -> tuple:
        """``J(theta)`` and the smooth gradient ``(dw, db)``, one pass over X.

        With ``momentum = (beta, theta_y, Z_prev)``, the gradient (and, third,
        ``J``) at Nesterov's extrapolated point ``theta_y``.
        """

    def gradient_norm(self, theta, dtheta) -> float:
        """Max-norm of J's gradient in the user's coordinates (what ``tol`` bounds)."""

    def prox(self, theta, step) -> Any:
        """The L1 penalty's proximal step (``theta`` itself without one)."""

    def nonsmooth(self, theta) -> float:
        """``l1 ||w||_1``, the part of ``J`` the proximal step handles."""

    def vdot(self, a, b) -> float:
        """``sum(a * b)`` as a float."""

    def lipschitz(self) -> float:
        """``L``, an upper bound on the curvature of J's smooth part."""

    # -- what the estimator uses
    def value_grad(self, theta) -> tuple:
        """``J(theta)`` and the smooth gradient."""

    def to_original(self, theta) -> tuple:
        """``(w, b)``, shapes ``(n_features, n_out)`` and ``(n_out,)``."""

    def from_original(self, w, b) -> Any:
        """``theta`` from ``(w, b)``: the inverse of :meth:`to_original`."""

    def as_output(self, a) -> Any:
        """A fitted attribute from an array of the objective's namespace."""

    def to_numpy(self, a) -> Any:
        """An array (a warm start's ``coef_``) as NumPy."""

    def history(self, cost_history) -> Any:
        """``cost_history_`` from the solver's float64 values."""


class ObjectiveBase:
    """What the objectives of one model share, whatever their array library."""

    def _set_problem(
        self, n_features, *, n_classes, fit_intercept, C, l1_ratio, S, preconditioner
    ):
        """The model's shape, the penalty's strengths ``1/(C S)`` and the
        coordinates' name."""
        self.preconditioner = preconditioner
        self.n_features = n_features
        self.kind = "binary" if n_classes == 2 else "multinomial"
        self.n_out = 1 if n_classes == 2 else n_classes
        self.fit_intercept = fit_intercept
        self.l2, self.l1 = strengths(C, l1_ratio, S)

    @property
    def n_dof(self):
        """Number of rows of ``theta``."""
        return self.n_features + int(self.fit_intercept)

    def _curvature_bound(self, lam):
        """``L = c * lam + l2 * max(1 / scale^2)`` from ``lam``, the largest
        eigenvalue of the Gram matrix (see ``LogisticObjective.lipschitz``)."""
        reg = self.l2 * float(np.max(1.0 / self.scale**2)) if self.n_features else 0.0
        return CURVATURE_BOUND[self.kind] * lam + reg
