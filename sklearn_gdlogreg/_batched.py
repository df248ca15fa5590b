"""Gradient descent for many logistic models on the same rows, all at once.

The models are the columns of one coefficient array ``theta`` of shape
``(n_dof, n_models, n_out)``: for model ``j``, ``theta[:, j, :]`` is laid out
as in :mod:`._objective` (rows ``0 .. n_features - 1`` the weights ``w``, the
last row the intercept ``b`` when ``fit_intercept``; ``n_out = 1`` for
binary, ``n_classes`` for multinomial). One iteration of all of them costs
two matrix products over X, whatever the number of models::

    Z = X @ W + b           (n_samples, n_models * n_out)
    G = X.T @ R + l2 * W    R = s * dL/dZ, the weighted residuals

For dense X both run block of rows by block of rows (each block of X is read
from memory once; its ``Z`` is turned into ``R`` in place, in cache, with
``exp`` computed once per entry and shared by the loss and the sigmoid),
and the blocks are shared among threads.

Which rows a model trains on is said by its column of ``weights``: the
normalised sample weights ``s_ij / S_j`` of its training rows, zero on the
rows it must not see (a cross-validation fold's held-out rows), so no fold
copies X. Each model has its own step ``alpha_j``, penalty ``l2_j, l1_j``
(``1/(C S_j)`` with its own ``C`` and training weight sum ``S_j``), and stops
on its own: when its gradient max-norm reaches ``tol``, or when ``J`` rises
above its starting value (divergence). A stopped model leaves the batch.

Per model this is exactly :func:`._solvers.gradient_descent` with a fixed
step and no preconditioner (the lecture's update), so each column's iterates,
cost history and iteration count are those of ``GDLogisticRegression`` fitted
on that model's rows alone, up to floating-point summation order.
"""

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from ._loss import CURVATURE_BOUND

# Same rule as _solvers: J has risen when it exceeds its reference by more
# than rounding.
_RISE_RTOL = 1e-12
# Rows per block: a block of X (100 features: 1.6 MiB), its Z for 40 models
# (640 KiB) and one scratch array of Z's size stay in cache.
_BLOCK_ROWS = 2048
# Factors in [1, 2] multiplied before one log (see _weighted_log1p).
_PRODUCT_ROWS = 512


