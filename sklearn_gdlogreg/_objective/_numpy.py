"""The cost J (defined below), its gradient, proximal step and step bound.

Coefficient layout
------------------
The solvers see one 2-D array ``theta`` of shape ``(n_dof, n_out)``:
rows ``0 .. n_features - 1`` hold the weights ``w`` (one column per output,
``n_out = 1`` for binary, ``n_classes`` for multinomial) and, when
``fit_intercept``, the last row holds the intercept ``b``. Raw predictions are
``Z = X @ w + b`` of shape ``(n_samples, n_out)``.

The cost, with ``s_i`` the sample weights and ``S = sum_i s_i``::

    J(w, b) = (1/S) sum_i s_i L(z_i, y_i)
              + l2/2 ||w||_2^2 + l1 ||w||_1,
    l2 = (1 - l1_ratio) / (C S),   l1 = l1_ratio / (C S).

Diagonal preconditioner
-----------------------
With ``mean``/``scale`` per feature, the solvers work in standardized
coordinates ``theta' = (w', b')`` related to the original ones by::

    w = w' / scale,    b = b' - mean . w

so that ``X @ w + b = ((X - mean) / scale) @ w' + b'``: gradient descent on
implicitly centred and scaled features, while X itself is never touched and
the penalty stays on the original ``w`` (same minimiser). Without the
preconditioner ``mean = 0`` and ``scale = 1``: the lecture's plain step.

Cholesky preconditioner
-----------------------
``w = R^{-T} w'``, ``b = b' - mean . w`` with ``R`` the Cholesky factor of the
weighted covariance of X plus ``(l2 / c) I``: implicitly whitened features,
for which ``1/c`` is an exact step bound (see :mod:`._preconditioner`).
Dense X and L2 only.
"""

import numpy as np
import scipy.sparse as sp

from .._numerics import FusedPass, weighted_column_moments
from ._coordinates import (
    CholeskyPreconditioner,
    check_cholesky_applicable,
    diagonal_coordinates,
    original_gradient,
)
from ._interface import ObjectiveBase
from ._loss import CURVATURE_BOUND, loss_sum
from ._penalty import soft_threshold
from ._step_bound import RTOL, default_n_vectors, lambda_max

# D1-D4 below: the benchmarks' reference data sets, defined in benchmarks/README.md
# ("Reference data and targets").


def _normalized(sample_weight, S, dtype):
    """The weights ``s_i / S`` in ``dtype``, the data term's weighted mean.

    Equal weights (no ``sample_weight``) become a read-only zero-stride view
    of one value: an n-vector less (D3: 3% of X), and the compiled passes
    read it as fast as a full one.
    """
    s = np.asarray(sample_weight)
    if s.shape[0] and (s.strides[0] == 0 or np.all(s == s[0])):
        value = np.asarray(np.float64(s[0]) / S).astype(dtype)
        return np.broadcast_to(value, s.shape)
    return (np.asarray(s, dtype=np.float64) / S).astype(dtype, copy=False)


def _held_out_rows(rows, y, weights, n_out):
    """``(rows, Y, v)``: held-out rows, their one-hot labels (one column,
    the positive class, when ``n_out`` is 1) and their weights normalised
    to sum to one, in float64."""
    y = np.asarray(y)
    Y = (y[:, None] == 1) if n_out == 1 else (y[:, None] == np.arange(n_out))
    v = np.asarray(weights, dtype=np.float64)
    return rows, Y.astype(np.float64), v / v.sum()


