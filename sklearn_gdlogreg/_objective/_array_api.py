"""The cost J in any array-API namespace: torch, CuPy, array-api-strict.

With ``sklearn.set_config(array_api_dispatch=True)``, a non-NumPy X is
fitted in its own namespace and on its own device: X, the labels, the
weights, ``theta`` and every intermediate stay there; per iteration only two
scalars come back to Python (``J`` and the max-norm of the step, which the
solvers' tests need). Labels and weights are encoded once on the host (they
are 1-D), then moved to X's device. The layout, coordinates and formulas are
those of :class:`LogisticObjective` (read its module docstring); only the
array library differs. The loss and residual are :mod:`._loss`'s
namespace-generic functions.
"""

import numpy as np

from .._compat import (
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
    to_numpy,
)
from ._coordinates import (
    diagonal_coordinates,
    original_gradient,
)
from ._interface import ObjectiveBase
from ._loss import CURVATURE_BOUND, loss_and_residual, loss_sum
from ._penalty import soft_threshold
from ._step_bound import RTOL, default_n_vectors, lambda_max

_ROWS_BYTES = 1 << 26  # row chunks of about 64 MiB for the moments' temporaries


class _RawPredictions:
    """Holder of raw predictions ``Z`` (namespaces need not support ``out=``)."""

    Z = None