class BatchedObjective:
    """The cost ``J`` of SPEC section 1 for ``n_models`` models at once.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data shared by all models; never modified or copied.
    y : ndarray of shape (n_samples,)
        Binary: 0/1 labels in X's dtype. Multinomial: int class indices.
    weights : ndarray of shape (n_samples, n_models)
        Column ``j``: model ``j``'s sample weights divided by their sum, zero
        on rows the model does not train on. X's dtype.
    n_classes : int
        2 for sigmoid models, K >= 3 for softmax models.
    l2, l1 : ndarray of shape (n_models,)
        Penalty strengths ``(1 - l1_ratio)/(C S_j)`` and ``l1_ratio/(C S_j)``.
    fit_intercept : bool
        Whether ``theta`` carries an (unpenalized) intercept row.
    mean, scale : ndarray of shape (n_features, n_models), default=None
        Each model's diagonal preconditioner, as in :mod:`._objective`
        (``w = w' / scale``, ``b = b' - mean . w``); None: the plain step.
    n_threads : int, default=1
        Threads sharing the row blocks of dense X (NumPy's ufuncs and BLAS
        release the GIL); give BLAS one thread then.
    """

    def __init__(
        self,
        X,
        y,
        weights,
        *,
        n_classes,
        l2,
        l1,
        fit_intercept,
        mean=None,
        scale=None,
        n_threads=1,
    ):
        self.X, self.y, self.weights = X, y, weights
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.n_classes = n_classes
        self.n_out = 1 if n_classes == 2 else n_classes
        self.l2 = np.asarray(l2, dtype=np.float64)
        self.l1 = np.asarray(l1, dtype=np.float64)
        self.fit_intercept = fit_intercept
        self.mean, self.scale = mean, scale
        self.n_threads = n_threads
        self._chunks, self._buffers = None, {}
        self._precompute()
        if scale is not None:
            self._mean = mean.astype(self.dtype)[:, :, None]
            self._scale = scale.astype(self.dtype)[:, :, None]

    def _precompute(self):
        """Per-model constants of the binary loss, computed once."""
        self._train_mask = self._column_weight = None
        if self.n_out != 1:
            return
        self._half_minus_y = (0.5 - self.y).astype(self.dtype)
        s_c = self.weights * self._half_minus_y[:, None]
        self._lin_w = np.asarray(self.X.T @ s_c, dtype=np.float64)
        self._lin_b = s_c.sum(axis=0, dtype=np.float64)
        column_weight = self.weights.max(axis=0)
        train = self.weights > 0
        # Products of 512 factors in [1, 2] need float64's range (2**1024).
        uniform = np.all((self.weights == column_weight) | ~train)
        if uniform and self.dtype == np.float64:
            self._train_mask = train.astype(self.dtype)
            self._column_weight = column_weight.astype(np.float64)

    @property
    def n_dof(self):
        """Number of rows of ``theta``."""
        return self.n_features + int(self.fit_intercept)

    def subset(self, keep):
        """The objective of the models ``keep`` (boolean mask) only."""
        sub = copy.copy(self)
        sub._chunks, sub._buffers = None, {}
        for name in ("weights", "_train_mask", "_lin_w", "_mean", "_scale"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, np.ascontiguousarray(value[:, keep]))
        for name in ("l2", "l1", "_lin_b", "_column_weight"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, value[keep])
        if self.scale is not None:
            sub.mean, sub.scale = self.mean[:, keep], self.scale[:, keep]
        return sub

    def to_original(self, theta):
        """Solver coordinates to ``(w, b)``: shapes (d, m, n_out), (m, n_out)."""
        d = self.n_features
        w = theta[:d]
        if self.scale is not None:
            w = w / self._scale
        if not self.fit_intercept:
            return w, np.zeros(theta.shape[1:], dtype=self.dtype)
        b = theta[d]
        if self.scale is not None:
            b = b - np.einsum("jm,jmk->mk", self._mean[:, :, 0], w)
        return w, b

    def from_original(self, w, b):
        """``(w, b)`` to solver coordinates (inverse of :meth:`to_original`)."""
        if self.scale is not None:
            if self.fit_intercept:
                b = b + np.einsum("jm,jmk->mk", self._mean[:, :, 0], w)
            w = w * self._scale
        rows = [w, b[None]] if self.fit_intercept else [w]
        return np.concatenate(rows).astype(self.dtype, copy=False)

    def penalty(self, theta):
        """``l2/2 ||w||^2 + l1 ||w||_1`` per model, shape (n_models,)."""
        w = self.to_original(theta)[0].astype(np.float64)
        return 0.5 * self.l2 * np.sum(w * w, axis=(0, 2)) + self.l1 * np.sum(
            np.abs(w), axis=(0, 2)
        )

    def value_grad(self, theta):
        """``J`` per model and the gradient of its smooth part.

        Dense X, row block by row block (a block of X is read from memory
        once, and its ``Z`` never leaves the cache)::

            Z = X_blk @ W + b;  per-sample loss;  R = s * dL/dZ (in place)
            dW += X_blk.T @ R;  db += sum(R)

        with the blocks shared among ``n_threads`` threads. Sparse X: one
        product ``X @ W``, the per-sample work by blocks, one ``X.T @ R``.

        Returns
        -------
        J : ndarray of shape (n_models,), float64
        grad : ndarray of shape (n_dof, n_models, n_out)
            ``(dw, db)`` for every model, in X's dtype.
        """
        d, n_models = self.n_features, theta.shape[1]
        w, b = self.to_original(theta)
        W, b = np.ascontiguousarray(w).reshape(d, -1), b.reshape(-1)
        if sp.issparse(self.X):
            loss, dw, db = self._sparse_pass(W, b)
        else:
            loss, dw, db = self._dense_pass(W, b)
        if self.n_out == 1:  # the linear part of the binary loss
            loss += np.einsum("jm,jm->m", self._lin_w, W) + self._lin_b * b
        J = loss + self.penalty(theta)
        dw = dw.reshape(d, n_models, self.n_out)
        dw += self.l2.astype(self.dtype)[:, None] * w
        db = db.reshape(1, n_models, self.n_out)
        if self.scale is not None:  # chain rule through w = w'/scale, b = ...
            dw = (dw - self._mean * db) / self._scale
        grad = [dw, db] if self.fit_intercept else [dw]
        return J, np.concatenate(grad).astype(self.dtype, copy=False)

    def _dense_pass(self, W, b):
        """Loss and gradient sums over all rows, in ``n_threads`` chunks."""
        if self._chunks is None:  # block-aligned row ranges, one per thread
            n_blocks = -(-self.X.shape[0] // _BLOCK_ROWS)
            n_threads = max(1, min(self.n_threads, n_blocks))
            bounds = np.linspace(0, n_blocks, n_threads + 1).astype(int)
            self._chunks = [
                (start * _BLOCK_ROWS, min(stop * _BLOCK_ROWS, self.X.shape[0]))
                for start, stop in pairwise(bounds)
            ]
        if len(self._chunks) == 1:
            return self._dense_rows(W, b, *self._chunks[0])
        with ThreadPoolExecutor(len(self._chunks)) as pool:
            parts = list(pool.map(lambda c: self._dense_rows(W, b, *c), self._chunks))
        return tuple(sum(part[i] for part in parts) for i in range(3))

    def _dense_rows(self, W, b, start, stop):
        """Loss, ``X.T @ R`` and ``sum(R)`` over rows ``start:stop``."""
        if start not in self._buffers:  # this chunk's, reused every iteration
            shape = (min(_BLOCK_ROWS, stop - start), W.shape[1])
            self._buffers[start] = (
                np.empty(shape, dtype=self.dtype),
                np.empty(shape, dtype=self.dtype),
                np.empty_like(W),
                np.ones(shape[0], dtype=self.dtype),
            )
        Z, work, dW_blk, ones = self._buffers[start]
        loss, dW, db = np.zeros(self.weights.shape[1]), np.zeros_like(W), 0.0
        for first in range(start, stop, _BLOCK_ROWS):
            rows = slice(first, min(first + _BLOCK_ROWS, stop))
            X_blk = self.X[rows]
            k = X_blk.shape[0]
            R = np.matmul(X_blk, W, out=Z[:k])
            loss += self._per_sample(R, b, rows, work[:k])
            dW += np.matmul(X_blk.T, R, out=dW_blk)
            db += ones[:k] @ R
        return loss, dW, db

    def _sparse_pass(self, W, b):
        """Loss and gradient sums: ``X @ W`` and ``X.T @ R`` over all rows."""
        R = np.ascontiguousarray(self.X @ W)
        work = np.empty((_BLOCK_ROWS, R.shape[1]), dtype=self.dtype)
        loss = np.zeros(self.weights.shape[1])
        for first in range(0, R.shape[0], _BLOCK_ROWS):
            rows = slice(first, first + _BLOCK_ROWS)
            loss += self._per_sample(R[rows], b, rows, work[: R[rows].shape[0]])
        return loss, np.asarray(self.X.T @ R), R.sum(axis=0)

    def _per_sample(self, Z, b, rows, work):
        """Weighted loss of ``rows`` per model; ``Z`` becomes ``s * dL/dZ``."""
        Z += b
        if self.n_out == 1:
            return self._binary_block(Z, rows, work)
        return self._multinomial_block(Z.reshape(Z.shape[0], -1, self.n_out), rows)

    def _binary_block(self, z, rows, work):
        """Binary loss (less its linear part) and residual on one row block.

        With ``e = exp(-|z|)`` computed once per sample and ``d = 1 + e``::

            L(z, y)    = log(d) + |z|/2 + (1/2 - y) z
            sigmoid(z) = 1/2 + copysign(1/d - 1/2, z)

        The last term of ``L`` is linear in ``(w, b)``: its weighted sum is
        ``lin_w . w + lin_b b`` (added by :meth:`value_grad`), precomputed,
        so it costs nothing per sample.
        """
        s = self.weights[rows]
        e = np.abs(z, out=work)
        loss = 0.5 * np.einsum("ij,ij->j", s, e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        loss += self._weighted_log1p(e, s, rows)
        np.reciprocal(e, out=e)  # e held 1 + e: now 1/d
        e -= 0.5
        np.copysign(e, z, out=z)
        z += self._half_minus_y[rows, None]
        z *= s
        return loss

    def _weighted_log1p(self, e, s, rows):
        """``sum_i s_ij log(1 + e_ij)`` per model; leaves ``1 + e`` in ``e``.

        When each model's nonzero weights are all equal (no sample or class
        weights: ``s_ij = c_j`` on its training rows) and X is float64, the
        sum of logs is taken as the log of products of ``_PRODUCT_ROWS``
        factors in [1, 2] (at most 2**512, no overflow): one ``log`` per 512
        samples instead of one per sample, at the price of <= 511 roundings
        per product, an error ~1e-13 on a sum of 512 terms.
        """
        if self._train_mask is None:
            e += 1.0
            return np.einsum("ij,ij->j", s, np.log(e))
        e *= self._train_mask[rows]  # held-out rows: factor 1
        e += 1.0
        n_full = e.shape[0] // _PRODUCT_ROWS * _PRODUCT_ROWS
        groups = e[:n_full].reshape(-1, _PRODUCT_ROWS, e.shape[1])
        total = np.log(np.multiply.reduce(groups, axis=1)).sum(axis=0)
        if n_full < e.shape[0]:
            total += np.log(np.multiply.reduce(e[n_full:], axis=0))
        return self._column_weight * total

    def _multinomial_block(self, z, rows):
        """Multinomial loss and ``s * (softmax - Y)`` on one row block.

        ``z`` has shape (block_rows, n_models, K). logsumexp and softmax come
        from one ``exp``, after subtracting the row max.
        """
        s, y = self.weights[rows], self.y[rows]
        idx = np.arange(z.shape[0])
        z_max = z.max(axis=2, keepdims=True)
        z_y = z[idx, :, y] - z_max[:, :, 0]
        z -= z_max
        np.exp(z, out=z)
        total = z.sum(axis=2, keepdims=True)
        loss = np.einsum("ij,ij->j", s, np.log(total[:, :, 0]) - z_y)
        z /= total  # softmax
        z[idx, :, y] -= 1
        z *= s[:, :, None]
        return loss

    def prox(self, theta, step):
        """Soft-threshold every model's weights by ``step_j * l1_j``."""
        if not np.any(self.l1 > 0):
            return theta
        out = theta.copy()
        w = out[: self.n_features]
        threshold = (step * self.l1).astype(self.dtype)[:, None]
        if self.scale is not None:
            threshold = threshold / self._scale
        np.copyto(w, np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0))
        return out


@dataclass
class BatchedResult:
    """What :func:`batched_gradient_descent` returns, one entry per model.

    Attributes
    ----------
    theta : ndarray of shape (n_dof, n_models, n_out)
        Final coefficients (for a diverged model: its lowest-cost iterate).
    cost_histories : list of ndarray
        ``J`` at the start and after every update, one array per model.
    n_iter : ndarray of shape (n_models,), int
    converged, diverged : ndarray of shape (n_models,), bool
    """

    theta: np.ndarray
    cost_histories: list
    n_iter: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray


class _Active:
    """Mutable state of the models still descending (compacted on removal)."""

    def __init__(self, objective, theta, step):
        self.objective = objective
        self.cols = np.arange(theta.shape[1])
        self.theta = theta
        self.step = np.asarray(step, dtype=np.float64)
        self.J, self.dtheta = objective.value_grad(theta)
        self.J0 = self.J.copy()
        self.best_J, self.best_theta = self.J.copy(), theta.copy()

    def keep_only(self, keep):
        self.objective = self.objective.subset(keep)
        for name in ("cols", "theta", "step", "J", "dtheta", "J0", "best_J"):
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
        A model stops when its (proximal) gradient max-norm is <= tol.

    Returns
    -------
    BatchedResult
    """
    n_models = theta0.shape[1]
    out = BatchedResult(
        theta0.copy(),
        [None] * n_models,
        np.zeros(n_models, dtype=int),
        np.zeros(n_models, dtype=bool),
        np.zeros(n_models, dtype=bool),
    )
    state = _Active(objective, theta0, step)
    histories = [[J] for J in state.J]
    k = 0
    while k < max_iter and state.cols.size:
        step_b = state.step.astype(state.theta.dtype)[:, None]
        theta_new = state.objective.prox(
            state.theta - step_b * state.dtheta, state.step
        )
        diff = np.abs(state.theta - theta_new).astype(np.float64)
        gnorm = np.max(diff, axis=(0, 2), initial=0.0) / state.step
        done = gnorm <= tol
        if done.any():
            out.converged[state.cols[done]] = True
            _finish(out, state, done, state.theta, k)
            theta_new = theta_new[:, ~done]
            if not state.cols.size:
                break
        J, dtheta = state.objective.value_grad(theta_new)
        k += 1
        for col, value in zip(state.cols, J):
            histories[col].append(value)
        state.theta, state.J, state.dtheta = theta_new, J, dtheta
        rose = ~np.isfinite(J) | (
            J > state.J0 + _RISE_RTOL * np.maximum(1.0, np.abs(state.J0))
        )
        better = ~rose & (J < state.best_J)
        state.best_J[better] = J[better]
        state.best_theta[:, better] = theta_new[:, better]
        if rose.any():
            out.diverged[state.cols[rose]] = True
            _finish(out, state, rose, state.best_theta, k)
    _finish(out, state, np.ones(state.cols.size, dtype=bool), state.theta, k)
    out.cost_histories = [np.asarray(h, dtype=np.float64) for h in histories]
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


def diagonal_preconditioner(X, weights, l2, *, n_classes, fit_intercept):
    """Per-model ``mean`` and ``scale`` of ``_objective``'s diagonal step.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    weights : ndarray of shape (n_samples, n_models)
        Normalised weights, as given to :class:`BatchedObjective`.
    l2 : ndarray of shape (n_models,)
    n_classes : int
    fit_intercept : bool

    Returns
    -------
    mean, scale : ndarray of shape (n_features, n_models), float64
        Weighted column means and ``sqrt(var + l2 / c)``, as
        ``LogisticObjective`` computes them for each model's weights alone.
        Models with the same weights share one computation.
    """
    unique, inverse = np.unique(weights, axis=1, return_inverse=True)
    mean, var = _weighted_moments(X, unique.astype(np.float64))
    mean, var = mean[:, inverse.ravel()], var[:, inverse.ravel()]
    if not fit_intercept:  # the shift cannot be absorbed in b
        var, mean = var + mean**2, np.zeros_like(mean)
    scale = np.sqrt(
        var + l2 / CURVATURE_BOUND["binary" if n_classes == 2 else "multinomial"]
    )
    scale[scale == 0.0] = 1.0
    return mean, scale


def _weighted_moments(X, S):
    """Weighted mean and (two-pass, for dense X) variance of X's columns."""
    mean = np.asarray(X.T @ S, dtype=np.float64)
    if sp.issparse(X):
        sq = X.multiply(X).T @ S  # E[x^2] - mean^2: sparse data is never centred
        return mean, np.maximum(np.asarray(sq) - mean**2, 0.0)
    var = np.zeros_like(mean)
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        for f in range(S.shape[1]):
            centred = X[rows] - mean[:, f]
            var[:, f] += S[rows, f] @ (centred * centred)
    return mean, var