class LogisticObjective(ObjectiveBase):
    """Weighted, penalized cross-entropy ``J`` in solver coordinates.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data, float32 or float64; never modified or copied.
    y : ndarray of shape (n_samples,)
        Binary: 0/1 labels, of any numeric dtype (``_fit`` passes uint8).
        Multinomial: int class indices.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights ``s_i`` (sample weight times class weight).
    n_classes : int
        2 for the binary (sigmoid) model, K >= 3 for softmax.
    C : float
        Inverse regularization strength; ``np.inf`` disables the penalty.
    l1_ratio : float
        Elastic-net mixing, 0 = L2, 1 = L1.
    fit_intercept : bool
        Whether ``theta`` carries an (unpenalized) intercept row.
    preconditioner : {"diagonal", "cholesky", None}
        Work in implicitly standardized or whitened coordinates, or the plain
        ones. ``"cholesky"`` raises ValueError for sparse X, an L1 penalty or
        more than ``_preconditioner.MAX_FEATURES`` features.
    held_out : tuple (rows, y, weights), optional
        Rows of X held out for early stopping (their ``sample_weight`` is
        zero: J never sees them), their labels (as ``y``) and weights: every
        pass's raw predictions then cover them, and :meth:`held_out_cost`
        gives their weighted mean loss at the pass's point.
    """

    _chol = None  # the CholeskyPreconditioner, when preconditioner="cholesky"

    # How fitted attributes leave and warm starts enter the solver's arrays;
    # the array-API objective overrides these for its namespace and device.
    xp = np  # namespace of theta and of the fitted coefficients
    as_output = staticmethod(np.ascontiguousarray)
    to_numpy = staticmethod(np.asarray)
    history = staticmethod(np.asarray)

    def __init__(
        self,
        X,
        y,
        sample_weight,
        *,
        n_classes,
        C,
        l1_ratio,
        fit_intercept,
        preconditioner,
        held_out=None,
    ):
        self.X = X
        self.y = y
        self.dtype = X.dtype
        S = float(np.sum(sample_weight, dtype=np.float64))
        self.s = _normalized(sample_weight, S, self.dtype)
        self._set_problem(
            X.shape[1], n_classes=n_classes, fit_intercept=fit_intercept,
            C=C, l1_ratio=l1_ratio, S=S, preconditioner=preconditioner,
        )  # fmt: skip
        self._setup_preconditioner(preconditioner)
        self._fused = None  # the fused pass and its buffers, built on first use
        self._Z = None
        self._held_out = (
            None if held_out is None else _held_out_rows(*held_out, self.n_out)
        )
        self._last_Z = None  # the raw predictions written by the last pass

    def _fused_pass(self):
        if self._fused is None:
            self._fused = FusedPass(self.X, self.n_out, self.kind, self.y, self.s)
        return self._fused

    def blas_context(self):
        """The fused pass's BLAS limit (``FusedPass.blas_context``).

        Held across a whole descent, it is entered once: the passes inside
        enter it again without a call into BLAS.
        """
        return self._fused_pass().blas_context()

    def new_raw(self):
        """An uninitialized buffer for raw predictions, (n_samples, n_out).

        With no rows when the pass needs none (CSR X, binary: see
        ``FusedPass.keeps_raw``) and no rows are held out; it then receives
        nothing.
        """
        keeps = self._fused_pass().keeps_raw or self._held_out is not None
        n = self.X.shape[0] if keeps else 0
        return np.empty((n, self.n_out), dtype=self.dtype)

    @property
    def held_out_rows(self):
        """The rows held out for early stopping (None without)."""
        return None if self._held_out is None else self._held_out[0]

    def held_out_cost(self):
        """The held-out rows' weighted mean loss (no penalty), as a float.

        At the point of the last pass (its ``theta``, never Nesterov's
        extrapolated point), from the raw predictions that pass wrote: no
        pass over X of its own. Call it before the buffer the pass wrote into
        is written again.
        """
        rows, Y, v = self._held_out
        Z = self._last_Z[rows].astype(np.float64, copy=False)
        return float(loss_sum(np, Z, Y, v, self.kind))

    # ----------------------------------------------------------- setup
    def _column_moments(self):
        """Weighted mean and variance of X's columns (float64 d-vectors)."""
        return weighted_column_moments(self.X, self.s)

    def _setup_preconditioner(self, preconditioner):
        d = self.n_features
        if preconditioner == "cholesky":
            check_cholesky_applicable(self.X, self.l1)
            self._chol = CholeskyPreconditioner.from_data(
                self.X,
                self.s,
                l2=self.l2,
                curvature=CURVATURE_BOUND[self.kind],
                fit_intercept=self.fit_intercept,
            )
            self.mean, self.scale = self._chol.mean, None
            self._mean, self._scale = self.mean.astype(self.dtype)[:, None], None
            return
        if preconditioner is None:
            self.mean, self.scale, self.grad_scale = np.zeros(d), np.ones(d), np.ones(d)
        else:
            self.mean, self.scale, self.grad_scale = diagonal_coordinates(
                *self._column_moments(),
                l2=self.l2,
                curvature=CURVATURE_BOUND[self.kind],
                fit_intercept=self.fit_intercept,
            )
        # Views, not copies, for float64 X (D3: each d-vector is 0.6% of X).
        self._mean = self.mean.astype(self.dtype, copy=False)[:, None]
        self._scale = self.scale.astype(self.dtype, copy=False)[:, None]
        self._grad_scale = self.grad_scale.astype(self.dtype, copy=False)[:, None]

    # ------------------------------------------- coordinate changes
    def to_original(self, theta, out=None):
        """Map solver coordinates to ``(w, b)``: shapes (d, n_out), (n_out,).

        ``out``, a free array of w's shape and dtype, receives ``w``.
        """
        w = self._weights(theta, out=out)
        if self.fit_intercept:
            b = theta[-1] - self._mean[:, 0] @ w
        else:
            b = np.zeros(self.n_out, dtype=self.dtype)
        return w, b

    def _weights(self, theta, out=None):
        """The ``w`` of :meth:`to_original` alone (the penalty's argument).

        ``out``, a free array of w's shape and dtype, receives it.
        """
        if self._chol is None:
            return np.divide(theta[: self.n_features], self._scale, out=out)
        w = self._chol.to_original(theta[: self.n_features])
        if out is None:
            return w.astype(self.dtype, copy=False)
        np.copyto(out, w)
        return out

    def from_original(self, w, b):
        """Map ``(w, b)`` to solver coordinates (inverse of to_original)."""
        if self._chol is None:
            rows = [w * self._scale]
        else:
            rows = [self._chol.from_original(w)]
        if self.fit_intercept:
            rows.append((b + self._mean[:, 0] @ w)[None, :])
        return np.concatenate(rows).astype(self.dtype, copy=False)

    # ------------------------------------------------ value, gradient
    def penalty(self, theta, w=None):
        """``l2/2 ||w||^2 + l1 ||w||_1`` on the original weights.

        ``w``, when given, is ``to_original(theta)[0]`` already computed.
        """
        if w is None:
            w = self._weights(theta)
        w = w.astype(np.float64, copy=False)
        return 0.5 * self.l2 * float(np.vdot(w, w)) + self.nonsmooth(theta, w)

    def nonsmooth(self, theta, w=None):
        """``l1 ||w||_1``, the part of ``J`` the proximal step handles.

        ``w``, when given, is ``to_original(theta)[0]`` already computed.
        """
        if not self.l1:
            return 0.0
        if w is None:
            w = self._weights(theta)
        return self.l1 * float(np.abs(w).sum(dtype=np.float64))

    def value(self, theta):
        """``J`` at ``theta``; one fused pass over X."""
        return self.value_grad(theta)[0]

    def value_grad(self, theta):
        """``J`` and the smooth gradient at ``theta``; one fused pass over X."""
        if self._Z is None:
            self._Z = self.new_raw()  # scratch, only for callers of value_grad
        return self.value_grad_pass(theta, self._Z)

    def value_grad_pass(self, theta, Z, momentum=None):
        """``J`` at ``theta`` and a smooth gradient, in one pass over X.

        Parameters
        ----------
        theta : ndarray of shape (n_dof, n_out)
        Z : ndarray of shape (n_samples, n_out) or (0, n_out)
            Output buffer (see :meth:`new_raw`): receives ``X @ w + b`` at
            ``theta`` when it has rows.
        momentum : tuple (beta, theta_y, Z_prev), optional
            Take the gradient at the extrapolated point
            ``theta_y = theta + beta * (theta - theta_prev)`` instead, from
            the raw predictions ``Z + beta * (Z - Z_prev)`` (``X @ theta`` is
            linear; ``Z_prev`` holds them at ``theta_prev``): what Nesterov's
            method needs, without a second pass. Where :meth:`new_raw` has
            no rows (CSR, binary), the pass computes ``X @ theta_y`` row by
            row instead, from the same read of each row.

        Returns
        -------
        value : float
            ``J(theta)``.
        grad : ndarray of shape (n_dof, n_out)
            Gradient of the smooth part, in solver coordinates.
        value_y : float
            Only with ``momentum``: ``J`` at the extrapolated point, from the
            same pass (the accelerated solver's step-size test needs it).
        """
        pass_ = self._fused_pass()
        self._last_Z = Z
        with pass_.blas_context():  # small products: no BLAS threads
            if momentum is not None and not pass_.keeps_raw:
                return self._extrapolating_pass(pass_, theta, momentum, Z)
            w, b = self.to_original(theta)
            if momentum is None:
                data, _, G, db = pass_(w, b, Z)
                value = data + self.penalty(theta, w)
                return value, self._solver_gradient(theta, G, db, w)
            beta, theta_y, Z_prev = momentum
            data, data_y, G, db = pass_(w, b, Z, Z_prev, beta)
            value = data + self.penalty(theta, w)
            # w is free now: it takes w_y (on D3 a d-vector is 0.7% of X).
            w_y = self._weights(theta_y, out=w)
            value_y = data_y + self.penalty(theta_y, w_y)
            return value, self._solver_gradient(theta_y, G, db, w_y), value_y

    def _extrapolating_pass(self, pass_, theta, momentum, Z):
        """:meth:`value_grad_pass` with momentum, ``X @ theta_y`` computed
        row by row in the pass (CSR binary: no raw predictions kept, unless
        ``Z`` has rows, for the held-out cost)."""
        beta, theta_y, _ = momentum
        # Both points' weights side by side: one gather per nonzero reads both.
        W2 = np.empty((self.n_features, 2), self.dtype)
        w, b = self.to_original(theta, out=W2[:, :1])
        w_y, b_y = self.to_original(theta_y, out=W2[:, 1:])
        data, data_y, G, db = pass_.at_point_and_extrapolation(
            W2, b, b_y, beta, Z if Z.shape[0] else None
        )
        value = data + self.penalty(theta, w)
        value_y = data_y + self.penalty(theta_y, w_y)
        return value, self._solver_gradient(theta_y, G, db, w_y), value_y

    def _solver_gradient(self, theta, G, db, w=None):
        """Chain rule from ``G = X.T @ R``, ``db = sum R`` to solver coords.

        ``w``, when given, is ``to_original(theta)[0]`` already computed, and
        is overwritten (used as scratch).
        """
        if w is None:
            w = self._weights(theta)
        # Written into one preallocated array (in the precision of db,
        # float64) and into w: on sparse data such as D3, each d-sized
        # temporary is 0.6% of X, and five of them showed in the fit's peak.
        grad = np.empty((self.n_dof, self.n_out), np.result_type(G, db))
        dw = grad[: self.n_features]
        # dJ/dw in original coordinates is G + l2 w; the chain rule through
        # w = w'/scale (or R^{-T} w'), b = b' - mean . w makes it
        # (G + l2 w - mean db) / scale (or R^{-1} (...)), times grad_scale
        # (0 for constant columns: see diagonal_coordinates).
        np.multiply(self._mean, db, out=dw)
        np.subtract(G, dw, out=dw)
        w *= self.l2
        dw += w
        if self._chol is None:
            dw *= self._grad_scale
        else:
            dw[...] = self._chol.chain(dw)
        if self.fit_intercept:
            grad[-1] = db
        return grad.astype(self.dtype, copy=False)

    # ------------------------------------------------- solver helpers
    def gradient_norm(self, theta, dtheta):
        """Max-norm of J's gradient in the user's coordinates: what ``tol`` bounds.

        From the solver's gradient ``dtheta`` at ``theta``, without a pass
        over X (see :func:`._preconditioner.original_gradient`; with an L1
        penalty, the minimum-norm subgradient).
        """
        d = self.n_features
        dw = dtheta[:d]
        if self._chol is not None:
            dw, scale = self._chol.unchain(dw), 1.0
        else:
            scale = self._scale
        db = dtheta[-1] if self.fit_intercept else None
        w = self._weights(theta) if self.l1 else None
        g = original_gradient(dw, db, scale=scale, mean=self._mean, w=w, l1=self.l1)
        norm = float(np.abs(g).max()) if d else 0.0
        # db has n_out entries: a Python max is cheaper than two NumPy calls.
        return max(norm, *map(abs, db.tolist())) if db is not None else norm

    def max_abs(self, a):
        """``max |a|`` as a float (0 for an empty array)."""
        return float(np.abs(a).max(initial=0.0))

    def vdot(self, a, b):
        """``sum(a * b)`` as a float."""
        return float(np.vdot(a, b))

    # --------------------------------------------------------- prox
    def prox(self, theta, step):
        """Proximal step of the L1 penalty: soft-threshold the weights.

        In solver coordinates ``l1 ||w' / scale||_1`` is separable, with
        threshold ``step * l1 / scale_j`` per feature. The intercept row is
        never penalized.
        """
        if self.l1 == 0.0:
            return theta
        out = theta.copy()
        w = out[: self.n_features]
        threshold = (step * self.l1) / self._scale
        np.copyto(w, soft_threshold(w, threshold))
        return out

    # --------------------------------------------------- step bound
    def lipschitz(self, n_vectors=None, max_iter=12, rtol=RTOL):
        """Estimate of ``L``, the curvature bound of the smooth part of J.

        ``L = c * lambda_max(A^T diag(s) A) + l2 * max(1 / scale^2)`` with
        ``A = [(X - mean)/scale, 1]`` and ``c`` the per-sample curvature bound
        of the loss (1/4 for sigmoid, 1/2 for softmax). ``lambda_max`` is the
        largest Ritz value of a block Krylov (Lanczos) subspace grown by
        ``n_vectors`` directions per fused pass over X (the products with all
        of them share the pass; default 2 for dense X, 1 for sparse or small
        X),
        stopped when it moves by less than ``rtol``:
        never a dense eigendecomposition of anything larger than the small
        projected matrix. A step ``alpha <= 1/L`` decreases J at every
        iteration; ``alpha > 2/L`` may diverge. (The Ritz value approaches
        ``lambda_max`` from below; the curvature bound ``c`` is loose by far
        more, and the solvers backtrack should J ever rise.)

        With the Cholesky preconditioner ``L = c`` exactly, without a pass
        over X: the whitened, centred columns have identity weighted Gram
        matrix (L2 term included) and are weighted-orthogonal to the
        intercept column (see :mod:`._preconditioner`).
        """
        if self._chol is not None:
            return CURVATURE_BOUND[self.kind]
        d, p = self.n_features, self.n_dof
        if n_vectors is None:
            n_vectors = default_n_vectors(self.X.shape, sp.issparse(self.X))
        k = min(n_vectors, p)
        pass_ = FusedPass(self.X, k, "weighted", None, self.s)
        # Buffers reused by every pass (D3: an n-vector is 3% of X; CSR needs
        # none). The pass reads the coefficients as Ut.T, an F-ordered (d, k)
        # view: no copy.
        Z = np.empty((self.X.shape[0] if pass_.keeps_raw else 0, k), self.dtype)
        Ut = np.zeros((k, d), dtype=self.dtype)
        c = np.zeros(k, dtype=self.dtype)
        f64 = self.dtype == np.float64

        def gram_times(V):  # A^T diag(s) A V, one fused pass over X
            m = V.shape[1]
            Ut[m:], c[m:] = 0.0, 0.0  # the pass has k columns
            for j in range(m):  # u = v / scale in float64, as elsewhere
                u = np.divide(V[:d, j], self.scale, out=Ut[j] if f64 else None)
                Ut[j] = u
                c[j] = V[d, j] - self.mean @ u if self.fit_intercept else 0.0
            del u
            with pass_.blas_context():
                _, _, G, colsum = pass_(Ut.T, c, Z)
            out = np.empty((p, m))
            for j in range(m):  # (G - mean * colsum) / scale, in place
                col = out[:d, j]
                np.multiply(self.mean, -colsum[j], out=col)
                col += G[:, j]
                col /= self.scale
            if self.fit_intercept:
                out[d] = colsum[:m]
            return out

        lam = lambda_max(gram_times, p, n_vectors, max_iter, rtol)
        return self._curvature_bound(lam)