class ArrayAPIObjective(ObjectiveBase):
    """:class:`LogisticObjective`'s interface and math in namespace ``xp``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Float32 or float64, in namespace ``xp`` on ``device``.
    y : array of shape (n_samples,)
        Class indices (int), same namespace and device.
    s : array of shape (n_samples,)
        Non-negative sample weights, X's dtype, same namespace and device.
    n_classes, C, l1_ratio, fit_intercept, preconditioner
        As in :class:`LogisticObjective`.
    """

    def __init__(
        self, X, y, s, *, n_classes, C, l1_ratio, fit_intercept, preconditioner
    ):
        xp, _, device = get_namespace_and_device(X)
        self.xp, self.device, self.X = xp, device, X
        self.xp_dtype = X.dtype
        self.dtype = np.dtype("float32" if X.dtype == xp.float32 else "float64")
        S = float(xp.sum(s))
        self.s = s / S
        self._set_problem(
            X.shape[1], n_classes=n_classes, fit_intercept=fit_intercept,
            C=C, l1_ratio=l1_ratio, S=S, preconditioner=preconditioner,
        )  # fmt: skip
        classes = xp.arange(self.n_out if self.n_out > 1 else 2, device=device)
        Y = xp.astype(y[:, None] == classes[None, :], X.dtype)  # one-hot
        self.Y = Y[:, 1:] if self.kind == "binary" else Y
        self._setup_preconditioner(preconditioner)

    def _setup_preconditioner(self, preconditioner):
        xp, d = self.xp, self.n_features
        if preconditioner is None:
            mean = xp.zeros(d, dtype=self.xp_dtype, device=self.device)
            scale = grad_scale = xp.ones(d, dtype=self.xp_dtype, device=self.device)
        else:
            mean, scale, grad_scale = diagonal_coordinates(
                *self._column_moments(),
                l2=self.l2,
                curvature=CURVATURE_BOUND[self.kind],
                fit_intercept=self.fit_intercept,
                xp=xp,
            )
        self._mean, self._scale = mean[:, None], scale[:, None]
        self._grad_scale = grad_scale[:, None]
        self.mean, self.scale = to_numpy(mean, xp), to_numpy(scale, xp)

    def _column_moments(self):
        """Weighted mean and (two-pass) variance of X's columns, in chunks.

        Those of X minus its first row, the row added back to the mean: a
        constant column's variance is exactly zero.
        """
        xp, X, s = self.xp, self.X, self.s
        step = max(1, _ROWS_BYTES // (8 * max(self.n_features, 1)))
        n = X.shape[0]
        chunks = [slice(i, min(i + step, n)) for i in range(0, n, step)]
        shift = X[0, :]
        mean = sum(s[rows] @ (X[rows, :] - shift) for rows in chunks)
        var = sum(s[rows] @ (X[rows, :] - shift - mean) ** 2 for rows in chunks)
        return xp.asarray(mean + shift), xp.asarray(var)

    # ------------------------------------------- coordinates, conversions
    def to_original(self, theta):
        """``(w, b)`` of shapes (d, n_out), (n_out,), in ``xp``."""
        w = theta[: self.n_features, :] / self._scale
        if self.fit_intercept:
            return w, theta[-1, :] - xp_vecmat(self.xp, self._mean[:, 0], w)
        return w, self.xp.zeros(self.n_out, dtype=self.xp_dtype, device=self.device)

    def from_original(self, w, b):
        """``theta`` on the device, from ``(w, b)`` (NumPy or ``xp``)."""
        xp = self.xp
        w = xp.asarray(w, dtype=self.xp_dtype, device=self.device)
        b = xp.asarray(b, dtype=self.xp_dtype, device=self.device)
        rows = [w * self._scale]
        if self.fit_intercept:
            rows.append((b + xp_vecmat(xp, self._mean[:, 0], w))[None, :])
        return xp.concat(rows, axis=0)

    def as_output(self, a):
        """A fitted attribute: a copy, in ``xp`` on the device."""
        return self.xp.asarray(a, copy=True)

    def to_numpy(self, a):
        """A (possibly foreign) array as NumPy, for warm starts."""
        return to_numpy(a, get_namespace(a)[0])

    def history(self, cost_history):
        """``cost_history_`` in ``xp`` (scikit-learn's checks want X's namespace)."""
        dtype = _max_precision_float_dtype(self.xp, self.device)  # float64 mostly
        return self.xp.asarray(cost_history, dtype=dtype, device=self.device)

    # ------------------------------------------------ value, gradient
    def penalty_xp(self, theta):
        w, _ = self.to_original(theta)
        xp = self.xp
        return 0.5 * self.l2 * xp.sum(w * w) + self.l1 * xp.sum(xp.abs(w))

    def penalty(self, theta):
        """``l2/2 ||w||^2 + l1 ||w||_1`` as a float."""
        return float(self.penalty_xp(theta))

    def new_raw(self):
        """A holder for raw predictions (filled by :meth:`value_grad_pass`)."""
        return _RawPredictions()

    def raw_prediction(self, theta):
        """``Z = X @ w + b`` of shape (n_samples, n_out)."""
        w, b = self.to_original(theta)
        return self.X @ w + b

    def value_grad_pass(self, theta, Z, momentum=None):
        """``J`` at theta and the smooth gradient (at Nesterov's point).

        As :meth:`LogisticObjective.value_grad_pass`: ``Z`` (a holder from
        :meth:`new_raw`) receives ``X @ w + b``; with ``momentum = (beta,
        theta_y, Z_prev)`` the gradient is taken at the extrapolated point
        from extrapolated raw predictions, and J there comes back third. The
        values are the only host transfers.
        """
        Z_val = self.raw_prediction(theta)
        Z_grad, theta_grad = Z_val, theta
        if momentum is not None:
            beta, theta_grad, Z_prev = momentum
            Z_grad = Z_val + beta * (Z_val - Z_prev.Z)
        if Z is not None:
            Z.Z = Z_val
        xp, Y, s, kind = self.xp, self.Y, self.s, self.kind
        data, R = loss_and_residual(xp, Z_val, Y, s, kind, Z_grad=Z_grad)
        value = float(data + self.penalty_xp(theta))
        grad = self._solver_gradient(theta_grad, self.X.T @ R, R)
        if momentum is None:
            return value, grad
        value_y = loss_sum(xp, Z_grad, Y, s, kind) + self.penalty_xp(theta_grad)
        return value, grad, float(value_y)

    def value_from_raw(self, theta, Z):
        """``J`` at theta given its raw predictions (array or holder)."""
        Z = Z.Z if isinstance(Z, _RawPredictions) else Z
        data = loss_sum(self.xp, Z, self.Y, self.s, self.kind)
        return float(data + self.penalty_xp(theta))

    def value_grad(self, theta):
        """``J`` and the smooth gradient at ``theta``; one pass over X."""
        return self.value_grad_pass(theta, None)

    def value(self, theta):
        """``J`` at ``theta``."""
        return self.value_from_raw(theta, self.raw_prediction(theta))

    def _solver_gradient(self, theta, G, R):
        xp = self.xp
        w, _ = self.to_original(theta)
        db = xp.sum(R, axis=0)
        grad = [(G + self.l2 * w - self._mean * db[None, :]) * self._grad_scale]
        if self.fit_intercept:
            grad.append(db[None, :])
        return xp.concat(grad, axis=0)

    # ------------------------------------------------ prox, norms, bound
    def prox(self, theta, step):
        """Soft-threshold the weights (the L1 proximal step); intercept kept."""
        if self.l1 == 0.0:
            return theta
        xp, d = self.xp, self.n_features
        w = theta[:d, :]
        threshold = (step * self.l1) / self._scale
        w = soft_threshold(w, threshold, xp)
        return xp.concat([w, theta[d:, :]], axis=0)

    def gradient_norm(self, theta, dtheta):
        """As :meth:`LogisticObjective.gradient_norm`, in ``xp``."""
        d = self.n_features
        db = dtheta[d, :] if self.fit_intercept else None
        w = self.to_original(theta)[0] if self.l1 else None
        g = original_gradient(
            dtheta[:d, :], db, scale=self._scale, mean=self._mean, w=w, l1=self.l1,
            xp=self.xp,
        )  # fmt: skip
        norm = self.max_abs(g)
        return max(norm, self.max_abs(db)) if db is not None else norm

    def max_abs(self, a):
        """``max |a|`` as a float (0 for an empty array)."""
        return float(self.xp.max(self.xp.abs(a))) if a.shape[0] else 0.0

    def vdot(self, a, b):
        """``sum(a * b)`` as a float."""
        return float(self.xp.sum(a * b))

    def nonsmooth(self, theta):
        """``l1 ||w||_1`` as a float."""
        if not self.l1:
            return 0.0
        w, _ = self.to_original(theta)
        return float(self.l1 * self.xp.sum(self.xp.abs(w)))

    def lipschitz(self, n_vectors=None, max_iter=12, rtol=RTOL):
        """As :meth:`LogisticObjective.lipschitz`; products on the device."""
        xp, d = self.xp, self.n_features
        if n_vectors is None:
            n_vectors = default_n_vectors(tuple(self.X.shape))

        def gram_times(V):  # A^T diag(s) A V with A = [(X - mean)/scale, 1]
            V = xp.asarray(V, dtype=self.xp_dtype, device=self.device)
            U = V[:d, :] / self._scale
            c = (
                V[d, :] - xp_vecmat(xp, self._mean[:, 0], U)
                if self.fit_intercept
                else 0
            )
            R = self.s[:, None] * (self.X @ U + c)
            colsum = xp.sum(R, axis=0)
            rows = [(self.X.T @ R - self._mean * colsum[None, :]) / self._scale]
            if self.fit_intercept:
                rows.append(colsum[None, :])
            return to_numpy(xp.concat(rows, axis=0), xp).astype(np.float64)

        lam = lambda_max(gram_times, self.n_dof, n_vectors, max_iter, rtol)
        return self._curvature_bound(lam)


def xp_vecmat(xp, v, M):
    """``v @ M`` for a vector v and a matrix M (1-D result)."""
    return (v[None, :] @ M)[0, :]
